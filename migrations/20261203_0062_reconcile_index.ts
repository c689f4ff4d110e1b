// Reconciliation reads (issue 16): matching reads each person's records of the imports in
// (occurred_at, id) order. Through the (user_id, occurred_at) index of 0060 every record cost a
// lookup into the table for its subject; this index holds every column matching reads (import,
// person, time, id, subject HMAC), so the read is one ordered range of the index, and the distinct
// people of an import come from it too. Import first: a run reads only its imports, never the
// person's records of other months. (No such index on query_logs: every new entry would pay for it;
// matching reads the month's entries in key order instead, results.ts.) Re-runnable.
import type { Knex } from 'knex';
import { hasIndex } from './lib/schema.ts';

const NAME = 'source_records_matching_index';
const COLUMNS = ['import_id', 'user_id', 'occurred_at', 'id', 'subject_hmac'];

export async function up(knex: Knex): Promise<void> {
  if (!(await hasIndex(knex, 'source_records', NAME))) await knex.schema.alterTable('source_records', (t) => t.index(COLUMNS, NAME));
}

export async function down(knex: Knex): Promise<void> {
  if (await hasIndex(knex, 'source_records', NAME)) await knex.schema.alterTable('source_records', (t) => t.dropIndex(COLUMNS, NAME));
}
