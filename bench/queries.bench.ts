// Benchmark (not a test) of the query log on MariaDB, clause 4(一): with a table already holding N
// entries (default 5,000,000; BENCH_QUERIES_N to change), measures
//   - recording through the HTTP API with chaining and encryption, in batches of 500 and one
//     entry per request (closed loop, and paced at 300/s for the p99 latency), each against plain
//     mysql2 inserts of the same rows measured in the same run;
//   - "who queried this person?" over N entries (HTTP, as an auditor);
//   - verify-log over the whole chain.
// Writes its section of bench/results.md. Run through `npm run bench` or
//   BENCH_QUERIES_N=500000 node --import tsx bench/queries.bench.ts
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import type { Config } from '../server/config.ts';
import { createDb, parseMysqlUrl, type Db } from '../server/db.ts';
import { createApp } from '../server/app.ts';
import { DbSessionStore } from '../server/web/session-store.ts';
import { configureLocale } from '../server/web/locale.ts';
import { hashPassword } from '../server/auth/passwords.ts';
import { chainHash, GENESIS, verifyChain, type EntryFields } from '../server/queries/chain.ts';
import { encryptSubject, entryAad, generateNationalId, protectSubject } from '../server/queries/subject.ts';
import { hashToken } from '../server/queries/service.ts';
import { adminDb, configFor as benchConfig, sizeServer } from './mariadb.ts';
import { writeSection } from './results.ts';
import { agent, call, closedLoop, runClient, TOKEN, type Fixture, type LoadPhase } from './load.ts';

export type { Fixture, LoadPhase } from './load.ts';
export { runClient } from './load.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const PASSWORD = 'Bench-Passw0rd-2026';
const COLS = ['seq', 'user_id', 'account', 'unit_id', 'queried_at', 'op_code', 'scope_code', 'query_request_id', 'case_no', 'reason', 'subject_type', 'subject_hmac', 'subject_cipher', 'subject_mask', 'client_ip', 'source', 'token_id', 'prev_hash', 'hash'] as const;

const log = (s: string) => process.stderr.write(`[queries bench] ${s}\n`);
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const fmt = (n: number, d = 0) => n.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d });



export async function fixture(db: Db): Promise<Fixture> {
  const t = Date.now();
  const hash = await hashPassword(PASSWORD);
  const [plan] = await db('units').insert({ code: 'PLAN', name: '計畫處', kind: 'planning', parent_id: null, has_sections: true, status: 'active', created_at: t });
  const [unit] = await db('units').insert({ code: 'BEN', name: '效能測試機關', kind: 'agency', parent_id: plan, has_sections: true, status: 'active', require_query_request: true, created_at: t });
  const scope = (await db('scopes').where({ code: '2-1' }).first('id')).id;
  const op = (await db('op_codes').where({ code: 'IN01' }).first('id')).id;
  await db('unit_scopes').insert({ unit_id: unit, scope_id: scope, status: 'active', authorised_on: '2025-01-01', created_at: t });
  const user = async (account: string, unitId: number, role: string) => {
    const [id] = await db('users').insert({ account, name: account, unit_id: unitId, rank: 'staff', auth_source: 'local', password_hash: hash, password_changed_at: t, must_change_password: false, status: 'active', created_at: t, updated_at: t });
    await db('user_roles').insert({ user_id: id, role, granted_at: t });
    return Number(id);
  };
  const clerkId = await user('ben.clerk', Number(unit), 'clerk');
  await user('ben.auditor', Number(unit), 'auditor');
  await db('user_permissions').insert({ user_id: clerkId, scope_id: scope, op_code_id: op, granted_at: t });
  const [requestId] = await db('query_requests').insert({ unit_id: unit, requester_id: clerkId, case_no: 'BEN-1140001', purpose: '效能測試用申請單', scope_id: scope, valid_from: '2000-01-01', valid_to: '2099-12-31', status: 'approved', created_at: t });
  // One token per client, as several business systems would have: requests sharing a token
  // serialise on its last_used_at update (see the note in results.md).
  let tokenId = 0;
  for (let i = 0; i < 16; i++) {
    const [id] = await db('service_tokens').insert({ name: `bench-${i}`, unit_id: unit, user_id: clerkId, token_hash: hashToken(`${TOKEN}_${i}`), status: 'active', created_at: t });
    tokenId ||= Number(id);
  }
  return { clerkId, unitId: Number(unit), requestId: Number(requestId), tokenId, target: generateNationalId() };
}

