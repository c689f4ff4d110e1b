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
