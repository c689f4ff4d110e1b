// Sign-in failures per account name and source address (資通系統防護基準 登入失敗處理). A streak
// from one address locks the account for that address only, so a stranger cannot lock the real
// user out; the name is kept as typed, so a name that does not exist locks the same way and 423
// tells nothing about who exists. In the database, so several instances count together.
import type { Knex } from 'knex';
import { sameMeaning } from './lib/schema.ts';

export async function up(knex: Knex): Promise<void> {
  if (await knex.schema.hasTable('login_failures')) return;
  await knex.schema.createTable('login_failures', (t) => {
    sameMeaning(knex, t);
    t.string('account', 64).notNullable();
    t.string('ip', 64).notNullable();
    t.integer('failures').notNullable().defaultTo(0);
    t.bigInteger('locked_until').nullable();
    t.bigInteger('updated_at').notNullable();
    t.primary(['account', 'ip']);
    // Old streaks are pruned by age.
    t.index(['updated_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('login_failures');
}
