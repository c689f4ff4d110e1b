// `npm run soak` (not part of CI): the real server under 200 concurrent signed-in sessions that
// record query-log entries and browse, for a bounded time. Reports errors (must be 0), latency
// percentiles, throughput and whether the server's memory stays flat, in bench/results.md between
// <!-- bench:soak --> markers; exits 1 when any request failed or the chain does not verify.
//
//   npm run soak                                   200 sessions, 5 minutes, MariaDB at MYSQL_URL if reachable, else SQLite
//   SOAK_MINUTES=1 SOAK_SESSIONS=50 npm run soak   shorter / smaller
//   SOAK_DB=sqlite npm run soak                    force the embedded database
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { cli } from '../test/support/cli.ts';
import { Client, Recorder, seedDemo, startServerProcess } from '../test/support/server-process.ts';
import { writeSection } from './results.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const MINUTES = Number(process.env.SOAK_MINUTES ?? 5);
const SESSIONS = Number(process.env.SOAK_SESSIONS ?? 200);
const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const PASSWORD = 'Soak-Passw0rd-2026';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function database(): Promise<{ env: Record<string, string>; label: string; drop: () => Promise<void> }> {
  const want = process.env.SOAK_DB;
  if (want !== 'sqlite') {
    try {
      const c = await mysql.createConnection({ uri: MYSQL_URL, connectTimeout: 3000 });
      const name = `nhi_soak_${crypto.randomBytes(4).toString('hex')}`;
      await c.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
      const [[v]] = (await c.query('select version() as v')) as any;
      await c.end();
      const u = new URL(MYSQL_URL);
      u.pathname = `/${name}`;
      return {
        env: { DB_CLIENT: 'mysql', DATABASE_URL: u.toString(), DB_POOL_MAX: '20' },
        label: `MariaDB ${v.v}`,
        drop: async () => {
          const d = await mysql.createConnection({ uri: MYSQL_URL });
          await d.query(`DROP DATABASE IF EXISTS \`${name}\``);
          await d.end();
        },
      };
    } catch (e) {
      if (want === 'mysql') throw e;
    }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-soak-'));
  return { env: { DB_CLIENT: 'sqlite', DATABASE_URL: path.join(dir, 'soak.sqlite') }, label: 'SQLite', drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
}

const rssOf = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
};
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  const num = points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0);
  const den = points.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  return den ? num / den : 0;
}

