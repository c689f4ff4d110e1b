// Benchmark (not a test) of reconciliation on MariaDB (issue 16): one agency's month with
// BENCH_RECONCILE_N entries (default 1,000,000) by 200 clerks and as many source records (98 % of
// them an entry's query a few minutes off, 1 % unlogged, 1 % of another clerk's account nobody
// linked), against a bare read of both tables (the same rows, plain key-ordered pages, nothing
// done with them). Each side runs in a child process of its own, so its peak RSS is its own.
// Writes its section of bench/results.md. `npm run bench -- reconcile`, or
//   BENCH_RECONCILE_N=200000 node --import tsx bench/reconcile.bench.ts
// BENCH_RECONCILE_KEEP=1 keeps the seeded database; BENCH_RECONCILE_REUSE=1 then measures it again
// without seeding (migrations still run, so a new index is built on the kept rows).
import os from 'node:os';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import crypto from 'node:crypto';
import mysql from 'mysql2/promise';
import { createDb, parseMysqlUrl } from '../server/db.ts';
import { runReconciliation } from '../server/reconcile/results.ts';
import { monthRange } from '../server/time.ts';
import { adminDb, configFor, sizeServer } from './mariadb.ts';
import { writeSection } from './results.ts';

const NAME = 'nhi_bench_reconcile';
const PERIOD = '2026-03';
const CLERKS = 200;
const log = (s: string) => process.stderr.write(`[reconcile bench] ${s}\n`);
const fmt = (n: number, d = 0) => n.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d });
const hmacOf = (n: number) => crypto.createHash('sha256').update(`subject-${n}`).digest('hex');

