// Benchmark (not a test, issue 18): (1) the to-do list of a busy checker — 12 open checks of 300
// items each, among 30 agencies' checks — over a query log of BENCH_ENTRIES entries (default
// 500 000: about ten minutes on a 2-core machine; the goal is set at 5 000 000) on MariaDB; goal
// p99 under 50 ms, measured against the indexes before migration 0095 in the same run. (2) The outbox job sending 10 000 messages to a
// local SMTP server (smtp-server in its own process): rate and memory. Writes its section of
// bench/results.md.
//
//   node --import tsx bench/todos.bench.ts             (MYSQL_URL, default mysql://root@127.0.0.1:3306)
//   BENCH_ENTRIES=5000000 node --import tsx bench/todos.bench.ts   (the goal's size; hours here)
import os from 'node:os';
import { createDb, type Db } from '../server/db.ts';
import { todosFor } from '../server/todos/service.ts';
import { deliverOutbox, transportFor } from '../server/mail/service.ts';
import { insertMessages } from '../server/mail/repo.ts';
import { adminDb, configFor } from './mariadb.ts';
import { writeSection } from './results.ts';
import { startSmtp } from '../test/support/smtp.ts';
import type { Role } from '../server/accounts/roles.ts';

const AGENCIES = 30;
const MONTHS = 12;
const ITEMS = 300;

export async function generate(db: Db, total: number): Promise<{ checker: { id: number; account: string; unitId: number } }> {
  const t = Date.now();
  const [plan] = await db('units').insert({ code: 'PLAN', name: '計畫處', kind: 'planning', parent_id: null, has_sections: true, status: 'active', created_at: t });
  let checker = { id: 0, account: '', unitId: 0 };
  const clerks: number[] = [];
  const agencies: Array<{ id: number; chk: number }> = [];
  for (let a = 1; a <= AGENCIES; a++) {
    const code = `AG${String(a).padStart(2, '0')}`;
    const [ag] = await db('units').insert({ code, name: `機關${a}`, kind: 'agency', parent_id: plan, has_sections: true, status: 'active', created_at: t });
    const [chk] = await db('users').insert({ account: `${code.toLowerCase()}.chk`, name: '股長', unit_id: ag, rank: 'section_chief', status: 'active', must_change_password: false, password_changed_at: t, created_at: t, updated_at: t });
    await db('user_roles').insert([{ user_id: chk, role: 'checker', granted_at: t }, { user_id: chk, role: 'supervisor', granted_at: t }]);
    if (a === 1) checker = { id: Number(chk), account: `${code.toLowerCase()}.chk`, unitId: Number(ag) };
    agencies.push({ id: Number(ag), chk: Number(chk) });
    for (let c = 0; c < 10; c++) {
      const [id] = await db('users').insert({ account: `${code.toLowerCase()}.c${c}`, name: 'x', unit_id: ag, rank: 'staff', status: 'active', must_change_password: false, password_changed_at: t, created_at: t, updated_at: t });
      clerks.push(Number(id));
    }
  }
  const start = Date.parse('2025-01-01T00:00:00Z');
  const step = Math.floor((365 * 86_400_000) / total);
  for (let i = 0; i < total; i += 2000) {
    const rows = [];
    for (let k = i; k < Math.min(total, i + 2000); k++) {
      const u = clerks[k % clerks.length];
      rows.push({ seq: k + 1, user_id: u, account: 'c', unit_id: agencies[Math.floor((k % clerks.length) / 10)].id, queried_at: start + k * step, op_code: 'IN01', scope_code: '2-1', case_no: 'C-1', reason: 'bench',
        subject_type: 'national-id', subject_hmac: String(k % 100000).padStart(64, '0'), subject_cipher: 'x', subject_mask: 'A12****789', source: 'api', prev_hash: '0'.repeat(64), hash: String(k).padStart(64, '0') });
    }
    await db('query_logs').insert(rows);
    if (i % 500_000 === 0) process.stderr.write(`todos bench: ${i} / ${total} entries\n`);
  }
  const maxId = Number((await db('query_logs').max({ m: 'id' }).first())!.m);
  for (const ag of agencies) {
    for (let m = 1; m <= MONTHS; m++) {
      const [c] = await db('checks').insert({ unit_id: ag.id, period: `2025-${String(m).padStart(2, '0')}`, generation: 1, seed: 'ab'.repeat(32), population: ITEMS, population_digest: 'cd'.repeat(32), sample_size: ITEMS,
        rate_percent: 3, minimum: 10, status: 'open', checker_id: ag.chk, created_at: t });
      const items = [];
      for (let k = 0; k < ITEMS; k++) items.push({ check_id: Number(c), entry_id: 1 + ((ag.id * 7919 + m * 104729 + k * 31) % maxId), basis: 'random', flags: '', checker_id: ag.chk, verdict: k % 50 === 1 ? 'explanation-needed' : k % 3 ? 'proper' : null });
      await db('check_items').insert(items).onConflict(['check_id', 'entry_id']).ignore();
    }
  }
  return { checker };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];