async function main(): Promise<number> {
  const db = await database();
  const env = { ...db.env, LOGIN_RATE_PER_MINUTE: '1000', SESSION_IDLE_MINUTES: '15', LOG_LEVEL: 'warn' };
  console.log(`soak: ${SESSIONS} sessions for ${MINUTES} min on ${db.label}; seeding the demo county…`);
  const accounts = await seedDemo(env, PASSWORD);
  const clerks = accounts.filter((a) => a.roles.includes('clerk')).map((a) => a.account);
  const readers = accounts.filter((a) => a.roles.some((r) => ['supervisor', 'auditor', 'checker'].includes(r))).map((a) => a.account);
  const server = await startServerProcess({ env });
  const pid = server.child.pid!;
  try {
    // Three in four sessions are clerks recording (and now and then reading their list); the rest browse.
    const nClerks = Math.round(SESSIONS * 0.75);
    const unusable = new Set<string>();
    const sessions: Array<{ kind: 'clerk' | 'reader'; client: Client | Recorder }> = [];
    for (let i = 0; i < SESSIONS; i += 20) {
      const batch = await Promise.all(Array.from({ length: Math.min(20, SESSIONS - i) }, async (_, k) => {
        const n = i + k;
        if (n < nClerks) {
          // Demo clerks without a permission (or an open form) cannot record: take the next one.
          for (let j = 0; j < clerks.length; j++) {
            const account = clerks[(n + j) % clerks.length];
            if (unusable.has(account)) continue;
            try {
              return { kind: 'clerk' as const, client: await new Recorder(server.base, `soak${n}`, { keepAlive: true }).prepare(account, PASSWORD) };
            } catch {
              unusable.add(account);
            }
          }
          throw new Error('no demo clerk can record');
        }
        const c = new Client(server.base, { keepAlive: true });
        await c.signIn(readers[n % readers.length], PASSWORD);
        return { kind: 'reader' as const, client: c };
      }));
      sessions.push(...batch);
    }
    console.log(`soak: ${sessions.length} sessions signed in; running…`);

    const latencies: Record<string, number[]> = { record: [], browse: [] };
    const errors = new Map<string, number>();
    const memory: Array<[number, number]> = [];
    const started = Date.now();
    const end = started + MINUTES * 60_000;
    const sampler = setInterval(() => memory.push([(Date.now() - started) / 1000, rssOf(pid)]), 5000);
    memory.push([0, rssOf(pid)]);
    let recorded = 0;
    const fail = (what: string) => errors.set(what, (errors.get(what) ?? 0) + 1);
    const timed = async (kind: 'record' | 'browse', label: string, call: () => Promise<{ status: number }>, ok: (s: number) => boolean) => {
      const t0 = performance.now();
      try {
        const r = await call();
        latencies[kind].push(performance.now() - t0);
        if (!ok(r.status)) fail(`${label} → ${r.status}`);
        return r;
      } catch (e) {
        fail(`${label} → ${(e as Error).message}`);
        return null;
      }
    };
    await Promise.all(sessions.map(async ({ kind, client }, n) => {
      await sleep((n % 20) * 50); // spread the start
      while (Date.now() < end) {
        if (kind === 'clerk' && Math.random() < 0.8) {
          const r = await timed('record', 'POST /api/v1/query-logs', () => (client as Recorder).record(), (s) => s === 201);
          if (r?.status === 201) recorded++;
        } else {
          const pick = Math.random();
          if (pick < 0.5) await timed('browse', 'GET /api/v1/query-logs', () => client.request('GET', '/api/v1/query-logs?limit=20'), (s) => s === 200);
          else if (pick < 0.8) await timed('browse', 'GET /query-logs', () => client.request('GET', '/query-logs', undefined, { accept: 'text/html' }), (s) => s === 200);
          else await timed('browse', 'GET /', () => client.request('GET', '/', undefined, { accept: 'text/html' }), (s) => s === 200);
        }
        await sleep(200 + Math.random() * 300); // think time
      }
    }));
    clearInterval(sampler);
    memory.push([(Date.now() - started) / 1000, rssOf(pid)]);
    const seconds = (Date.now() - started) / 1000;

    const verify = await cli(['verify-log'], env);
    if (verify.code !== 0) fail(`verify-log exit ${verify.code}`);
    const all = [...latencies.record, ...latencies.browse].sort((a, b) => a - b);
    const rec = [...latencies.record].sort((a, b) => a - b);
    const brw = [...latencies.browse].sort((a, b) => a - b);
    const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
    // Memory: the first minute is warm-up (caches, JIT); compare the rest by its trend.
    const steady = memory.filter(([s]) => s >= Math.min(60, seconds / 3));
    const perMinute = slope(steady) * 60;
    const first = steady[0]?.[1] ?? memory[0][1];
    const last = memory[memory.length - 1][1];
    // Growing means a rising trend after warm-up that also ends above where it started; GC saw-teeth are not growth.
    const flat = perMinute < 5 * 2 ** 20 || last <= first * 1.1;
    const row = (name: string, s: number[]) => `| ${name} | ${s.length.toLocaleString('en')} | ${pct(s, 50).toFixed(0)} ms | ${pct(s, 95).toFixed(0)} ms | ${pct(s, 99).toFixed(0)} ms | ${(s[s.length - 1] ?? 0).toFixed(0)} ms |`;
    const section = [
      '<!-- bench:soak -->',
      `## Soak: ${SESSIONS} concurrent sessions (\`npm run soak\`)`,
      '',
      `Measured ${new Date().toISOString().slice(0, 10)} on ${db.label} (${os.cpus().length} CPUs, Node ${process.version}, load average ${os.loadavg()[0].toFixed(1)} at the end): ` +
        `${sessions.length} signed-in sessions (${nClerks} clerks recording with think time 200–500 ms, the rest browsing lists and pages) for ${(seconds / 60).toFixed(1)} min against one server process.`,
      '',
      `**Errors: ${errorCount}** (must be 0)${errorCount ? ' — ' + [...errors].map(([k, v]) => `${k}: ${v}`).join('; ') : ''}. ` +
        `Entries recorded: ${recorded.toLocaleString('en')} (${(recorded / seconds).toFixed(1)}/s); \`verify-log\` afterwards: ${verify.code === 0 ? 'intact' : 'FAILED'}.`,
      '',
      '| requests | count | p50 | p95 | p99 | max |',
      '| --- | --- | --- | --- | --- | --- |',
      row('all', all),
      row('record (POST /api/v1/query-logs)', rec),
      row('browse (lists, pages)', brw),
      '',
      `Server memory (RSS): ${mb(memory[0][1])} at the start, ${mb(first)} after warm-up, ${mb(last)} at the end; trend after warm-up ${(perMinute / 2 ** 20).toFixed(1)} MB/min — ${flat ? 'no growth' : 'GROWING: investigate'}.`,
      `Samples (s → MB): ${memory.filter((_, i) => i % Math.max(1, Math.floor(memory.length / 12)) === 0).map(([s, b]) => `${s.toFixed(0)}→${(b / 2 ** 20).toFixed(0)}`).join(', ')}.`,
      '<!-- /bench:soak -->',
    ].join('\n');
    writeSection('soak', section);
    console.log(section);
    return errorCount === 0 && flat ? 0 : 1;
  } finally {
    await server.kill('SIGTERM');
    await db.drop();
  }
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(1);
});
