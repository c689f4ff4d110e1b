// `nhi-audit doctor`: the configuration's health for "nobody rewrote the log" (issue 15): which
// database, which account and its grants (on MariaDB the app's own account must not UPDATE or
// DELETE query_logs), whether checkpoints are signed and the witness directory is there.
// `doctor --grants-sql USER[@HOST]` prints the app account's grant set: MariaDB grants cannot say
// "everything but", so it is one GRANT per table of the migrated schema.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config.ts';
import { parseMysqlUrl, type Db } from './db.ts';
import { signerFor } from './queries/checkpoints.ts';

/**
 * Tables the app's own account only reads and appends to: the log, and a batch entry's subjects
 * and descriptor (chained through its digest). An approved destruction and the key rotation run
 * under DATABASE_ADMIN_URL.
 */
export const APPEND_ONLY: Record<string, string[]> = { query_logs: ['SELECT', 'INSERT'], batch_queries: ['SELECT', 'INSERT'], batch_subjects: ['SELECT', 'INSERT'] };
/**
 * knex's own tables: changed only by `migrate` under the admin account, but every command's schema
 * check (migrate.latest with nothing to do) reads them and takes and frees knex's lock row.
 */
const MIGRATION_TABLES: Record<string, string[]> = { knex_migrations: ['SELECT'], knex_migrations_lock: ['SELECT', 'UPDATE'] };
const FULL = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];

/** `USER[@HOST]` (host `%` when absent), or null; plain names only, so nothing needs quoting. */
export function parseAccount(text: string): { user: string; host: string } | null {
  const m = /^([A-Za-z0-9_.$-]{1,80})(?:@([A-Za-z0-9_.%:-]{1,255}))?$/.exec(text);
  return m ? { user: m[1], host: m[2] ?? '%' } : null;
}

/** A SHOW GRANTS line without the account's password hash (it is printed, and a hash can be cracked offline). */
const redactGrant = (g: string): string => g.replace(/\b(BY PASSWORD|USING)\s+'(?:[^'\\]|\\.)*'/gi, "$1 '…'");
const ident = (name: string): string => '`' + name.replace(/`/g, '``') + '`';
const rowsOf = (raw: unknown): any[] => (raw as any[])[0] as any[];

async function schemaTables(db: Db): Promise<{ database: string; tables: string[] }> {
  const [{ d }] = rowsOf(await db.raw('select database() as d'));
  const tables = rowsOf(await db.raw("select table_name as n from information_schema.tables where table_schema = database() and table_type = 'BASE TABLE' order by table_name"));
  return { database: String(d ?? ''), tables: tables.map((r) => String(r.n ?? r.N ?? r.TABLE_NAME)) };
}

/** The GRANT statements for the app account on the configured database; throws when it is not migrated. */
export async function grantsSql(db: Db, account: { user: string; host: string }): Promise<string[]> {
  const { database, tables } = await schemaTables(db);
  if (!database) throw new Error('DATABASE_URL names no database');
  if (!tables.includes('query_logs')) throw new Error(`database ${database} has no query_logs table: run \`npx nhi-audit migrate\` first`);
  const to = `'${account.user}'@'${account.host}'`;
  const lines = [
    `-- Grants of the app account ${to} on ${ident(database)} (npx nhi-audit doctor --grants-sql): SELECT, INSERT,`,
    '-- UPDATE, DELETE on every table but query_logs, which it may only read and append to. Its purge and',
    '-- rotate-subject-key, and migrate, run under DATABASE_ADMIN_URL. Run this as an administrator after',
    '-- every migrate that adds a table. An account that already holds wider grants loses them only by',
    `-- REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${to}; (run it first, then this).`,
  ];
  for (const t of tables) {
    const privs = APPEND_ONLY[t] ?? MIGRATION_TABLES[t] ?? FULL;
    lines.push(`GRANT ${privs.join(', ')} ON ${ident(database)}.${ident(t)} TO ${to};`);
  }
  return lines;
}

/** Splits a grant's privilege list at commas outside column lists: `SELECT, UPDATE (a, b)`. */
function splitPrivileges(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of list) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((p) => p.replace(/\s*\(.*\)\s*$/s, '').trim().toUpperCase());
}

const unquote = (s: string): string => (s.startsWith('`') ? s.slice(1, -1).replace(/``/g, '`') : s);

/** A database-level grant's name is a LIKE pattern (`nhi\_%`). */
function likeMatches(pattern: string, value: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) re += pattern[++i].replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (c === '%') re += '.*';
    else if (c === '_') re += '.';
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's').test(value);
}

/** True when a grant's object (`*.*`, `db`.*, `db`.`t`) covers `table` of `database`. */
function covers(object: string, database: string, table: string): boolean {
  if (object === '*.*' || object === '*') return true;
  const m = /^(`(?:[^`]|``)*`|[^.`\s]+)\.(`(?:[^`]|``)*`|[^.`\s]+|\*)$/.exec(object);
  if (!m) return false;
  if (m[2] === '*') return likeMatches(unquote(m[1]), database);
  return unquote(m[1]) === database && unquote(m[2]).toLowerCase() === table.toLowerCase();
}

/**
 * The SHOW GRANTS lines that let the account UPDATE or DELETE rows of `table`: a global, database or
 * table grant of ALL, UPDATE or DELETE (column grants included). Role grants ("GRANT role TO …")
 * are not expanded here; the probe in `doctor` catches what they give.
 */
