// Reconciliation results (issue 16): runs per agency and period with their figures and the SHA-256
// of their canonical results, the figures per source, the findings (unlogged, unconfirmed, count
// differences, unknown accounts), late records linking a new entry to the source record it was
// missing for, and check items that point at a source record instead of an entry (an unlogged
// query has no entry: check_items.entry_id becomes nullable, source_record_id is added).
// Instants are BIGINT epoch ms; periods 'YYYY-MM'; calendar days 'YYYY-MM-DD'. Re-runnable.
import type { Knex } from 'knex';
import { hasIndex, sameMeaning } from './lib/schema.ts';

const isMysql = (knex: Knex) => ['mysql', 'mysql2'].includes((knex as any).client?.config?.client);

export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('reconcile_runs'))) {
    // One run per agency × period × generation: a re-run adds the next generation and marks the
    // earlier one superseded (kept as history).
    await knex.schema.createTable('reconcile_runs', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('unit_id').unsigned().notNullable().references('id').inTable('units'); // the agency
      t.string('period', 7).notNullable();
      t.integer('generation').notNullable().defaultTo(1);
      t.string('status', 16).notNullable().defaultTo('current'); // current | superseded
      t.integer('window_minutes').notNullable();
      t.integer('sources').notNullable().defaultTo(0);
      t.bigInteger('source_records').notNullable().defaultTo(0); // records, or the counts' sum
      t.bigInteger('entries').notNullable().defaultTo(0); // entries of the agency in the period
      t.bigInteger('matched').notNullable().defaultTo(0);
      t.bigInteger('unlogged').notNullable().defaultTo(0);
      t.bigInteger('unconfirmed').notNullable().defaultTo(0);
      t.integer('count_differences').notNullable().defaultTo(0);
      t.integer('unknown_accounts').notNullable().defaultTo(0);
      t.bigInteger('unknown_records').notNullable().defaultTo(0);
      t.string('results_sha256', 64).notNullable();
      t.string('trigger', 16).notNullable(); // import | manual | demo
      t.integer('import_id').unsigned().nullable();
      t.integer('created_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('started_at').notNullable();
      t.bigInteger('finished_at').notNullable();
      t.bigInteger('superseded_at').nullable();
      t.unique(['unit_id', 'period', 'generation']);
      t.index(['period', 'status']);
    });
  }
  if (!(await knex.schema.hasTable('reconcile_run_sources'))) {
    await knex.schema.createTable('reconcile_run_sources', (t) => {
      sameMeaning(knex, t);
      t.integer('run_id').unsigned().notNullable().references('id').inTable('reconcile_runs');
      t.integer('source_id').unsigned().notNullable();
      t.string('kind', 16).notNullable(); // records | counts
      t.boolean('complete').notNullable();
      t.integer('imports').notNullable();
      t.bigInteger('records').notNullable();
      t.bigInteger('matched').notNullable();
      t.bigInteger('unlogged').notNullable();
      t.bigInteger('unconfirmed').notNullable();
      t.integer('count_differences').notNullable();
      t.integer('unknown_accounts').notNullable();
      t.bigInteger('unknown_records').notNullable();
      t.string('results_sha256', 64).notNullable(); // this source's part of the canonical results
      t.primary(['run_id', 'source_id']);
    });
  }
  if (!(await knex.schema.hasTable('reconcile_findings'))) {
    // What needs someone's attention; matched pairs are counted and hashed, not stored.
    await knex.schema.createTable('reconcile_findings', (t) => {
      sameMeaning(knex, t);
      t.bigIncrements('id');
      t.integer('run_id').unsigned().notNullable().references('id').inTable('reconcile_runs');
      t.integer('source_id').unsigned().notNullable();
      t.string('kind', 24).notNullable(); // unlogged | unconfirmed | count-difference | unknown-account
      t.bigInteger('source_record_id').nullable();
      t.bigInteger('entry_id').nullable();
      t.integer('user_id').unsigned().nullable();
      t.string('source_account', 64).nullable();
      t.string('day', 10).nullable();
      t.bigInteger('occurred_at').nullable();
      t.bigInteger('source_count').nullable();
      t.bigInteger('log_count').nullable();
      t.index(['run_id', 'kind', 'id']);
      t.index(['source_record_id']);
    });
  }
  if (!(await knex.schema.hasTable('late_records'))) {
    // 補登: the entry recorded late for an unlogged source record. The entry's queried_at is the
    // real query time (the source's); when it was recorded is here, never backdated.
    await knex.schema.createTable('late_records', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.bigInteger('source_record_id').notNullable().unique();
      t.bigInteger('entry_id').notNullable().unique();
      t.integer('check_item_id').unsigned().nullable();
      t.integer('recorded_by').unsigned().notNullable().references('id').inTable('users');
      t.bigInteger('recorded_at').notNullable();
    });
  }

  // Check items that point at a source record (basis 'unlogged'): entry_id nullable.
  if (!(await knex.schema.hasColumn('check_items', 'source_record_id'))) {
    await knex.schema.alterTable('check_items', (t) => t.bigInteger('source_record_id').nullable());
  }
  if (isMysql(knex)) {
    const [cols] = await knex.raw("SELECT IS_NULLABLE AS n FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'check_items' AND column_name = 'entry_id'");
    if ((cols as any[])[0]?.n === 'NO') await knex.raw('ALTER TABLE check_items MODIFY entry_id BIGINT NULL');
  } else {
    const info: any[] = await knex.raw("PRAGMA table_info('check_items')");
    if (info.find((c) => c.name === 'entry_id')?.notnull) await rebuildCheckItemsSqlite(knex, true);
  }
  if (!(await hasIndex(knex, 'check_items', 'check_items_check_id_source_record_id_unique'))) {
    await knex.schema.alterTable('check_items', (t) => t.unique(['check_id', 'source_record_id'], { indexName: 'check_items_check_id_source_record_id_unique' }));
  }
  if (!(await hasIndex(knex, 'check_items', 'check_items_source_record_id_index'))) {
    await knex.schema.alterTable('check_items', (t) => t.index(['source_record_id'], 'check_items_source_record_id_index'));
  }

  // (Matching reads a person's records in time order through source_records' (user_id, occurred_at) index, migration 0060.)
}

