// Reconciliation sources (issue 16): systems where the queries really happen and that keep their
// own record (the NHI administration's record of the agency's accounts, a business system's log,
// a media exchange's file list); the versioned mapping that reads each source's files; each
// account's identifier at each source; the imports (file SHA-256, rows, mapping version, who) and
// the source records they hold. Subjects are stored as the query log stores them: keyed HMAC,
// AES-256-GCM ciphertext bound to its record, mask. Instants are BIGINT epoch ms; periods 'YYYY-MM'.
// Re-runnable: each table is created only when missing.
import type { Knex } from 'knex';
import { sameMeaning } from './lib/schema.ts';

export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('reconcile_sources'))) {
    await knex.schema.createTable('reconcile_sources', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.string('code', 32).notNullable().unique();
      t.string('name', 100).notNullable();
      t.string('kind', 8).notNullable(); // records | counts (totals per account and day only)
      // The source claims to hold every query of an account and period it covers: an entry it lacks is "unconfirmed".
      t.boolean('complete').notNullable().defaultTo(false);
      t.integer('unit_id').unsigned().nullable().references('id').inTable('units'); // owning agency; null: county-wide (planning dept)
      t.integer('created_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('created_at').notNullable();
      t.index(['unit_id']);
    });
  }
  if (!(await knex.schema.hasTable('reconcile_mappings'))) {
    // Never edited: a change is the next version; an import names the version it was read with.
    await knex.schema.createTable('reconcile_mappings', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('source_id').unsigned().notNullable().references('id').inTable('reconcile_sources');
      t.integer('version').notNullable();
      t.text('columns').notNullable(); // JSON: {account, date, time?, subject?, opCode?, count?} → header names
      t.string('encoding', 16).notNullable(); // utf-8 (BOM or not) | big5 (CP950); xlsx needs none
      t.string('date_style', 16).notNullable(); // roc-compact 1131203 | roc-slash 113/12/03 | ad 2024-12-03
      t.integer('header_row').notNullable().defaultTo(1); // row of the column names (title lines above it)
      t.integer('created_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('created_at').notNullable();
      t.unique(['source_id', 'version']);
    });
  }
  if (!(await knex.schema.hasTable('source_account_links'))) {
    // An account's identifier at a source. A source account with no link is an unknown account
    // (clause 3(二)1(4): possibly shared or unregistered).
    await knex.schema.createTable('source_account_links', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('source_id').unsigned().notNullable().references('id').inTable('reconcile_sources');
      t.integer('user_id').unsigned().notNullable().references('id').inTable('users');
      t.string('source_account', 64).notNullable();
      t.integer('created_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('created_at').notNullable();
      t.unique(['source_id', 'source_account']);
      t.index(['user_id']);
    });
  }
  if (!(await knex.schema.hasTable('reconcile_imports'))) {
    await knex.schema.createTable('reconcile_imports', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('source_id').unsigned().notNullable().references('id').inTable('reconcile_sources');
      t.integer('mapping_id').unsigned().notNullable().references('id').inTable('reconcile_mappings');
      t.integer('unit_id').unsigned().notNullable().references('id').inTable('units'); // the agency
      t.string('period', 7).notNullable();
      t.string('file_name', 255).notNullable();
      t.string('file_sha256', 64).notNullable();
      t.integer('row_count').notNullable(); // data rows of the file
      t.integer('imported_by').unsigned().nullable().references('id').inTable('users'); // null: the command line
      t.string('via', 8).notNullable().defaultTo('web'); // web | api | cli | demo
      t.bigInteger('imported_at').notNullable();
      t.unique(['source_id', 'file_sha256']); // the same file twice is refused
      t.index(['unit_id', 'period']);
    });
  }
  if (!(await knex.schema.hasTable('source_records'))) {
    // One query at the source (records), or one account's total of a Taipei day (counts: occurred_at
    // is the day's start, count the total). user_id null: the source account is linked to nobody.
    await knex.schema.createTable('source_records', (t) => {
      sameMeaning(knex, t);
      t.bigIncrements('id');
      t.integer('import_id').unsigned().notNullable().references('id').inTable('reconcile_imports');
      t.integer('row_no').notNullable(); // the row in the file (the first data row of a day's total)
      t.string('source_account', 64).notNullable();
      t.integer('user_id').unsigned().nullable();
      t.bigInteger('occurred_at').notNullable();
      t.string('subject_type', 24).nullable(); // null for counts
      t.string('subject_hmac', 64).nullable();
      t.text('subject_cipher').nullable();
      t.string('subject_mask', 64).nullable();
      t.string('op_code', 16).nullable();
      t.integer('count').nullable();
      t.index(['import_id']);
      t.index(['user_id', 'occurred_at']);
      t.index(['subject_hmac']);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('source_records');
  await knex.schema.dropTableIfExists('reconcile_imports');
  await knex.schema.dropTableIfExists('source_account_links');
  await knex.schema.dropTableIfExists('reconcile_mappings');
  await knex.schema.dropTableIfExists('reconcile_sources');
}
