// The MariaDB every benchmark measures against (MYSQL_URL, default mysql://root@127.0.0.1:3306):
// an admin connection to create and drop the benchmark's own database, and the app's config for it.
import knexFactory, { type Knex } from 'knex';
import { parseConfig, type Config } from '../server/config.ts';
import { parseMysqlUrl } from '../server/db.ts';

export const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';

export function adminDb(): Knex {
  return knexFactory({ client: 'mysql2', connection: { ...parseMysqlUrl(MYSQL_URL), database: undefined }, pool: { min: 0, max: 1 } });
}

export function configFor(name: string, extra: Record<string, string> = {}): Config {
  const u = new URL(MYSQL_URL);
  u.pathname = `/${name}`;
  return parseConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', JOBS_ENABLED: '0', DB_CLIENT: 'mysql', DATABASE_URL: u.toString(), ...extra });
}

/**
 * The benchmarks measure a server sized for the data (README, "Operating on MariaDB"): InnoDB's
 * default 128 MB buffer pool cannot hold the indexes of millions of entries (every append then
 * waits on random disk reads), and its default 96 MB redo log forces page flushing in bursts that
 * stall commits. Raises innodb_buffer_pool_size to BENCH_BUFFER_POOL_MB (default 2048) and
 * innodb_log_file_size to BENCH_REDO_LOG_MB (default 1024) where they are smaller (both dynamic
 * since MariaDB 10.9), and says what it found and set.
 */
export interface ServerSize { beforeMb: number; afterMb: number; redoBeforeMb: number; redoMb: number; note: string }

export async function sizeServer(admin: Knex): Promise<ServerSize> {
  const mb = (v: number) => Math.round(v / 1048576);
  const read = async (name: string) => Number((await admin.raw(`SELECT @@${name} AS v`))[0][0].v);
  const raise = async (name: string, want: number) => {
    const before = await read(name);
    if (before < want) {
      await admin.raw(`SET GLOBAL ${name} = ${Math.floor(want)}`);
      // A resize runs in the background: wait until the server reports the new size.
      for (let i = 0; i < 60 && (await read(name)) < want; i++) await new Promise((r) => setTimeout(r, 500));
    }
    return { before: mb(before), after: mb(await read(name)) };
  };
  const pool = await raise('innodb_buffer_pool_size', Number(process.env.BENCH_BUFFER_POOL_MB ?? 2048) * 1048576);
  const redo = await raise('innodb_log_file_size', Number(process.env.BENCH_REDO_LOG_MB ?? 1024) * 1048576);
  const fmt = (n: number) => n.toLocaleString('en');
  const raised = pool.before < pool.after || redo.before < redo.after;
  const note = `InnoDB buffer pool ${fmt(pool.after)} MB and redo log ${fmt(redo.after)} MB (${raised ? `raised by the benchmark from the server's ${fmt(pool.before)} MB and ${fmt(redo.before)} MB, as README's MariaDB section advises` : "as the server was configured, at least what README's MariaDB section advises"})`;
  return { beforeMb: pool.before, afterMb: pool.after, redoBeforeMb: redo.before, redoMb: redo.after, note };
}
