// A fresh database per test file: a temporary SQLite file, or a new MariaDB database created and
// dropped by the test (TEST_DB=mysql, MYSQL_URL).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { parseConfig, type Config } from '../../server/config.ts';
import { createDb, type Db } from '../../server/db.ts';

export const ENGINE: 'sqlite' | 'mysql' = process.env.TEST_DB === 'mysql' ? 'mysql' : 'sqlite';
export const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';

export interface TestDb {
  cfg: Config;
  db: Db;
  /** DB_CLIENT and DATABASE_URL, for starting a child process on the same database. */
  env: Record<string, string>;
  drop(): Promise<void>;
}

const open: TestDb[] = [];

function mysqlAdmin(): Knex {
  const u = new URL(MYSQL_URL);
  return knexFactory({ client: 'mysql2', connection: { host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username || 'root'), password: decodeURIComponent(u.password || '') }, pool: { min: 0, max: 1 } });
}

export function testConfig(env: Record<string, string>, overrides: Record<string, string> = {}): Config {
  return parseConfig({ NODE_ENV: 'test', JOBS_ENABLED: '0', LOG_LEVEL: 'silent', ...env, ...overrides });
}

/** Creates an empty database (not migrated). */
export async function freshDb(overrides: Record<string, string> = {}): Promise<TestDb> {
  const tag = `${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  if (ENGINE === 'mysql') {
    const name = `nhi_test_${tag}`;
    const admin = mysqlAdmin();
    await admin.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    await admin.destroy();
    const u = new URL(MYSQL_URL);
    u.pathname = `/${name}`;
    env = { DB_CLIENT: 'mysql', DATABASE_URL: u.toString() };
    cleanup = async () => {
      const a = mysqlAdmin();
      await a.raw(`DROP DATABASE IF EXISTS \`${name}\``);
      await a.destroy();
    };
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-test-'));
    env = { DB_CLIENT: 'sqlite', DATABASE_URL: path.join(dir, 'test.sqlite') };
    cleanup = async () => fs.rmSync(dir, { recursive: true, force: true });
  }
  const cfg = testConfig(env, overrides);
  const db = createDb(cfg);
  let dropped = false;
  const t: TestDb = {
    cfg, db, env,
    async drop() {
      if (dropped) return;
      dropped = true;
      await db.destroy().catch(() => undefined);
      await cleanup();
    },
  };
  open.push(t);
  return t;
}

/** A fresh database migrated to the latest schema. */
export async function migratedDb(overrides: Record<string, string> = {}): Promise<TestDb> {
  const t = await freshDb(overrides);
  await t.db.migrate.latest();
  return t;
}

export async function dropAll(): Promise<void> {
  while (open.length) await open.pop()!.drop();
}

/** Every table of the test database (SQLite's own excluded). */
export async function listTables(t: TestDb): Promise<string[]> {
  if (ENGINE === 'mysql') {
    const [rows] = await t.db.raw('select table_name as n from information_schema.tables where table_schema = database()');
    return (rows as any[]).map((r) => r.n ?? r.N ?? r.TABLE_NAME);
  }
  return ((await t.db.raw("select name as n from sqlite_master where type = 'table' and name not like 'sqlite_%'")) as any[]).map((r) => r.n);
}

/** Row counts of the given tables, in one query (cheap enough to take around every request). */
export async function rowCounts(t: TestDb, tables: string[]): Promise<Record<string, number>> {
  const q = (n: string) => (ENGINE === 'mysql' ? `\`${n}\`` : `"${n}"`);
  const raw = await t.db.raw(`select ${tables.map((n, i) => `(select count(*) from ${q(n)}) as c${i}`).join(', ')}`);
  const row = ENGINE === 'mysql' ? (raw as any)[0][0] : (raw as any)[0];
  return Object.fromEntries(tables.map((n, i) => [n, Number(row[`c${i}`])]));
}

/**
 * A concrete path for an inventory path: each parameter becomes the id the map holds for the table
 * named before it (`query-logs/:id` → query_logs, `checks/:id/items/:item` → check_items), else 1.
 */
export function concretePath(path: string, ids: Map<string, number>): string {
  const seg = path.split('/');
  return seg.map((p, i) => {
    if (p.startsWith('*')) return 'x';
    if (!p.startsWith(':')) return p;
    const before = (seg[i - 1] ?? '').replace(/-/g, '_');
    const parent = (seg[i - 3] ?? '').replace(/-/g, '_').replace(/ies$/, 'y').replace(/s$/, '');
    return String(ids.get(before) ?? ids.get(`${parent}_${before}`) ?? 1);
  }).join('/').replace(/[{}]/g, '');
}
