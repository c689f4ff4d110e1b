// Query log list filters (clause 4(一)2–3): by account over time and by case number.
import type { Knex } from 'knex';

async function hasIndex(knex: Knex, table: string, name: string): Promise<boolean> {
  const client = (knex as any).client?.config?.client;
  if (client === 'mysql2' || client === 'mysql') {
    const [rows] = await knex.raw('SHOW INDEX FROM ?? WHERE Key_name = ?', [table, name]);
    return (rows as unknown[]).length > 0;
  }
  const rows = await knex.raw(`SELECT name FROM sqlite_master WHERE type = 'index' AND name = ?`, [name]);
  return (rows as unknown[]).length > 0;
}

export async function up(knex: Knex): Promise<void> {
  if (!(await hasIndex(knex, 'query_logs', 'query_logs_account_queried_at_index'))) {
    await knex.schema.alterTable('query_logs', (t) => t.index(['account', 'queried_at'], 'query_logs_account_queried_at_index'));
  }
  if (!(await hasIndex(knex, 'query_logs', 'query_logs_case_no_index'))) {
    await knex.schema.alterTable('query_logs', (t) => t.index(['case_no'], 'query_logs_case_no_index'));
  }
}

export async function down(knex: Knex): Promise<void> {
  if (await hasIndex(knex, 'query_logs', 'query_logs_case_no_index')) await knex.schema.alterTable('query_logs', (t) => t.dropIndex(['case_no'], 'query_logs_case_no_index'));
  if (await hasIndex(knex, 'query_logs', 'query_logs_account_queried_at_index')) await knex.schema.alterTable('query_logs', (t) => t.dropIndex(['account', 'queried_at'], 'query_logs_account_queried_at_index'));
}
