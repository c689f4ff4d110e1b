import type { Knex } from 'knex';

/**
 * Binary collation on MySQL/MariaDB so comparisons and uniqueness mean what they mean on SQLite
 * (case-sensitive accounts, code-point order), whatever the server's default collation.
 */
export function sameMeaning(knex: Knex, t: Knex.CreateTableBuilder): void {
  const client = (knex as any).client?.config?.client;
  if (client === 'mysql2' || client === 'mysql') {
    t.charset('utf8mb4');
    t.collate('utf8mb4_bin');
    t.engine('InnoDB');
  }
}