/** The fixture of a kept benchmark database (the target person is kept in the agency's name). */
export async function keptFixture(db: Db): Promise<Fixture> {
  const unit = await db('units').where({ code: 'BEN' }).first('id', 'name');
  const clerk = await db('users').where({ account: 'ben.clerk' }).first('id');
  const form = await db('query_requests').where({ requester_id: clerk.id }).first('id');
  const token = await db('service_tokens').orderBy('id').first('id');
  return { clerkId: Number(clerk.id), unitId: Number(unit.id), requestId: Number(form.id), tokenId: Number(token.id), target: String(unit.name).split(' ')[1] };
}

/** N chained entries over the last 5 years, inserted with multi-row INSERTs (precomputed chain). */
export async function seed(cfg: Config, f: Fixture, n: number): Promise<void> {
  const conn = await mysql.createConnection({ ...parseMysqlUrl(cfg.DATABASE_URL), charset: 'utf8mb4' } as any);
  await conn.query('SET SESSION unique_checks = 0, foreign_key_checks = 0');
  const keys = { enc: cfg.subjectEncKey, hmac: cfg.SUBJECT_HMAC_KEY };
  // A population of people; the benchmark's target person is queried 40 times across the years.
  // HMAC and mask once per person; each entry's ciphertext is bound to it (entryAad), so it is made per entry.
  const person = (value: string) => ({ plain: value, ...protectSubject(keys, { type: 'national-id', value }, { user_id: f.clerkId, queried_at: 0 }) });
  const pool = Array.from({ length: 20000 }, () => person(generateNationalId()));
  const target = person(f.target);
  const start = Date.now() - 5 * 365 * 86_400_000;
  const step = Math.max(1, Math.floor((5 * 365 * 86_400_000 - 86_400_000) / n));
  let prev = GENESIS;
  const batch = 2000;
  const t0 = performance.now();
  let pending: Promise<unknown> | null = null;
  for (let i = 0; i < n; i += batch) {
    const values: unknown[][] = [];
    for (let k = i; k < Math.min(n, i + batch); k++) {
      const { plain, ...s } = k % Math.max(1, Math.floor(n / 40)) === 7 ? target : pool[k % pool.length];
      const queried_at = start + k * step;
      const subject_cipher = encryptSubject(keys.enc, plain, entryAad({ user_id: f.clerkId, queried_at, subject_type: s.subject_type, subject_hmac: s.subject_hmac }));
      const e = { seq: k + 1, user_id: f.clerkId, account: 'ben.clerk', unit_id: f.unitId, queried_at, op_code: 'IN01', scope_code: '2-1', query_request_id: f.requestId, case_no: `BEN-${1000000 + (k % 900000)}`, reason: '效能測試：個案訪視前確認投保狀態', ...s, subject_cipher, client_ip: '10.0.0.1', source: 'api', token_id: null };
      const hash = chainHash(prev, e);
      values.push(COLS.map((c) => (c === 'prev_hash' ? prev : c === 'hash' ? hash : (e as any)[c])));
      prev = hash;
    }
    if (pending) await pending;
    pending = conn.query(`INSERT INTO query_logs (${COLS.join(',')}) VALUES ?`, [values]);
    if ((i / batch) % 100 === 0) log(`seeded ${fmt(i)} / ${fmt(n)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  if (pending) await pending;
  await conn.query('UPDATE log_chain_head SET seq = ?, hash = ?, updated_at = ? WHERE id = 1', [n, prev, Date.now()]);
  await conn.end();
  log(`seeded ${fmt(n)} entries in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

export interface QueriesBenchResult { name: string; n: number; figures: Record<string, number> }

export default async function bench(): Promise<QueriesBenchResult> {
  configureLocale();
  const n = Number(process.env.BENCH_QUERIES_N ?? 5_000_000);
  // BENCH_QUERIES_KEEP=1 keeps the seeded database (named by N) for the next run, which then
  // skips seeding: for working on the figures without re-seeding millions of rows each time.
  const keep = process.env.BENCH_QUERIES_KEEP === '1';
  const dbName = keep ? `nhi_bench_queries_keep_${n}` : `nhi_bench_queries_${process.pid}`;
  const admin = adminDb();
  const kept = keep && (await admin.raw('SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?', [dbName, 'log_chain_head']))[0].length > 0;
  if (!kept) await admin.raw(`CREATE DATABASE \`${dbName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  // Searches by subject are throttled per account (30 an hour by default): the benchmark's 60 need more.
  const cfg = benchConfig(dbName, { DB_POOL_MAX: '16', SUBJECT_SEARCH_PER_HOUR: '1000' });
  const db = createDb(cfg);
  const figures: Record<string, number> = { loadBefore: os.loadavg()[0] };
  const size = await sizeServer(admin);
  let server: http.Server | undefined;
  try {
    let f: Fixture;
    if (kept) {
      await db.migrate.latest(); // a kept database from an earlier schema
      f = await keptFixture(db);
      figures.seedSeconds = NaN;
      log(`reusing ${dbName}`);
    } else {
      await db.migrate.latest();
      f = await fixture(db);
      log(`seeding ${fmt(n)} entries…`);
      const tSeed = performance.now();
      await seed(cfg, f, n);
      figures.seedSeconds = (performance.now() - tSeed) / 1000;
      await db.raw('ANALYZE TABLE query_logs');
      await db.raw('CREATE TABLE query_logs_plain LIKE query_logs');
      if (keep) await db('units').where({ code: 'BEN' }).update({ name: `效能測試機關 ${f.target}` });
    }
    await db.raw('TRUNCATE TABLE query_logs_plain');
    const baseSeq = Number((await db('log_chain_head').where({ id: 1 }).first('seq')).seq);

    const sessions = new DbSessionStore(db, 15 * 60_000);
    sessions.close();
    const app = createApp({ cfg, db, sessions });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server!.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    // The load comes from another process, as a business system's would: the server process's
    // CPU time is then its own.
    const load = (phase: LoadPhase) => runClient({ port, fixture: f, ...phase });

    // Warm-up.
    await load({ kind: 'single', total: 50, concurrency: 1, start: 0 });

    // 1. Batches of 500 through the API.
    const batches = 40;
    let cpu = process.cpuUsage();
    const b = await load({ kind: 'batch', total: batches, concurrency: 2, start: 1_000 });
    figures.httpBatchPerSec = (batches * 500) / (b.ms / 1000);
    figures.httpBatchP99Ms = pct(b.lat, 99);
    cpu = process.cpuUsage(cpu);
    figures.batchCpuMsPerEntry = (cpu.user + cpu.system) / 1000 / (batches * 500);
    log(`HTTP batches: ${fmt(figures.httpBatchPerSec)} entries/s`);

    // 2. One entry per request, closed loop (16 clients), then paced at 300/s for the latency.
    const singles = 3000;
    cpu = process.cpuUsage();
    const s1 = await load({ kind: 'single', total: singles, concurrency: 16, start: 100_000 });
    figures.httpSinglePerSec = singles / (s1.ms / 1000);
    figures.httpSingleP50Ms = pct(s1.lat, 50);
    figures.httpSingleP99Ms = pct(s1.lat, 99);
    cpu = process.cpuUsage(cpu);
    figures.singleCpuMsPerEntry = (cpu.user + cpu.system) / 1000 / singles;
    log(`HTTP one at a time: ${fmt(figures.httpSinglePerSec)} entries/s, p99 ${fmt(figures.httpSingleP99Ms, 1)} ms`);
    const pacedN = 6000;
    const s2 = await load({ kind: 'paced', total: pacedN, rate: 300, start: 200_000 });
    figures.pacedRatePerSec = pacedN / (s2.ms / 1000);
    figures.pacedN = pacedN;
    figures.pacedP50Ms = pct(s2.lat, 50);
    figures.pacedP99Ms = pct(s2.lat, 99);
    log(`HTTP paced 300/s: p50 ${fmt(figures.pacedP50Ms, 1)} ms, p99 ${fmt(figures.pacedP99Ms, 1)} ms`);

    // 3. Plain mysql2 inserts of the same rows (already chained and encrypted) into a copy table.
    const rows = await db('query_logs').where('seq', '>', baseSeq).orderBy('seq').limit(singles + batches * 500 + 50).select(COLS as unknown as string[]);
    const pool = mysql.createPool({ ...parseMysqlUrl(cfg.DATABASE_URL), charset: 'utf8mb4', connectionLimit: 8 } as any);
    const sql = `INSERT INTO query_logs_plain (${COLS.join(',')}) VALUES ?`;
    const asValues = (r: any) => COLS.map((c) => r[c]);
    const pb = await closedLoop(Math.floor(rows.length / 500), 2, async (i) => { await pool.query(sql, [rows.slice(i * 500, i * 500 + 500).map(asValues)]); });
    figures.plainBatchPerSec = (Math.floor(rows.length / 500) * 500) / (pb.ms / 1000);
    await pool.query('TRUNCATE TABLE query_logs_plain');
    const ps = await closedLoop(singles, 8, async (i) => { await pool.query(sql, [[asValues(rows[i])]]); });
    figures.plainSinglePerSec = singles / (ps.ms / 1000);
    figures.plainSingleP99Ms = pct(ps.lat, 99);
    await pool.end();
    figures.ratioBatch = figures.httpBatchPerSec / figures.plainBatchPerSec;
    figures.ratioSingle = figures.httpSinglePerSec / figures.plainSinglePerSec;

    // 4. "Who queried this person?" as an auditor over HTTP.
    const login = await call(port, 'POST', '/api/v1/auth/login', { account: 'ben.auditor', password: PASSWORD });
    if (login.status !== 204) throw new Error(`auditor login: ${login.status} ${login.body}`);
    const cookie = String((login.headers['set-cookie'] ?? [])[0] ?? '').split(';')[0];
    const csrf = JSON.parse((await call(port, 'GET', '/api/v1/me', undefined, { cookie })).body).csrfToken;
    const who: number[] = [];
    let found = 0;
    for (let i = 0; i < 60; i++) {
      const s = performance.now();
      // A reveal-class search: POST, with its purpose, recorded under the account's lock.
      const r = await call(port, 'POST', '/api/v1/query-logs/search', { subjectType: 'national-id', subjectId: f.target, purpose: '效能測試：受理當事人查詢', limit: 100 }, { cookie, 'x-csrf-token': csrf });
      who.push(performance.now() - s);
      if (r.status !== 200) throw new Error(`who: ${r.status} ${r.body.slice(0, 200)}`);
      found = JSON.parse(r.body).total;
    }
    figures.whoP50Ms = pct(who.slice(10), 50);
    figures.whoP99Ms = pct(who.slice(10), 99);
    figures.whoFound = found;
    log(`who queried: p50 ${fmt(figures.whoP50Ms, 1)} ms (${found} entries)`);

    // 5. verify-log over the whole chain.
    const tv = performance.now();
    const v = await verifyChain(db);
    figures.verifySeconds = (performance.now() - tv) / 1000;
    if (!v.ok) throw new Error(`chain does not verify: ${JSON.stringify(v)}`);
    figures.verifyCount = v.count;
    log(`verify-log: ${fmt(v.count)} entries in ${fmt(figures.verifySeconds, 1)} s`);

    figures.loadAfter = os.loadavg()[0];
    writeResults(n, figures, await db.raw('select version() as v').then((r: any) => r[0][0].v), size.note);
    return { name: 'query log', n, figures };
  } finally {
    if (server) await new Promise((r) => server!.close(r));
    agent.destroy();
    await db.destroy();
    if (!keep) await admin.raw(`DROP DATABASE IF EXISTS \`${dbName}\``);
    await admin.destroy();
  }
}

function writeResults(n: number, f: Record<string, number>, version: string, server: string): void {
  const mark = (ok: boolean) => (ok ? '✅' : '❌');
  const reduced = n < 5_000_000 ? `\n\n**Run at a reduced size (${fmt(n)} entries, not the 5,000,000 of the goal)** — set \`BENCH_QUERIES_N=5000000\` for the full run.` : '';
  const body = [
    '## Query log (clause 4(一))',
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on MariaDB ${version}; ${os.cpus().length} CPUs (nproc), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.cpus()[0]?.model ?? ''}; Node ${process.version}. The app (one process), the load client (another process) and MariaDB share the machine; ${server}; 1-minute load average ${fmt(f.loadBefore, 1)} at the start and ${fmt(f.loadAfter, 1)} at the end (other work on the machine inflates every latency).${reduced}`,
    '',
    Number.isNaN(f.seedSeconds) ? `Table seeded with ${fmt(n)} chained entries by an earlier run (BENCH_QUERIES_KEEP=1), plus what earlier runs recorded.` : `Table seeded with ${fmt(n)} chained entries (multi-row INSERTs with a precomputed chain) in ${fmt(f.seedSeconds)} s.`,
    '',
    '| measure | result | goal | |',
    '| --- | --- | --- | --- |',
    `| HTTP API, batches of 500 (2 clients, a Bearer token each, chained + encrypted) | ${fmt(f.httpBatchPerSec)} entries/s (p99 ${fmt(f.httpBatchP99Ms)} ms per batch) | ≥ 1,000 entries/s | ${mark(f.httpBatchPerSec >= 1000)} |`,
    `| plain mysql2 multi-row INSERT of the same rows (2 clients) | ${fmt(f.plainBatchPerSec)} rows/s | | |`,
    `| ratio HTTP / plain, batches | ${fmt(f.ratioBatch * 100, 1)} % | | |`,
    `| HTTP API, one entry per request (16 clients with a token each, closed loop) | ${fmt(f.httpSinglePerSec)} entries/s, p50 ${fmt(f.httpSingleP50Ms, 1)} ms, p99 ${fmt(f.httpSingleP99Ms, 1)} ms | ≥ 300 entries/s | ${mark(f.httpSinglePerSec >= 300)} |`,
    `| HTTP API, one entry per request paced at 300/s (${fmt(f.pacedN)} requests, achieved ${fmt(f.pacedRatePerSec)}/s) | p50 ${fmt(f.pacedP50Ms, 1)} ms, p99 ${fmt(f.pacedP99Ms, 1)} ms | p99 < 50 ms | ${mark(f.pacedP99Ms < 50)} |`,
    `| plain mysql2 single-row INSERT (autocommit, 8 clients) | ${fmt(f.plainSinglePerSec)} rows/s, p99 ${fmt(f.plainSingleP99Ms, 1)} ms | | |`,
    `| ratio HTTP / plain, one at a time | ${fmt(f.ratioSingle * 100, 1)} % | | |`,
    `| CPU time of the app process per entry | batches ${fmt(f.batchCpuMsPerEntry, 2)} ms, one at a time ${fmt(f.singleCpuMsPerEntry, 2)} ms (an unstarved core would serve about ${fmt(1000 / f.singleCpuMsPerEntry)} single-entry requests/s) | | |`,
    `| "who queried this person?" over HTTP (auditor, ${f.whoFound} matches) | p50 ${fmt(f.whoP50Ms, 1)} ms, p99 ${fmt(f.whoP99Ms, 1)} ms | < 50 ms | ${mark(f.whoP99Ms < 50)} |`,
    `| verify-log over the whole chain (${fmt(f.verifyCount)} entries) | ${fmt(f.verifySeconds, 1)} s | < 60 s | ${mark(f.verifySeconds < 60)} |`,
    '',
    'Notes: each client has its own service token (a token\'s `last_used_at` is written at most once a minute). Concurrent appends are group-committed (requests arriving while an append commits are appended together next, each answered after its commit).',
    '',
    'Every API entry is validated (case number, reason, checksum, permission, request form), its subject HMAC-ed and AES-256-GCM encrypted, and appended under the chain-head row lock in one transaction acknowledged after commit; the plain baseline inserts the finished rows only.',
  ].join('\n');
  writeSection('queries', body);
}

const self = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (self) {
  bench().then((r) => { console.log(JSON.stringify(r)); process.exit(0); }, (e) => { console.error(e); process.exit(1); });
}
