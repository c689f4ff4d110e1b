// Batch queries and import withdrawal (issue 16).
//
// Batch queries (批次查詢, clause 2(一): the monthly media-file exchange): the batch is one query log
// entry (subject_type 'batch'); what the chain cannot hold in its fixed fields is kept beside it —
// `batch_queries` (the file's SHA-256, subject count, covering document number 發文字號) and
// `batch_subjects` (every subject's HMAC, so "who queried this person" finds them). The entry's
// subject_hmac is a keyed digest over both (server/queries/batch.ts), so the chain covers them and
// verify-log recomputes it from these tables.
//
// Import withdrawal: an import can be withdrawn (who, when, why); its records are kept but leave
// matching. `live_slot` makes "one live import per source, agency and month" a unique key on both
// databases: 0 while live, NULL once withdrawn (several NULLs never collide). Imports that were
// already live side by side before this migration keep their own id as slot, so the migration
// withdraws nothing on its own; the service refuses a new import while any is live.
// Re-runnable: each table, column and index is added only when missing.
import type { Knex } from 'knex';
import { hasIndex, sameMeaning } from './lib/schema.ts';

const LIVE = 'reconcile_imports_live_index';

export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('batch_queries'))) {
    await knex.schema.createTable('batch_queries', (t) => {
      sameMeaning(knex, t);
      t.bigInteger('entry_id').unsigned().notNullable().primary(); // query_logs.id of the batch entry
      t.string('file_sha256', 64).notNullable();
      t.integer('subject_count').notNullable();
      t.string('document_no', 100).notNullable(); // 發文字號 (函號) of the covering letter
      t.string('file_name', 255).nullable();
      t.index(['file_sha256']);
    });
  }
  if (!(await knex.schema.hasTable('batch_subjects'))) {
    await knex.schema.createTable('batch_subjects', (t) => {
      sameMeaning(knex, t);
      t.bigInteger('entry_id').unsigned().notNullable();
      t.string('subject_hmac', 64).notNullable();
      t.primary(['entry_id', 'subject_hmac']);
      t.index(['subject_hmac']);
    });
  }
  const cols: Array<[string, (t: Knex.AlterTableBuilder) => void]> = [
    ['withdrawn_at', (t) => t.bigInteger('withdrawn_at').nullable()],
    ['withdrawn_by', (t) => t.integer('withdrawn_by').unsigned().nullable()],
    ['withdraw_reason', (t) => t.string('withdraw_reason', 500).nullable()],
    ['live_slot', (t) => t.integer('live_slot').nullable()],
  ];
  // One ALTER for the missing columns (each ALTER rebuilds the table on MariaDB).
  const missing: typeof cols = [];
  for (const c of cols) if (!(await knex.schema.hasColumn('reconcile_imports', c[0]))) missing.push(c);
  if (missing.length) await knex.schema.alterTable('reconcile_imports', (t) => missing.forEach(([, add]) => add(t)));
  if (!(await hasIndex(knex, 'reconcile_imports', LIVE))) {
    // The first live import of each source, agency and month takes slot 0; any later one (live
    // side by side before this migration) its own id, so the unique index can be built.
    const rows = await knex('reconcile_imports').whereNull('withdrawn_at').whereNull('live_slot').orderBy('id').select('id', 'source_id', 'unit_id', 'period');
    const seen = new Set<string>();
    for (const r of rows) {
      const k = `${r.source_id}|${r.unit_id}|${r.period}`;
      await knex('reconcile_imports').where({ id: r.id }).update({ live_slot: seen.has(k) ? Number(r.id) : 0 });
      seen.add(k);
    }
    await knex.schema.alterTable('reconcile_imports', (t) => t.unique(['source_id', 'unit_id', 'period', 'live_slot'], { indexName: LIVE }));
  }
}

export async function down(knex: Knex): Promise<void> {
  const index = await hasIndex(knex, 'reconcile_imports', LIVE);
  const present: string[] = [];
  for (const name of ['live_slot', 'withdraw_reason', 'withdrawn_by', 'withdrawn_at']) if (await knex.schema.hasColumn('reconcile_imports', name)) present.push(name);
  if (index || present.length) {
    await knex.schema.alterTable('reconcile_imports', (t) => {
      if (index) t.dropUnique(['source_id', 'unit_id', 'period', 'live_slot'], LIVE);
      if (present.length) t.dropColumns(...present);
    });
  }
  await knex.schema.dropTableIfExists('batch_subjects');
  await knex.schema.dropTableIfExists('batch_queries');
}
