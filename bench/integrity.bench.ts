// Benchmark (not a test) of the log's integrity work (issue 15) on MariaDB:
//   1. verify-log with signatures over N entries (default 5,000,000; BENCH_QUERIES_N): an Ed25519
//      CHECKPOINT_KEY_FILE, a signed checkpoint for every hour along the chain and its witness file,
//      every ciphertext opened under its entry, the event chain — the command's own verifyEverything,
//      total and parts; beside it, in the same run, the same checks one after another in one thread
//      (how verify-log ran before its ciphertext check moved to worker threads). BENCH_INTEGRITY_SEQUENTIAL=0 skips that.
//   2. Recording with bound ciphertexts against the code before them: BENCH_BASELINE_ROOT names a
//      checkout of that code (`git worktree add ../base bac3f24 && ln -s "$PWD/node_modules" ../base/`);
//      both servers run as child processes on the same database and are loaded alternately, round
//      after round, by the query-log benchmark's load client. Without it only this code is measured.
// Uses the query-log benchmark's kept database (BENCH_QUERIES_KEEP=1, named by N), seeding it when
// absent. Writes its section of bench/results.md. Run through `npm run bench -- integrity`.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../server/config.ts';
import { createDb, pagesAhead, selectArrays, type Db } from '../server/db.ts';
import { headPayload, verifyLog } from '../server/queries/checkpoints.ts';
import { verifyCiphertexts } from '../server/queries/ciphertexts.ts';
import { MAX_BREAKS } from '../server/queries/chain.ts';
import { verifyEverything } from '../server/queries/index.ts';
import { verifyEvents } from '../server/events/service.ts';
import { adminDb, configFor, sizeServer } from './mariadb.ts';
import { fixture, keptFixture, seed } from './queries.bench.ts';
import { runClient, startServer, type Fixture, type LoadPhase, type Server } from './load.ts';
import { writeSection } from './results.ts';

const log = (s: string) => process.stderr.write(`[integrity bench] ${s}\n`);
const fmt = (n: number, d = 0) => n.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d });
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const HOUR = 3_600_000;

/** MariaDB's CPU seconds so far, when the server runs on this machine and its pid file is readable (else NaN). */
function mariadbCpu(): number {
  try {
    const pid = fs.readFileSync('/run/mysqld/mysqld.pid', 'utf8').trim();
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // clock ticks (USER_HZ, 100 on Linux)
  } catch {
    return NaN;
  }
}
const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

/**
 * A signed checkpoint for every hour that has entries (the hourly job's, as it would have signed
 * them along the chain), and the same lines in a witness file. Replaces what earlier runs made.
 */
async function hourlyCheckpoints(db: Db, keyFile: string, witnessDir: string): Promise<number> {
  const key = crypto.createPrivateKey(fs.readFileSync(keyFile, 'utf8'));
  const pub = crypto.createPublicKey(key);
  const keyId = crypto.hash('sha256', pub.export({ type: 'spki', format: 'der' }), 'hex');
  await db('signed_checkpoints').del();
  fs.rmSync(witnessDir, { recursive: true, force: true });
  fs.mkdirSync(witnessDir, { recursive: true });
  const witness = fs.openSync(path.join(witnessDir, 'witness-bench.jsonl'), 'w');
  let rows: Record<string, unknown>[] = [];
  let made = 0;
  const flush = async () => {
    for (let i = 0; i < rows.length; i += 500) await db('signed_checkpoints').insert(rows.slice(i, i + 500));
    rows = [];
  };
  const sign = (h: { seq: number; hash: string; at: number }) => {
    const payload = headPayload({ kind: 'hourly', seq: h.seq, hash: h.hash, count: h.seq, at: h.at });
    const signature = crypto.sign(null, Buffer.from(payload, 'utf8'), key).toString('base64');
    rows.push({ kind: 'hourly', seq: h.seq, hash: h.hash, entry_count: h.seq, signed_at: h.at, payload, key_id: keyId, signature });
    fs.writeSync(witness, JSON.stringify({ payload, keyId, signature }) + '\n');
    made++;
  };
  // The last entry of each hour is the head the hourly job would have signed at the hour's end.
  let last: { seq: number; hash: string; hour: number } | null = null;
  const fetch = (after: number) => selectArrays(db('query_logs').where('seq', '>', after).orderBy('seq').limit(20000), ['seq', 'hash', 'queried_at']);
  for await (const page of pagesAhead(fetch, (r) => Number(r[0]), 0, 20000)) {
    for (const r of page) {
      const hour = Math.floor(Number(r[2]) / HOUR);
      if (last && hour !== last.hour) sign({ seq: last.seq, hash: last.hash, at: (last.hour + 1) * HOUR + 5 * 60_000 });
      last = { seq: Number(r[0]), hash: String(r[1]), hour };
    }
    if (rows.length >= 5000) await flush();
  }
  if (last) sign({ seq: last.seq, hash: last.hash, at: Date.now() });
  await flush();
  fs.closeSync(witness);
  return made;
}