async function seed(n: number): Promise<void> {
  const cfg = configFor(NAME);
  const db = createDb(cfg);
  await db.migrate.latest();
  const t = Date.now();
  const [plan] = await db('units').insert({ code: 'PLAN', name: '計畫處', kind: 'planning', parent_id: null, has_sections: true, status: 'active', created_at: t });
  const [agency] = await db('units').insert({ code: 'BEN', name: '效能測試機關', kind: 'agency', parent_id: plan, has_sections: true, status: 'active', created_at: t });
  const users: number[] = [];
  for (let i = 0; i < CLERKS; i++) {
    const [id] = await db('users').insert({ account: `ben.clerk${i}`, name: `承辦${i}`, unit_id: agency, rank: 'staff', auth_source: 'local', password_hash: 'x', password_changed_at: t, must_change_password: false, status: 'active', created_at: t, updated_at: t });
    users.push(Number(id));
  }
  const [source] = await db('reconcile_sources').insert({ code: 'NHI', name: '健保署查詢紀錄', kind: 'records', complete: true, unit_id: null, created_at: t });
  const [mapping] = await db('reconcile_mappings').insert({ source_id: source, version: 1, columns: '{}', encoding: 'utf-8', date_style: 'ad', header_row: 1, created_at: t });
  await db('source_account_links').insert(users.map((u, i) => ({ source_id: source, user_id: u, source_account: `N${i}`, created_at: t })));
  const [imp] = await db('reconcile_imports').insert({ source_id: source, mapping_id: mapping, unit_id: agency, period: PERIOD, file_name: 'bench.csv', file_sha256: '0'.repeat(64), row_count: n, via: 'cli', imported_at: t });
  await db.destroy();

  const conn = await mysql.createConnection({ ...parseMysqlUrl(cfg.DATABASE_URL), charset: 'utf8mb4' } as any);
  await conn.query('SET SESSION unique_checks = 0, foreign_key_checks = 0');
  const [start, end] = monthRange(PERIOD);
  const span = end - start - 3_600_000;
  const batch = 4000;
  const t0 = performance.now();
  let pending: Promise<unknown>[] = [];
  for (let i = 0; i < n; i += batch) {
    const entries: unknown[][] = [];
    const records: unknown[][] = [];
    for (let k = i; k < Math.min(n, i + batch); k++) {
      const user = users[k % CLERKS];
      const at = start + 1_800_000 + Math.floor((k / n) * span);
      const subject = hmacOf(k % 300_000);
      entries.push([k + 1, user, `ben.clerk${k % CLERKS}`, agency, at, 'IN01', '2-1', null, 'BEN-1', '效能測試', 'national-id', subject, 'x', 'A12****789', null, 'api', null, '0'.repeat(64), '0'.repeat(64)]);
      const kind = k % 100;
      // 98: the entry's query, up to 20 minutes before or after; 1: unlogged (another subject); 1: unknown account.
      const offset = ((k * 7919) % 2401 - 1200) * 1000;
      if (kind < 98) records.push([imp, k + 2, `N${k % CLERKS}`, user, at + offset, 'national-id', subject, 'x', 'A12****789', 'IN01', null]);
      else if (kind === 98) records.push([imp, k + 2, `N${k % CLERKS}`, user, at + 60_000, 'national-id', hmacOf(900_000 + k), 'x', 'A12****789', 'IN01', null]);
      else records.push([imp, k + 2, `GHOST${k % 7}`, null, at, 'national-id', subject, 'x', 'A12****789', 'IN01', null]);
    }
    await Promise.all(pending);
    pending = [
      conn.query('INSERT INTO query_logs (seq,user_id,account,unit_id,queried_at,op_code,scope_code,query_request_id,case_no,reason,subject_type,subject_hmac,subject_cipher,subject_mask,client_ip,source,token_id,prev_hash,hash) VALUES ?', [entries]),
      conn.query('INSERT INTO source_records (import_id,row_no,source_account,user_id,occurred_at,subject_type,subject_hmac,subject_cipher,subject_mask,op_code,count) VALUES ?', [records]),
    ];
    if ((i / batch) % 50 === 0) log(`seeded ${fmt(i)} / ${fmt(n)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  await Promise.all(pending);
  await conn.query('UPDATE log_chain_head SET seq = ? WHERE id = 1', [n]);
  await conn.query('ANALYZE TABLE query_logs, source_records');
  await conn.end();
  log(`seeded ${fmt(n)} entries and ${fmt(n)} source records in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

/** In a child: reads both tables bare (key-ordered pages of the columns matching needs). */
async function bareRead(): Promise<Record<string, number>> {
  const cfg = configFor(NAME);
  const conn = await mysql.createConnection({ ...parseMysqlUrl(cfg.DATABASE_URL), charset: 'utf8mb4' } as any);
  const [start, end] = monthRange(PERIOD);
  const t0 = performance.now();
  let rows = 0;
  for (const [table, time] of [['source_records', 'occurred_at'], ['query_logs', 'queried_at']] as const) {
    let after = 0;
    for (;;) {
      const [page] = await conn.query({ sql: `SELECT id, user_id, subject_hmac, ${time} FROM ${table} WHERE id > ? ${table === 'query_logs' ? 'AND queried_at >= ? AND queried_at < ?' : ''} ORDER BY id LIMIT 5000`, rowsAsArray: true }, table === 'query_logs' ? [after, start, end] : [after]);
      const list = page as unknown[][];
      if (!list.length) break;
      rows += list.length;
      after = Number(list[list.length - 1][0]);
    }
  }
  const ms = performance.now() - t0;
  await conn.end();
  return { ms, rows, maxRssMb: process.resourceUsage().maxRSS / 1024 };
}

/** In a child: the reconciliation itself (matching, storing the run and findings). */
async function reconcile(): Promise<Record<string, number>> {
  const cfg = configFor(NAME);
  const db = createDb(cfg);
  const agency = await db('units').where({ code: 'BEN' }).first();
  const t0 = performance.now();
  const r = await runReconciliation(db, cfg, { agency, period: PERIOD, trigger: 'manual' });
  const ms = performance.now() - t0;
  await db.destroy();
  log(`run hash ${r.sha256}`);
  return { ms, maxRssMb: process.resourceUsage().maxRSS / 1024, ...r.figures };
}

function child(what: string): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', what], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`${what} exited ${code}`))));
  });
}

