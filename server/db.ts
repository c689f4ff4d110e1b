// The database: knex on embedded SQLite (default) or MySQL/MariaDB, through the same code.
// Instants are stored everywhere as integer milliseconds since the epoch (UTC); calendar days
// as 'YYYY-MM-DD' text. No TIMESTAMP columns (year 2038, session time zone conversions).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import type { Config } from './config.ts';

export type Db = Knex;
export type Trx = Knex.Transaction;
/** Either the database or an open transaction: repos accept both so callers can pass `trx` down. */
export type Conn = Knex | Knex.Transaction;

const here = path.dirname(fileURLToPath(import.meta.url));
export const MIGRATIONS_DIR = path.resolve(here, '..', 'migrations');

/**
 * Names migrations without their extension, so running the same migration as .ts or compiled .js
 * never makes knex report a corrupt migration directory.
 */
export class MigrationSource implements Knex.MigrationSource<string> {
  async getMigrations(): Promise<string[]> {
    const files = fs.readdirSync(MIGRATIONS_DIR).filter((f) => /^\d.*\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'));
    const names = [...new Set(files.map((f) => f.replace(/\.(ts|js)$/, '')))];
    return names.sort();
  }
  getMigrationName(name: string): string {
    return name;
  }
  async getMigration(name: string): Promise<Knex.Migration> {
    const ts = path.join(MIGRATIONS_DIR, `${name}.ts`);
    const file = fs.existsSync(ts) ? ts : path.join(MIGRATIONS_DIR, `${name}.js`);
    return (await import(file)) as Knex.Migration;
  }
}

export function parseMysqlUrl(url: string): Knex.MySql2ConnectionConfig {
  const u = new URL(url);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password || ''),
    database: u.pathname.replace(/^\//, '') || undefined,
  };
}

export function knexConfig(cfg: Pick<Config, 'DB_CLIENT' | 'DATABASE_URL' | 'DB_POOL_MAX'>): Knex.Config {
  const migrations = { migrationSource: new MigrationSource(), tableName: 'knex_migrations' };
  if (cfg.DB_CLIENT === 'mysql') {
    return {
      client: 'mysql2',
      connection: {
        ...parseMysqlUrl(cfg.DATABASE_URL),
        timezone: 'Z',
        charset: 'utf8mb4',
        decimalNumbers: true,
        supportBigNumbers: true,
        // Epoch-ms and ids fit in a double: keep them numbers, as SQLite returns them.
        bigNumberStrings: false,
        connectTimeout: 5000,
      },
      pool: {
        min: 0,
        max: cfg.DB_POOL_MAX,
        afterCreate(conn: any, done: (err: Error | null, conn: unknown) => void) {
          conn.query("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'", (err: Error | null) => done(err, conn));
        },
      },
      acquireConnectionTimeout: 10000,
      migrations,
    };
  }
  const file = cfg.DATABASE_URL === ':memory:' ? ':memory:' : path.resolve(cfg.DATABASE_URL);
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  return {
    client: 'better-sqlite3',
    connection: { filename: file },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: any, done: (err: Error | null, conn: unknown) => void) {
        try {
          conn.pragma('journal_mode = WAL');
          conn.pragma('foreign_keys = ON');
          conn.pragma('busy_timeout = 5000');
          conn.pragma('synchronous = NORMAL');
          done(null, conn);
        } catch (e) {
          done(e as Error, conn);
        }
      },
    },
    acquireConnectionTimeout: 10000,
    migrations,
  };
}

export function createDb(cfg: Pick<Config, 'DB_CLIENT' | 'DATABASE_URL' | 'DB_POOL_MAX'>): Db {
  return knexFactory(knexConfig(cfg));
}

/**
 * Runs `fn` on the database under the admin account (DATABASE_ADMIN_URL, MariaDB) and closes that
 * connection after: the app's own account may not UPDATE or DELETE query_logs, so migrations, the
 * retention purge and subject-key rotation go through here. Without DATABASE_ADMIN_URL (SQLite,
 * development) it is the app's own database.
 */
