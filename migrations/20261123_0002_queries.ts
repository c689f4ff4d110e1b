// Query request forms (申請單), the append-only chained query log (查詢日誌), its chain head and
// retention checkpoints, and integration service tokens (clause 4(一)).
import type { Knex } from 'knex';
import { sameMeaning } from './lib/schema.ts';

export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('query_requests'))) {
    await knex.schema.createTable('query_requests', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('unit_id').unsigned().notNullable().references('id').inTable('units');
      t.integer('requester_id').unsigned().notNullable().references('id').inTable('users');
      t.string('case_no', 64).notNullable();
      t.string('purpose', 1000).notNullable();
      t.integer('scope_id').unsigned().notNullable().references('id').inTable('scopes');
      // Expected subjects may contain national IDs: stored encrypted (AES-256-GCM), never plain.
      t.text('expected_subjects_cipher').nullable();
      t.string('valid_from', 10).notNullable();
      t.string('valid_to', 10).notNullable();
      t.string('status', 16).notNullable().defaultTo('pending'); // pending | approved | rejected | withdrawn
      t.integer('decided_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('decided_at').nullable();
      t.string('decision_note', 1000).nullable();
      t.bigInteger('created_at').notNullable();
      t.index(['unit_id', 'status']);
      t.index(['requester_id', 'status']);
    });
  }
  if (!(await knex.schema.hasTable('query_logs'))) {
    // One row per NHI query. Append-only: no code path updates or deletes a row except the
    // retention purge. hash = SHA-256(prev_hash ‖ canonical entry); seq orders the chain.
    await knex.schema.createTable('query_logs', (t) => {
      sameMeaning(knex, t);
      t.bigIncrements('id');
      t.bigInteger('seq').notNullable().unique();
      t.integer('user_id').unsigned().notNullable();
      t.string('account', 64).notNullable();
      t.integer('unit_id').unsigned().notNullable();
      t.bigInteger('queried_at').notNullable();
      t.string('op_code', 16).notNullable();
      t.string('scope_code', 16).notNullable();
      t.integer('query_request_id').unsigned().nullable();
      t.string('case_no', 64).notNullable();
      t.string('reason', 500).notNullable();
      t.string('subject_type', 24).notNullable();
      t.string('subject_hmac', 64).notNullable();
      t.text('subject_cipher').notNullable();
      t.string('subject_mask', 64).notNullable();
      t.string('client_ip', 64).nullable();
      t.string('source', 8).notNullable(); // web | api
      t.integer('token_id').unsigned().nullable();
      t.string('prev_hash', 64).notNullable();
      t.string('hash', 64).notNullable();
      t.index(['unit_id', 'queried_at']);
      t.index(['user_id', 'queried_at']);
      t.index(['subject_hmac']);
      t.index(['queried_at']);
    });
  }
  if (!(await knex.schema.hasTable('log_chain_head'))) {
    // Single row (id = 1): the last seq and hash. Appenders lock it, which serialises the chain.
    await knex.schema.createTable('log_chain_head', (t) => {
      sameMeaning(knex, t);
      t.integer('id').primary();
      t.bigInteger('seq').notNullable();
      t.string('hash', 64).notNullable();
      t.bigInteger('updated_at').notNullable();
    });
    await knex('log_chain_head').insert({ id: 1, seq: 0, hash: '0'.repeat(64), updated_at: Date.now() });
  }
  if (!(await knex.schema.hasTable('log_checkpoints'))) {
    // Written by the retention purge: the chain verifies from the last purged (seq, hash).
    await knex.schema.createTable('log_checkpoints', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.bigInteger('seq').notNullable();
      t.string('hash', 64).notNullable();
      t.bigInteger('purged_before').notNullable();
      t.integer('purged_count').notNullable();
      t.bigInteger('created_at').notNullable();
    });
  }
  if (!(await knex.schema.hasTable('service_tokens'))) {
    // Bearer tokens for an agency's business system; bound to one unit, stored as SHA-256.
    await knex.schema.createTable('service_tokens', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.string('name', 100).notNullable();
      t.integer('unit_id').unsigned().notNullable().references('id').inTable('units');
      t.integer('user_id').unsigned().notNullable().references('id').inTable('users');
      t.string('token_hash', 64).notNullable().unique();
      t.string('status', 16).notNullable().defaultTo('active');
      t.integer('created_by').unsigned().nullable();
      t.bigInteger('created_at').notNullable();
      t.bigInteger('revoked_at').nullable();
      t.bigInteger('last_used_at').nullable();
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['service_tokens', 'log_checkpoints', 'log_chain_head', 'query_logs', 'query_requests']) {
    await knex.schema.dropTableIfExists(table);
  }
}
