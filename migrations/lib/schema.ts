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

/** Whether `table` has an index called `name` (migrations that add one can then be re-run). */
export async function hasIndex(knex: Knex, table: string, name: string): Promise<boolean> {
  const client = (knex as any).client?.config?.client;
  if (client === 'mysql2' || client === 'mysql') {
    const [rows] = await knex.raw('SHOW INDEX FROM ?? WHERE Key_name = ?', [table, name]);
    return (rows as unknown[]).length > 0;
  }
  const rows = await knex('sqlite_master').where({ type: 'index', tbl_name: table, name }).select('name');
  return rows.length > 0;
}
