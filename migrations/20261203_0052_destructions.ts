// Destruction of query log entries by two-person approval (clause 4(二), 檔案法 §12; issue 15).
// Retention no longer deletes on its own: a job prepares a destruction list (銷毀目錄) per agency,
// a planning-department admin and an ethics officer approve it, and only then are the entries'
// personal fields blanked. The rows stay as tombstones (seq, prev_hash, hash, clerk, time,
// operation code) so the chain still walks; their destruction_id ties them to the signed list
// whose segment hash covers exactly those rows.
import type { Knex } from 'knex';
import { sameMeaning, hasIndex } from './lib/schema.ts';

export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('destructions'))) {
    await knex.schema.createTable('destructions', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('unit_id').unsigned().notNullable().references('id').inTable('units'); // the agency
      t.string('cutoff', 10).notNullable(); // entries queried before this Taipei date (YYYY-MM-DD)
      t.string('from_date', 10).notNullable(); // the first and last entry's Taipei date
      t.string('to_date', 10).notNullable();
      t.bigInteger('first_seq').notNullable();
      t.bigInteger('last_seq').notNullable();
      t.integer('entry_count').notNullable();
      t.string('segment_hash', 64).notNullable(); // SHA-256 over "seq:prev_hash:hash\n" of each entry, in seq order
      t.string('status', 16).notNullable().defaultTo('prepared'); // prepared | executed | void
      t.bigInteger('prepared_at').notNullable();
      t.string('void_reason', 500).nullable();
      t.bigInteger('closed_at').nullable(); // executed or voided
      t.integer('checkpoint_id').unsigned().nullable(); // the signed destruction statement
      t.index(['unit_id', 'status']);
    });
  }
  if (!(await knex.schema.hasTable('destruction_approvals'))) {
    await knex.schema.createTable('destruction_approvals', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('destruction_id').unsigned().notNullable().references('id').inTable('destructions');
      t.string('duty', 16).notNullable(); // planning | ethics
      t.integer('user_id').unsigned().notNullable().references('id').inTable('users');
      t.string('account', 64).notNullable();
      t.bigInteger('approved_at').notNullable();
      t.index(['destruction_id']);
    });
  }
  if (!(await knex.schema.hasColumn('query_logs', 'destruction_id'))) {
    await knex.schema.alterTable('query_logs', (t) => t.integer('destruction_id').unsigned().nullable());
  }
  if (!(await hasIndex(knex, 'query_logs', 'query_logs_destruction_id_index'))) {
    await knex.schema.alterTable('query_logs', (t) => t.index(['destruction_id'], 'query_logs_destruction_id_index'));
  }
}

export async function down(knex: Knex): Promise<void> {
  if (await hasIndex(knex, 'query_logs', 'query_logs_destruction_id_index')) await knex.schema.alterTable('query_logs', (t) => t.dropIndex(['destruction_id'], 'query_logs_destruction_id_index'));
  if (await knex.schema.hasColumn('query_logs', 'destruction_id')) await knex.schema.alterTable('query_logs', (t) => t.dropColumn('destruction_id'));
  await knex.schema.dropTableIfExists('destruction_approvals');
  await knex.schema.dropTableIfExists('destructions');
}
