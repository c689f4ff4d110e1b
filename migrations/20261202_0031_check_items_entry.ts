// Check items by query-log entry: the annual workbook marks each sampled entry of the year page by
// page (entry ids in a range), and investigations look entries up the same way. Without this index
// every page scans all check items of every year.
import type { Knex } from 'knex';
import { hasIndex } from './lib/schema.ts';

const NAME = 'check_items_entry_id_index';

export async function up(knex: Knex): Promise<void> {
  if (!(await hasIndex(knex, 'check_items', NAME))) await knex.schema.alterTable('check_items', (t) => t.index(['entry_id'], NAME));
}

export async function down(knex: Knex): Promise<void> {
  if (await hasIndex(knex, 'check_items', NAME)) await knex.schema.alterTable('check_items', (t) => t.dropIndex(['entry_id'], NAME));
}