interface Recorded { perSec: number[]; cpuUsPerEntry: number[] }

export default async function bench(): Promise<void> {
  const n = Number(process.env.BENCH_QUERIES_N ?? 5_000_000);
  const dbName = `nhi_bench_queries_keep_${n}`;
  const baseline = process.env.BENCH_BASELINE_ROOT ? path.resolve(process.env.BENCH_BASELINE_ROOT) : null;
  const sequential = process.env.BENCH_INTEGRITY_SEQUENTIAL !== '0';
  const record = process.env.BENCH_INTEGRITY_RECORD !== '0';
  const verify = process.env.BENCH_INTEGRITY_VERIFY !== '0';
  const admin = adminDb();
  const size = await sizeServer(admin);
  const kept = (await admin.raw('SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?', [dbName, 'log_chain_head']))[0].length > 0;
  if (!kept) await admin.raw(`CREATE DATABASE \`${dbName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-integrity-bench-'));
  const keyFile = path.join(work, 'checkpoint.pem');
  fs.writeFileSync(keyFile, crypto.generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const witnessDir = path.join(work, 'witness');
  const cfg: Config = configFor(dbName, { CHECKPOINT_KEY_FILE: keyFile, WITNESS_DIR: witnessDir });
  const db = createDb(cfg);
  const f: Record<string, number> = { loadBefore: os.loadavg()[0] };
  const servers: Server[] = [];
  try {
    await db.migrate.latest();
    let fx: Fixture;
    if (kept) fx = await keptFixture(db);
    else {
      fx = await fixture(db);
      log(`seeding ${fmt(n)} entries (kept as ${dbName} for the query-log benchmark too)…`);
      await seed(cfg, fx, n);
      await db.raw('ANALYZE TABLE query_logs');
      await db.raw('CREATE TABLE query_logs_plain LIKE query_logs');
      await db('units').where({ code: 'BEN' }).update({ name: `效能測試機關 ${fx.target}` });
    }

    // 2 first (it appends entries), so that verify-log then covers them too.
    const rec: Record<'current' | 'baseline', Record<'batch' | 'single', Recorded>> = {
      current: { batch: { perSec: [], cpuUsPerEntry: [] }, single: { perSec: [], cpuUsPerEntry: [] } },
      baseline: { batch: { perSec: [], cpuUsPerEntry: [] }, single: { perSec: [], cpuUsPerEntry: [] } },
    };
    const rounds = record ? Number(process.env.BENCH_INTEGRITY_ROUNDS ?? 3) : 0;
    const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
    const sides: Array<['current' | 'baseline', string]> = [['current', here], ...(baseline ? [['baseline', baseline] as ['baseline', string]] : [])];
    const started = new Map<string, Server>();
    for (const [side, root] of rounds ? sides : []) {
      const s = await startServer(root, cfg.DATABASE_URL);
      servers.push(s);
      started.set(side, s);
      await runClient({ port: s.port, fixture: fx, kind: 'single', total: 50, concurrency: 1, start: 0 }); // warm-up
    }
    let start = 3_000_000 + Math.floor(Math.random() * 1_000_000);
    for (let round = 0; round < rounds; round++) {
      // Alternate which side goes first, so neither always meets the other's after-effects.
      for (const [side] of round % 2 ? [...sides].reverse() : sides) {
        const s = started.get(side)!;
        for (const phase of [{ kind: 'batch', total: 40, concurrency: 2 }, { kind: 'single', total: 3000, concurrency: 16 }] as Array<Omit<LoadPhase, 'start'> & { kind: 'batch' | 'single' }>) {
          const entries = phase.kind === 'batch' ? phase.total * 500 : phase.total;
          const cpu0 = await s.cpu();
          const r = await runClient({ port: s.port, fixture: fx, ...phase, start });
          start += entries;
          rec[side][phase.kind].perSec.push(entries / (r.ms / 1000));
          rec[side][phase.kind].cpuUsPerEntry.push(((await s.cpu()) - cpu0) * 1e6 / entries);
          log(`round ${round + 1} ${side} ${phase.kind}: ${fmt(entries / (r.ms / 1000))} entries/s`);
        }
      }
    }
    for (const s of servers.splice(0)) s.stop();

    // 1. verify-log with signatures and ciphertexts.
    if (!verify) {
      f.loadAfter = os.loadavg()[0];
      writeResults(n, f, rec, baseline, await db.raw('select version() as v').then((r: any) => r[0][0].v), size.note);
      return;
    }
    log('signing a checkpoint for every hour along the chain…');
    const t0 = performance.now();
    f.checkpoints = await hourlyCheckpoints(db, keyFile, witnessDir);
    f.checkpointSetupSeconds = (performance.now() - t0) / 1000;
    log(`${fmt(f.checkpoints)} hourly checkpoints signed and witnessed in ${fmt(f.checkpointSetupSeconds, 1)} s`);
    const witness = [witnessDir];
    const timings: Record<string, number> = {};
    let cpu = process.cpuUsage();
    let m0 = mariadbCpu();
    let tv = performance.now();
    const v = await verifyEverything(db, cfg, { witness, timings });
    f.verifySeconds = (performance.now() - tv) / 1000;
    f.verifyCpu = cpuSeconds(process.cpuUsage(cpu));
    f.verifyMariadbCpu = mariadbCpu() - m0;
    if (!v.ok) throw new Error(`verify-log failed: ${v.breaks[0]?.first}`);
    f.entries = v.log.chain.count;
    f.ciphertexts = v.ciphers.count;
    f.unbound = v.ciphers.unbound;
    f.events = v.events.count;
    f.witnessLines = v.log.witness.lines;
    f.signatures = timings.signatures ?? NaN;
    f.walk = timings.chain - f.signatures;
    f.cipherTail = timings.ciphertextsAfterChain;
    f.eventSeconds = timings.events;
    f.workers = Math.max(1, os.availableParallelism() - 1);
    log(`verify-log: ${fmt(f.entries)} entries, ${fmt(f.checkpoints)} checkpoints in ${fmt(f.verifySeconds, 1)} s`);

    if (sequential) {
      // The same checks one after another in this thread, as verify-log ran them before.
      cpu = process.cpuUsage();
      m0 = mariadbCpu();
      tv = performance.now();
      const l = await verifyLog(db, cfg, { witness });
      f.seqLogSeconds = (performance.now() - tv) / 1000;
      const c = await verifyCiphertexts(db, cfg, { maxReported: MAX_BREAKS });
      f.seqCipherSeconds = (performance.now() - tv) / 1000 - f.seqLogSeconds;
      const e = await verifyEvents(db);
      f.seqSeconds = (performance.now() - tv) / 1000;
      f.seqCpu = cpuSeconds(process.cpuUsage(cpu));
      f.seqMariadbCpu = mariadbCpu() - m0;
      if (!l.ok || c.badCount || e.breaks.length) throw new Error('the sequential verify-log found breaks');
      log(`verify-log, one check after another in one thread: ${fmt(f.seqSeconds, 1)} s`);
    }
    f.loadAfter = os.loadavg()[0];
    writeResults(n, f, rec, baseline, await db.raw('select version() as v').then((r: any) => r[0][0].v), size.note);
  } finally {
    for (const s of servers) s.stop();
    await db.destroy();
    await admin.destroy();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function writeResults(n: number, f: Record<string, number>, rec: Record<'current' | 'baseline', Record<'batch' | 'single', Recorded>>, baseline: string | null, version: string, server: string): void {
  const s = (x: number) => `${fmt(x, 1)} s`;
  const reduced = n < 5_000_000 ? `\n\n**Run at a reduced size (${fmt(n)} entries, not the 5,000,000 of the goal).**` : '';
  const measured = !Number.isNaN(f.verifySeconds ?? NaN);
  const verify = !measured ? ['Not measured in this run (BENCH_INTEGRITY_VERIFY=0).'] : [
    '| part | time | |',
    '| --- | --- | --- |',
    `| signatures: ${fmt(f.checkpoints)} signed hourly checkpoints and ${fmt(f.witnessLines)} witness lines (Ed25519), before the walk | ${s(f.signatures)} | |`,
    `| the chain walk (${fmt(f.entries)} entries hashed, through every signed head), with every ciphertext opened alongside in ${f.workers} worker thread${f.workers > 1 ? 's' : ''} | ${s(f.walk)} | |`,
    `| ciphertexts left after the walk (${fmt(f.ciphertexts)} opened under their entries${f.unbound ? `, ${fmt(f.unbound)} of them legacy unbound` : ''}) | ${s(f.cipherTail)} | |`,
    `| the event chain (${fmt(f.events)} events) | ${s(f.eventSeconds)} | |`,
    `| **verify-log in all** (\`verifyEverything\`, what the command and the daily job run) | **${s(f.verifySeconds)}** | < 60 s ${f.verifySeconds < 60 ? '✅' : '❌'} |`,
    `| CPU: this process (walk + workers) ${s(f.verifyCpu)}; MariaDB ${Number.isNaN(f.verifyMariadbCpu) ? 'not measured' : s(f.verifyMariadbCpu)} | | |`,
  ];
  if (measured && !Number.isNaN(f.seqSeconds ?? NaN)) {
    verify.push(
      `| baseline, same run: the same checks one after another in one thread (verifyLog ${s(f.seqLogSeconds)}, then verifyCiphertexts reading the log again ${s(f.seqCipherSeconds)}, then the events) | ${s(f.seqSeconds)} | |`,
      `| ratio verify-log / baseline | ${fmt((f.verifySeconds / f.seqSeconds) * 100, 1)} % (CPU: this process ${s(f.seqCpu)}, MariaDB ${Number.isNaN(f.seqMariadbCpu) ? 'not measured' : s(f.seqMariadbCpu)}) | |`,
    );
  }
  const recording: string[] = [];
  if (rec.current.batch.perSec.length) {
    const row = (label: string, kind: 'batch' | 'single') => {
      const c = rec.current[kind];
      const b = rec.baseline[kind];
      const cur = `${fmt(median(c.perSec))} entries/s (${c.perSec.map((x) => fmt(x)).join(', ')}); ${fmt(median(c.cpuUsPerEntry))} µs CPU/entry`;
      if (!b.perSec.length) return `| ${label} | ${cur} | | |`;
      const base = `${fmt(median(b.perSec))} entries/s (${b.perSec.map((x) => fmt(x)).join(', ')}); ${fmt(median(b.cpuUsPerEntry))} µs CPU/entry`;
      const ratio = median(c.perSec) / median(b.perSec);
      const cpuRatio = median(c.cpuUsPerEntry) / median(b.cpuUsPerEntry);
      return `| ${label} | ${cur} | ${base} | throughput ${fmt(ratio * 100, 1)} %, CPU per entry ${fmt(cpuRatio * 100, 1)} % ${ratio >= 0.95 ? '✅' : '❌'} |`;
    };
    recording.push(
      '| HTTP API, recording with bound ciphertexts | this code (median of rounds; each round) | baseline: the code before bound ciphertexts | this / baseline (goal: within 5 %) |',
      '| --- | --- | --- | --- |',
      row('batches of 500 (2 clients, a token each)', 'batch'),
      row('one entry per request (16 clients, a token each, closed loop)', 'single'),
    );
  }
  const body = [
    '## Log integrity: verify-log with signatures, recording with bound ciphertexts (issue 15)',
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on MariaDB ${version}; ${os.cpus().length} CPUs (nproc), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.cpus()[0]?.model ?? ''}; Node ${process.version}; ${server}; 1-minute load average ${fmt(f.loadBefore, 1)} at the start and ${fmt(f.loadAfter, 1)} at the end; \`npm run bench -- integrity\`.${reduced}`,
    '',
    `### verify-log over ${measured ? fmt(f.entries) : fmt(n)} entries, with signatures`,
    '',
    ...(measured ? [`CHECKPOINT_KEY_FILE an Ed25519 key; a signed checkpoint for every hour that has entries along the chain (${fmt(f.checkpoints)}, made in ${s(f.checkpointSetupSeconds)}) and its witness file (\`--witness\`); every subject ciphertext decrypted under its entry's associated data and its HMAC checked; the event chain.`, ''] : []),
    ...verify,
    '',
    'How it fits: the log is read once. The chain walk reads each page of 2,000 entries with their ciphertexts and hands it to `CipherPool` (`server/queries/ciphertexts.ts`), which posts it to a worker thread (one fewer than the cores, at least one) or, while the workers already hold two pages each, checks it in the walk\'s own thread; page results fold in page order, so breaks come in seq order with the same texts as before. Each distinct signature (key, payload, signature) is checked once — a witness line repeats its checkpoint\'s row — on the libuv thread pool. Before, verifyLog walked the chain and verifyCiphertexts then read the whole log a second time, all in one thread (the baseline row). On a 2-core machine the walk\'s thread, the worker and MariaDB share two cores: the total is bound by their CPU time, which the CPU row gives; other work on the machine (the load average above) adds to the wall time directly.',
    '',
    '### Recording with bound ciphertexts',
    '',
    !rec.current.batch.perSec.length
      ? 'Not measured in this run (BENCH_INTEGRITY_RECORD=0).'
      : baseline
        ? `Both servers are child processes on the same database, loaded alternately (${rec.current.batch.perSec.length} rounds, the order swapped each round) by the query-log benchmark's load client (\`bench/load.ts\`); the baseline is ${baseline} (the code before bound ciphertexts). CPU per entry is the server process's.`
        : 'This code only (a child process, loaded by `bench/load.ts`): set BENCH_BASELINE_ROOT to a checkout of the code before bound ciphertexts for the ratio.',
    '',
    ...recording,
    '',
    'Why batches were slower, and the fix (profiled with `--cpu-prof` in the server, batches of 500 over HTTP, this code and bac3f24 alternately): binding adds about 1.5 µs an entry (the entry\'s associated data and `setAAD`); the batch path\'s other additions since — text checks at the boundary and in the rules, the JSON depth scan, the Unicode check in `appendEntries` — a few µs more. The largest cost on that path was older than both: one `crypto.randomBytes(12)` call per IV, 5–15 µs each here, more than the encryption itself. IVs now come from a pooled CSPRNG buffer (`freshIv`, `server/queries/subject.ts`: 12 bytes each, never handed out twice) and the associated data is built without an intermediate object; nothing stored or hashed changes (`test/unit/subject-iv.test.ts` checks each ciphertext against a reference encryption with its IV). Single-entry requests are dominated by HTTP, the token check and the commit; there the whole app since bac3f24 is compared, not only the binding.',
  ].join('\n');
  writeSection('integrity', body);
}

const self = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (self) {
  bench().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
}