export default async function main(): Promise<void> {
  const n = Number(process.env.BENCH_RECONCILE_N ?? 1_000_000);
  const admin = adminDb();
  const size = await sizeServer(admin);
  const reuse = Boolean(process.env.BENCH_RECONCILE_REUSE) && (await admin.raw('SHOW DATABASES LIKE ?', [NAME]))[0].length > 0;
  if (!reuse) {
    await admin.raw(`DROP DATABASE IF EXISTS \`${NAME}\``);
    await admin.raw(`CREATE DATABASE \`${NAME}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  }
  try {
    if (reuse) {
      const db = createDb(configFor(NAME));
      await db.migrate.latest();
      await db.destroy();
      log('reusing the kept database');
    } else await seed(n);
    // Each measured twice, the second kept: the first warms the buffer pool for both alike.
    await child('bare');
    const bare = await child('bare');
    log(`bare read: ${(bare.ms / 1000).toFixed(1)} s, ${fmt(bare.rows)} rows, peak RSS ${fmt(bare.maxRssMb)} MB`);
    await child('reconcile');
    const rec = await child('reconcile');
    log(`reconcile: ${(rec.ms / 1000).toFixed(1)} s, peak RSS ${fmt(rec.maxRssMb)} MB, matched ${fmt(rec.matched)}, unlogged ${fmt(rec.unlogged)}, unconfirmed ${fmt(rec.unconfirmed)}`);
    const machine = `${os.cpus().length} CPUs, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.cpus()[0]?.model?.trim() ?? ''}, Node ${process.version}; ${size.note}`;
    writeSection('reconcile', [
      '## Reconciliation (issue 16): `bench/reconcile.bench.ts`',
      '',
      `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, MariaDB, ${machine}.`,
      '',
      `One agency's month: ${fmt(n)} query-log entries by ${CLERKS} clerks and ${fmt(n)} source records of one complete source (98 % an entry's query up to 20 minutes off, 1 % unlogged, 1 % unknown accounts), window 30 minutes. Each measurement in a child process of its own (peak RSS is that process's), run twice and the second kept.`,
      '',
      '| what | time | peak RSS | note |',
      '| --- | --- | --- | --- |',
      `| bare read of both tables (key-ordered pages, 4 columns, nothing done) | ${(bare.ms / 1000).toFixed(1)} s | ${fmt(bare.maxRssMb)} MB | ${fmt(bare.rows)} rows |`,
      `| reconciliation (match person by person in time order, store run and findings, add unlogged to the check) | ${(rec.ms / 1000).toFixed(1)} s | ${fmt(rec.maxRssMb)} MB | matched ${fmt(rec.matched)}, unlogged ${fmt(rec.unlogged)}, unconfirmed ${fmt(rec.unconfirmed)}, unknown accounts ${fmt(rec.unknownAccounts)} |`,
      `| ratio | ${(rec.ms / bare.ms).toFixed(2)} × the bare read | | limits: 60 s, 500 MB${rec.ms > 60_000 || rec.maxRssMb > 500 ? ' — **over a limit**' : ''} |`,
      '',
      'How it reads (server/reconcile/results.ts): each person\'s records through the covering (import_id, user_id, occurred_at, id, subject_hmac) index of migration 0062, the next person\'s asked for while this one is matched; the month\'s entries in key order, 400,000 at a time (here three passes over the stretch, people in id order), when the agency\'s stretch of the log holds at most 4 × its entries, else each person\'s through the (user_id, queried_at) index. The run\'s hash is the same either way and equals a reference computed with `matchGreedy` over each person\'s whole month.',
    ].join('\n'));
  } finally {
    if (!process.env.BENCH_RECONCILE_KEEP) await admin.raw(`DROP DATABASE IF EXISTS \`${NAME}\``);
    await admin.destroy();
  }
}

const self = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (self) {
  const i = process.argv.indexOf('--child');
  if (i > 0) {
    const what = process.argv[i + 1];
    (what === 'bare' ? bareRead() : reconcile()).then((r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      process.exit(0);
    }, (e) => {
      console.error(e);
      process.exit(1);
    });
  } else main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
}