/**
 * SQLite cannot change a column's NOT NULL: the table is rebuilt under the same name (rows, ids
 * and indexes kept), with deferred foreign keys so the investigations that reference its rows stay
 * valid across the swap. Runs inside the migration's transaction.
 */
async function rebuildCheckItemsSqlite(knex: Knex, entryNullable: boolean): Promise<void> {
  const [{ sql }] = await knex('sqlite_master').where({ type: 'table', name: 'check_items' }).select('sql');
  const indexes: Array<{ sql: string }> = await knex('sqlite_master').where({ type: 'index', tbl_name: 'check_items' }).whereNotNull('sql').select('sql');
  const column = /[`"]entry_id[`"]\s+bigint(\s+not null)?/i;
  if (!column.test(sql)) throw new Error('check_items.entry_id: unexpected table definition');
  const next = sql.replace(column, (m: string) => (entryNullable ? m.replace(/\s+not null/i, '') : /not null/i.test(m) ? m : `${m} not null`))
    .replace(/^CREATE TABLE\s+[`"]?check_items[`"]?/i, 'CREATE TABLE `check_items_rebuild`');
  await knex.raw('PRAGMA defer_foreign_keys = ON');
  await knex.raw(next);
  await knex.raw('INSERT INTO check_items_rebuild SELECT * FROM check_items');
  await knex.raw('DROP TABLE check_items');
  await knex.raw('ALTER TABLE check_items_rebuild RENAME TO check_items');
  for (const i of indexes) await knex.raw(i.sql);
}

export async function down(knex: Knex): Promise<void> {
  if (await knex.schema.hasColumn('check_items', 'source_record_id')) {
    // Items of unlogged records cannot survive entry_id NOT NULL again.
    await knex('check_items').whereNull('entry_id').del();
    if (await hasIndex(knex, 'check_items', 'check_items_check_id_source_record_id_unique')) {
      await knex.schema.alterTable('check_items', (t) => t.dropUnique(['check_id', 'source_record_id'], 'check_items_check_id_source_record_id_unique'));
    }
    if (await hasIndex(knex, 'check_items', 'check_items_source_record_id_index')) {
      await knex.schema.alterTable('check_items', (t) => t.dropIndex(['source_record_id'], 'check_items_source_record_id_index'));
    }
    await knex.schema.alterTable('check_items', (t) => t.dropColumn('source_record_id'));
    if (isMysql(knex)) await knex.raw('ALTER TABLE check_items MODIFY entry_id BIGINT NOT NULL');
    else await rebuildCheckItemsSqlite(knex, false);
  }
  for (const table of ['late_records', 'reconcile_findings', 'reconcile_run_sources', 'reconcile_runs']) await knex.schema.dropTableIfExists(table);
}