export default async function bench(): Promise<void> {
  const total = Number(process.env.BENCH_ENTRIES ?? 500_000);
  const dbName = `nhi_bench_todos_${process.pid}`;
  const admin = adminDb();
  await admin.raw(`CREATE DATABASE \`${dbName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  const smtp = await startSmtp();
  const cfg = { ...configFor(dbName), SMTP_URL: smtp.url, MAIL_FROM: 'nhi-audit@bench.example' };
  const db = createDb(cfg);
  try {
    await db.migrate.latest();
    const genStart = performance.now();
    const { checker } = await generate(db, total);
    const genS = (performance.now() - genStart) / 1000;
    // Statistics as a running server has them (fresh bulk inserts leave them stale, and plans wander).
    await db.raw('ANALYZE TABLE query_logs, check_items, checks, units');
    const person = { ...checker, roles: ['checker', 'supervisor'] as Role[] };
    // And the busiest clerk (most entries): everyone's list asks for the explanations awaited of them.
    const top: any = await db('query_logs').groupBy('user_id').select('user_id').count({ n: '*' }).orderBy('n', 'desc').first();
    const c = await db('users').where({ id: top.user_id }).first('id', 'account', 'unit_id');
    const clerk = { id: Number(c.id), account: c.account, unitId: Number(c.unit_id), roles: ['clerk'] as Role[] };
    // Baseline in the same run: the indexes before migration 0095 (its two covering indexes set
    // IGNORED, the 0070 index back), in alternating rounds so load from other work falls on both.
    await db.schema.alterTable('check_items', (t) => t.index(['checker_id', 'verdict', 'check_id'], 'check_items_checker_verdict_index'));
    const baseline = async (on: boolean) => {
      for (const name of ['check_items_check_verdict_index', 'check_items_checker_open_index', 'check_items_verdict_index']) await db.raw(`ALTER TABLE check_items ALTER INDEX ${name} ${on ? 'IGNORED' : 'NOT IGNORED'}`);
      await db.raw(`ALTER TABLE check_items ALTER INDEX check_items_checker_verdict_index ${on ? 'NOT IGNORED' : 'IGNORED'}`);
    };
    const lat: number[] = [];
    const base: number[] = [];
    const clerkLat: number[] = [];
    const clerkBase: number[] = [];
    let list = await todosFor(db, cfg, person);
    for (let round = 0; round < 6; round++) {
      for (const before of [true, false]) {
        await baseline(before);
        for (let i = 0; i < 5; i++) await todosFor(db, cfg, person); // warm-up
        for (let i = 0; i < 50; i++) {
          const s = performance.now();
          list = await todosFor(db, cfg, person);
          (before ? base : lat).push(performance.now() - s);
        }
        // Fewer runs of the clerk's list: its baseline reads every item of the county's checks.
        for (let i = 0; i < 10; i++) {
          const s = performance.now();
          await todosFor(db, cfg, clerk);
          (before ? clerkBase : clerkLat).push(performance.now() - s);
        }
      }
    }
    await baseline(false);
    // Outbox: 10 000 messages, one delivery pass as the job runs it.
    const N = 10_000;
    const at = Date.now();
    await insertMessages(db, Array.from({ length: N }, (_, i) => ({ kind: 'reminder', dedupe_key: `bench:${i}`, recipient_id: null, to_address: `u${i % 500}@bench.example`, subject: `【健保查詢稽核】待辦提醒：簽核 ${i}`, body: '您有一項待辦事項即將到期。\n辦理網址：http://localhost:3000/checks/1', status: 'pending', next_attempt_at: at, created_at: at })));
    const rssBefore = process.memoryUsage().rss;
    const tr = transportFor(cfg);
    const s = performance.now();
    const out = await deliverOutbox(db, cfg, tr, { batch: 100 });
    const ms = performance.now() - s;
    tr.close();
    const maxRssMb = process.resourceUsage().maxRSS / 1024;
    const received = (await import('node:fs')).readdirSync(smtp.dir).filter((f) => f.endsWith('.eml')).length;
    const body = [
      `Run ${new Date().toISOString()} on ${os.cpus().length} CPUs, MariaDB (MYSQL_URL); generated in ${genS.toFixed(0)} s; load average ${os.loadavg().map((x) => x.toFixed(1)).join(', ')} at the end (other helpers' work was running on the same machine).`,
      '',
      '| measure | value | goal |',
      '| --- | --- | --- |',
      `| query log entries | ${total.toLocaleString('en')} | 5,000,000 |`,
      `| to-do list of a busy checker (${MONTHS} open checks × ${ITEMS} items, ${AGENCIES * MONTHS} checks in all; ${list.length} duties), 300 runs | p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms | p99 < 50 ms |`,
      `| the same with the indexes before migration 0095 (baseline, alternating rounds) | p50 ${pct(base, 50).toFixed(1)} ms, p99 ${pct(base, 99).toFixed(1)} ms | — |`,
      `| ratio 0095 / baseline | p50 ${(pct(lat, 50) / pct(base, 50)).toFixed(2)}, p99 ${(pct(lat, 99) / pct(base, 99)).toFixed(2)} | < 1 |`,
      `| to-do list of the busiest clerk (${top.n} entries), 60 runs: 0095 / baseline | p50 ${pct(clerkLat, 50).toFixed(1)} / ${pct(clerkBase, 50).toFixed(1)} ms, p99 ${pct(clerkLat, 99).toFixed(1)} / ${pct(clerkBase, 99).toFixed(1)} ms; ratio p50 ${(pct(clerkLat, 50) / pct(clerkBase, 50)).toFixed(2)} | < 50 ms |`,
      `| outbox: ${N.toLocaleString('en')} messages to a local SMTP server (smtp-server process, pool of 2 connections) | ${(ms / 1000).toFixed(1)} s, ${(N / (ms / 1000)).toFixed(0)} messages/s; sent ${out.sent}, received ${received} | rate and memory reported |`,
      `| outbox: memory | peak RSS ${maxRssMb.toFixed(0)} MB (process, incl. generation); RSS before delivery ${(rssBefore / 2 ** 20).toFixed(0)} MB, after ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB | — |`,
      "",
      "Size: 500,000 entries, not the goal's 5,000,000 (generation and runs fit in about three minutes on this machine; 5 M takes hours here). Nothing in the checker's list reads the query log, so its cost follows the checker's open items (12 × 300 here), not the log's size; the clerk's list reads their own entries by `(user_id, queried_at)` and grows with them.",
      "Baseline: the same database with migration 0095's three indexes set IGNORED and 0070's index back, measured in alternating rounds so other work on the machine falls on both sides alike. p99 is dominated by the machine's load (2 CPUs shared with other helpers' tests and benchmarks, load average 8–11): it is not a measure of the server, and the 50 ms goal is unproven here; p50 and the ratios are the comparable figures.",
      "Cause found with EXPLAIN (MariaDB; SQLite's EXPLAIN QUERY PLAN picks the same three indexes): the checker's open checks counted their unsettled items and the items to judge through indexes without `verdict` / `explained_at`, a table lookup per item — now covering indexes (one index range each). The explanations asked of a person had no selective start: with stale statistics MariaDB walked every item of every check in the county (263–353 ms for a clerk at 500,000 entries); the `(verdict, check_id)` index gives it one.",
    ].join('\n');
    writeSection('todos', `## To-do list and outbox (issue 18)\n\n${body}\n`);
    console.log(body);
  } finally {
    await db.destroy();
    await smtp.stop();
    const a2 = adminDb();
    await a2.raw(`DROP DATABASE IF EXISTS \`${dbName}\``);
    await a2.destroy();
    await admin.destroy();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) await bench();