export async function withAdminDb<T>(ctx: { cfg: Pick<Config, 'DB_CLIENT' | 'DATABASE_ADMIN_URL' | 'DB_POOL_MAX'>; db: Db }, fn: (db: Db) => Promise<T>): Promise<T> {
  const url = ctx.cfg.DATABASE_ADMIN_URL;
  if (ctx.cfg.DB_CLIENT !== 'mysql' || !url) return fn(ctx.db);
  const admin = createDb({ DB_CLIENT: 'mysql', DATABASE_URL: url, DB_POOL_MAX: Math.min(ctx.cfg.DB_POOL_MAX, 4) });
  try {
    return await fn(admin);
  } finally {
    await admin.destroy();
  }
}

export function isMysql(db: Conn): boolean {
  const c = (db as any).client?.config?.client;
  return c === 'mysql2' || c === 'mysql';
}

/** True for a unique-key violation on either database. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; message?: string };
  return e?.code === 'ER_DUP_ENTRY' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e?.errno === 1062;
}

/** True when the database cannot be reached (the API answers 503, never a silent drop). */
export function isDbUnavailable(err: unknown): boolean {
  const e = err as { code?: string; name?: string; message?: string; errno?: number };
  if (!e) return false;
  const codes = ['ECONNREFUSED', 'ECONNRESET', 'PROTOCOL_CONNECTION_LOST', 'ETIMEDOUT', 'EPIPE', 'ER_CON_COUNT_ERROR', 'SQLITE_BUSY', 'ER_SERVER_SHUTDOWN', 'ENOTFOUND', 'EHOSTUNREACH', 'SQLITE_CANTOPEN', 'ER_LOCK_WAIT_TIMEOUT'];
  if (e.code && codes.includes(e.code)) return true;
  if (e.name === 'KnexTimeoutError') return true;
  if (e.errno === 2013 || e.errno === 2006 || e.errno === 1053) return true;
  return /Unable to acquire a connection|The client is closed|connection is in closed state|Can't add new command when connection is in closed state|Connection lost|database connection is not open/i.test(e.message ?? '');
}

/** Parses a JSON column, which comes back as text on SQLite and (depending on settings) MariaDB. */
export function parseJson<T>(value: unknown, fallback: T): T {
  if (value === null || value === undefined || value === '') return fallback;
  if (typeof value === 'string') return JSON.parse(value) as T;
  return value as T;
}

/** Inserts one row and returns its id on both databases (`.returning()` is ignored on MySQL). */
export async function insertId(conn: Conn, table: string, row: Record<string, unknown>): Promise<number> {
  const [id] = await conn(table).insert(row);
  return Number(id);
}

/**
 * A select's rows as arrays in `cols` order: on MariaDB straight from the driver (no object built
 * per row, which matters on walks over millions of entries), on SQLite mapped from its objects.
 */
export async function selectArrays(q: Knex.QueryBuilder, cols: readonly string[]): Promise<unknown[][]> {
  if (isMysql(q as unknown as Conn)) return q.select(cols as string[]).options({ rowsAsArray: true });
  return ((await q.select(cols as string[])) as Array<Record<string, unknown>>).map((r) => cols.map((c) => r[c]));
}

/**
 * The pages of a walk in key order, the next page asked for while the caller works on this one
 * (the database reads on its own core meanwhile). `fetch(after)` answers the rows with a key above
 * `after`; a page shorter than `size` is the last. Stopping early leaves no unhandled rejection.
 */
export async function* pagesAhead<T>(fetch: (after: number) => PromiseLike<T[]>, keyOf: (row: T) => number, start: number, size: number): AsyncGenerator<T[]> {
  const ask = (after: number): Promise<T[]> => {
    const p = Promise.resolve(fetch(after));
    p.catch(() => undefined); // awaited below, unless the caller stops first
    return p;
  };
  let next = ask(start);
  for (;;) {
    const rows = await next;
    if (!rows.length) return;
    next = rows.length === size ? ask(keyOf(rows[rows.length - 1])) : Promise.resolve([]);
    yield rows;
  }
}

/** Chunked multi-row insert: SQLite refuses a compound insert of more than 500 rows. */
export async function insertChunked(conn: Conn, table: string, rows: Record<string, unknown>[], chunk = 400): Promise<void> {
  for (let i = 0; i < rows.length; i += chunk) await conn(table).insert(rows.slice(i, i + chunk));
}
