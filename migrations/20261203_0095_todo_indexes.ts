// The to-do list's reads of check items (issue 18, benchmark bench/todos.bench.ts):
// - a checker's open checks count their unsettled items, and the items still to judge are counted
//   per check. Both read every item of the checker's open checks; through the indexes they had,
//   each item cost a lookup into the table for its verdict or explained_at. The first two indexes
//   hold every column those reads use, so each is one range of an index (about half the time).
// - the explanations asked of a person (everyone's to-do list) had no index to start from but the
//   checks of every unit: MariaDB walked every item of every check in the county, 263 ms for a clerk
//   at 500,000 entries. By verdict, it reads only the items awaiting an explanation (8 ms).
// The (checker, verdict, check) index of 0070 is superseded by the wider one. Re-runnable.
import type { Knex } from 'knex';
import { hasIndex } from './lib/schema.ts';

const BY_CHECK = { name: 'check_items_check_verdict_index', columns: ['check_id', 'verdict'] };
const BY_CHECKER = { name: 'check_items_checker_open_index', columns: ['checker_id', 'verdict', 'explained_at', 'check_id'] };
const BY_VERDICT = { name: 'check_items_verdict_index', columns: ['verdict', 'check_id'] };
const OLD = { name: 'check_items_checker_verdict_index', columns: ['checker_id', 'verdict', 'check_id'] };

export async function up(knex: Knex): Promise<void> {
  for (const i of [BY_CHECK, BY_CHECKER, BY_VERDICT]) if (!(await hasIndex(knex, 'check_items', i.name))) await knex.schema.alterTable('check_items', (t) => t.index(i.columns, i.name));
  if (await hasIndex(knex, 'check_items', OLD.name)) await knex.schema.alterTable('check_items', (t) => t.dropIndex(OLD.columns, OLD.name));
}

export async function down(knex: Knex): Promise<void> {
  if (!(await hasIndex(knex, 'check_items', OLD.name))) await knex.schema.alterTable('check_items', (t) => t.index(OLD.columns, OLD.name));
  for (const i of [BY_CHECK, BY_CHECKER, BY_VERDICT]) if (await hasIndex(knex, 'check_items', i.name)) await knex.schema.alterTable('check_items', (t) => t.dropIndex(i.columns, i.name));
}