export function grantsAllowingRewrite(grants: string[], database: string, table = 'query_logs'): string[] {
  return grants.filter((g) => {
    const m = /^GRANT\s+(.+?)\s+ON\s+(?:TABLE\s+)?(\S+)\s+TO\s/is.exec(g.trim());
    if (!m) return false;
    const privs = splitPrivileges(m[1]);
    if (!privs.some((p) => p === 'ALL' || p === 'ALL PRIVILEGES' || p === 'UPDATE' || p === 'DELETE')) return false;
    return covers(m[2], database, table);
  });
}

/** Thrown to undo the probe's transaction. */
class Rollback extends Error {}

/** Whether MariaDB lets this account run `sql` (a statement that touches no row), undone whatever happens. */
async function allowed(db: Db, sql: string): Promise<boolean> {
  try {
    await db.transaction(async (trx) => {
      await trx.raw(sql);
      throw new Rollback();
    });
    return true;
  } catch (e) {
    if (e instanceof Rollback) return true;
    const code = (e as { code?: string }).code;
    if (code === 'ER_TABLEACCESS_DENIED_ERROR' || code === 'ER_COLUMNACCESS_DENIED_ERROR') return false;
    throw e;
  }
}

export interface DoctorReport {
  lines: string[];
  warnings: string[];
}

/** The configuration's health; any warning makes `doctor` exit 1. */
export async function doctor(cfg: Config, db: Db): Promise<DoctorReport> {
  const lines: string[] = [];
  const warnings: string[] = [];
  if (cfg.DB_CLIENT === 'mysql') {
    const c = parseMysqlUrl(cfg.DATABASE_URL);
    const [{ v }] = rowsOf(await db.raw('select version() as v'));
    const [{ u }] = rowsOf(await db.raw('select current_user() as u'));
    lines.push(`database: ${/mariadb/i.test(String(v)) ? 'MariaDB' : 'MySQL'} ${v} (DB_CLIENT=mysql), database ${c.database ?? '(none)'} at ${c.host}:${c.port}`);
    lines.push(`account: ${u}`);
    const grants = rowsOf(await db.raw('show grants')).map((r) => redactGrant(String(Object.values(r)[0])));
    lines.push('grants:', ...grants.map((g) => `  ${g}`));
    const { tables } = await schemaTables(db);
    if (!tables.includes('query_logs')) warnings.push('the database has no query_logs table this account can see: run `npx nhi-audit migrate` (as the admin account)');
    else {
      const wide = grantsAllowingRewrite(grants, c.database ?? '');
      const canUpdate = await allowed(db, 'UPDATE query_logs SET seq = seq WHERE 1 = 0');
      const canDelete = await allowed(db, 'DELETE FROM query_logs WHERE 1 = 0');
      if (wide.length || canUpdate || canDelete) {
        const what = [canUpdate && 'UPDATE', canDelete && 'DELETE'].filter(Boolean).join(' and ') || 'UPDATE or DELETE';
        warnings.push(`account ${u} can ${what} query_logs${wide.length ? ` (${wide.join('; ')})` : ''}: it can rewrite the log's history. Give the app the narrow grants (\`npx nhi-audit doctor --grants-sql ${u}\`, run as an administrator) and set DATABASE_ADMIN_URL for the purge`);
      } else lines.push('query_logs: this account may only read and append (no UPDATE, no DELETE)');
      if (cfg.DATABASE_ADMIN_URL) {
        const a = parseMysqlUrl(cfg.DATABASE_ADMIN_URL);
        lines.push(`admin account (DATABASE_ADMIN_URL): ${a.user} at ${a.host}:${a.port}, for migrate, rotate-subject-key and the retention job`);
      } else if (!canUpdate && !canDelete) {
        warnings.push('DATABASE_ADMIN_URL is not set: the retention purge, rotate-subject-key and migrate need an account that may delete, update and alter, and fail under this one');
      } else lines.push('admin account (DATABASE_ADMIN_URL): not set; migrate, rotate-subject-key and the retention job use this account');
    }
  } else {
    lines.push(`database: SQLite (DB_CLIENT=sqlite), file ${cfg.DATABASE_URL === ':memory:' ? ':memory:' : path.resolve(cfg.DATABASE_URL)}`);
    lines.push('grants: do not apply to SQLite (it has no accounts); whoever can write the file can write the log, so keep the file and its directory to the service account');
  }
  try {
    const signer = signerFor(cfg);
    if (signer) lines.push(`checkpoints: signed (Ed25519 key ${signer.keyId.slice(0, 16)} from ${cfg.CHECKPOINT_KEY_FILE})`);
    else warnings.push('checkpoints are UNSIGNED: CHECKPOINT_KEY_FILE is not set (production refuses to start without it)');
  } catch (e) {
    warnings.push(`checkpoints: ${(e as Error).message}`);
  }
  const witness = path.resolve(cfg.WITNESS_DIR);
  const stat = fs.statSync(witness, { throwIfNoEntry: false });
  let writable = true;
  try {
    fs.accessSync(witness, fs.constants.W_OK);
  } catch {
    writable = false;
  }
  if (!stat?.isDirectory()) warnings.push(`witness directory ${witness} (WITNESS_DIR) does not exist`);
  else if (!writable) warnings.push(`witness directory ${witness} (WITNESS_DIR) is not writable`);
  else lines.push(`witness directory: ${witness}`);
  return { lines, warnings };
}
