// Mail (issue 18): the outbox (a message is written in the same transaction as the event that
// causes it; a job delivers it with retries), each person's reminder preference, and the sign-in
// addresses already seen (for notices of a sign-in from a new address); the ethics unit's watch
// list (identifiers as HMAC only) and the alert scan's watermark.
// Instants are BIGINT epoch ms.
import type { Knex } from 'knex';
import { hasIndex, sameMeaning } from './lib/schema.ts';

export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('mail_outbox'))) {
    await knex.schema.createTable('mail_outbox', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.string('kind', 32).notNullable(); // reminder | escalation | digest | alert | sign-in | lockout …
      // One message per cause: a second enqueue of the same duty, alert or notice is a no-op.
      t.string('dedupe_key', 191).nullable().unique();
      t.integer('recipient_id').unsigned().nullable().references('id').inTable('users');
      t.string('to_address', 254).nullable(); // null: the person has no address (in-app only)
      t.string('subject', 200).notNullable();
      t.text('body').notNullable();
      t.string('status', 16).notNullable().defaultTo('pending'); // pending | sent | failed | no-address
      t.integer('attempts').notNullable().defaultTo(0);
      t.bigInteger('next_attempt_at').notNullable();
      // A claim: the instance's token and until when it holds the row (exactly once across instances).
      t.string('lease_owner', 64).nullable();
      t.bigInteger('lease_until').nullable();
      t.string('last_error', 500).nullable();
      t.string('message_id', 200).nullable();
      t.bigInteger('created_at').notNullable();
      t.bigInteger('sent_at').nullable();
      t.index(['status', 'next_attempt_at']);
      t.index(['recipient_id']);
    });
  }
  if (!(await knex.schema.hasTable('mail_preferences'))) {
    await knex.schema.createTable('mail_preferences', (t) => {
      sameMeaning(knex, t);
      t.integer('user_id').unsigned().primary().references('id').inTable('users');
      t.string('reminders', 16).notNullable().defaultTo('immediate'); // immediate | digest
      t.bigInteger('updated_at').notNullable();
    });
  }
  if (!(await knex.schema.hasTable('sign_in_addresses'))) {
    await knex.schema.createTable('sign_in_addresses', (t) => {
      sameMeaning(knex, t);
      t.integer('user_id').unsigned().notNullable().references('id').inTable('users');
      t.string('address', 64).notNullable();
      t.bigInteger('first_at').notNullable();
      t.primary(['user_id', 'address']);
    });
  }
  // The to-do list asks each checker for their undecided items (verdict null, or explained): an index
  // that starts with the checker and the verdict reads only those, not every item they ever had.
  if (!(await hasIndex(knex, 'check_items', 'check_items_checker_verdict_index'))) {
    await knex.schema.alterTable('check_items', (t) => t.index(['checker_id', 'verdict', 'check_id'], 'check_items_checker_verdict_index'));
  }
  if (!(await knex.schema.hasTable('watch_list'))) {
    // 政風 watch list: VIPs, people in the news, the county's own staff. Only the keyed HMAC of the
    // identifier is kept (server/queries/subject.ts): no plain value, no mask, no name.
    await knex.schema.createTable('watch_list', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.string('subject_type', 24).notNullable();
      t.string('subject_hmac', 64).notNullable();
      t.string('status', 16).notNullable().defaultTo('active'); // active | removed
      t.integer('added_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('added_at').notNullable();
      t.string('add_reason', 500).notNullable();
      t.integer('removed_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('removed_at').nullable();
      t.string('remove_reason', 500).nullable();
      t.index(['subject_hmac', 'status']);
    });
  }
  if (!(await knex.schema.hasTable('mail_watermarks'))) {
    // How far a scan has read (e.g. the last query log id looked at for watch-list hits and self-lookups).
    await knex.schema.createTable('mail_watermarks', (t) => {
      sameMeaning(knex, t);
      t.string('name', 32).primary();
      t.bigInteger('value').notNullable();
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  if (await hasIndex(knex, 'check_items', 'check_items_checker_verdict_index')) await knex.schema.alterTable('check_items', (t) => t.dropIndex(['checker_id', 'verdict', 'check_id'], 'check_items_checker_verdict_index'));
  for (const table of ['mail_watermarks', 'watch_list', 'sign_in_addresses', 'mail_preferences', 'mail_outbox']) await knex.schema.dropTableIfExists(table);
}
