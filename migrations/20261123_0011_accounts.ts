// Accounts (clause 3): account requests and each step of their sign-off (3(二)1(1)), and the
// periodic account review with its findings and decisions (3(二)2).
// Instants are BIGINT epoch milliseconds (UTC); calendar days are 'YYYY-MM-DD' text.
import type { Knex } from 'knex';
import { sameMeaning } from './lib/schema.ts';

export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('account_requests'))) {
    // An online request (new account, change of roles/permissions, disable, admin hand-over)
    // replacing the paper form; approved by the responsible supervisor, carried out by an admin.
    await knex.schema.createTable('account_requests', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.string('kind', 16).notNullable(); // new | change | disable | handover
      t.string('status', 16).notNullable().defaultTo('pending'); // pending | approved | rejected | done
      t.integer('unit_id').unsigned().notNullable().references('id').inTable('units');
      t.integer('target_user_id').unsigned().nullable().references('id').inTable('users');
      // What is asked for: account, name, rank, roles, NHI query permissions, dates (JSON).
      t.text('payload').notNullable();
      t.string('reason', 1000).notNullable();
      t.integer('requested_by').unsigned().notNullable().references('id').inTable('users');
      t.bigInteger('requested_at').notNullable();
      t.integer('decided_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('decided_at').nullable();
      t.integer('executed_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('executed_at').nullable();
      t.integer('result_user_id').unsigned().nullable().references('id').inTable('users');
      t.index(['unit_id', 'status']);
      t.index(['status']);
    });
  }
  if (!(await knex.schema.hasTable('account_request_steps'))) {
    // Every step of a request with who, when, why and from where (the 電腦紀錄 of 3(二)1(1)).
    await knex.schema.createTable('account_request_steps', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('request_id').unsigned().notNullable().references('id').inTable('account_requests');
      t.string('step', 16).notNullable(); // filed | approved | rejected | executed
      t.integer('actor_id').unsigned().nullable();
      t.string('actor_account', 64).nullable();
      t.bigInteger('at').notNullable();
      t.string('note', 1000).nullable();
      t.string('ip', 64).nullable();
      t.index(['request_id']);
    });
  }
  if (!(await knex.schema.hasTable('account_reviews'))) {
    await knex.schema.createTable('account_reviews', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.string('period', 16).notNullable();
      t.string('trigger', 16).notNullable().defaultTo('schedule'); // schedule | manual
      t.integer('started_by').unsigned().nullable();
      t.bigInteger('started_at').notNullable();
      t.bigInteger('finished_at').nullable();
      t.integer('users_checked').notNullable().defaultTo(0);
      t.integer('findings').notNullable().defaultTo(0);
      t.text('summary').nullable(); // JSON: counts per finding kind, directory reachability
      t.index(['period']);
    });
  }
  if (!(await knex.schema.hasTable('review_items'))) {
    // One finding about one account; the responsible admin keeps it (with a reason) or disables it.
    await knex.schema.createTable('review_items', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('review_id').unsigned().notNullable().references('id').inTable('account_reviews');
      t.integer('user_id').unsigned().notNullable().references('id').inTable('users');
      t.integer('unit_id').unsigned().notNullable().references('id').inTable('units');
      t.string('finding', 32).notNullable();
      t.text('detail').nullable(); // JSON
      t.string('status', 16).notNullable().defaultTo('open'); // open | kept | disabled
      t.integer('decided_by').unsigned().nullable();
      t.bigInteger('decided_at').nullable();
      t.string('decision_reason', 1000).nullable();
      t.index(['review_id']);
      t.index(['unit_id', 'status']);
      t.index(['user_id']);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['review_items', 'account_reviews', 'account_request_steps', 'account_requests']) {
    await knex.schema.dropTableIfExists(table);
  }
}
