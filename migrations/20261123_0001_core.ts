// Core schema: unit tree, business scopes (clause 2), agency × scope authorisations, operation
// codes, users/roles/ranks/permissions, sessions, job runs, system events, county settings.
// Instants are BIGINT epoch milliseconds (UTC); calendar days are 'YYYY-MM-DD' text.
import type { Knex } from 'knex';
import { SCOPES, OP_CODES } from './lib/seed-data.ts';
import { sameMeaning } from './lib/schema.ts';

const now = () => Date.now();


export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('units'))) {
    await knex.schema.createTable('units', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.string('code', 32).notNullable().unique();
      t.string('name', 100).notNullable();
      // planning = 計畫處 (root), agency = 業務機關, unit = 轄屬機關(單位)
      t.string('kind', 16).notNullable();
      t.integer('parent_id').unsigned().nullable().references('id').inTable('units');
      t.boolean('has_sections').notNullable().defaultTo(true);
      t.string('status', 16).notNullable().defaultTo('active');
      t.string('case_no_pattern', 200).nullable();
      t.boolean('require_query_request').notNullable().defaultTo(true);
      t.bigInteger('created_at').notNullable();
      t.bigInteger('closed_at').nullable();
      t.index(['parent_id']);
    });
  }
  if (!(await knex.schema.hasTable('scopes'))) {
    await knex.schema.createTable('scopes', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.string('code', 16).notNullable().unique(); // e.g. '2-1' for 第二點第(一)款
      t.string('clause', 32).notNullable(); // 二(一)
      t.string('title', 200).notNullable();
      t.text('legal_basis').notNullable();
      t.boolean('active').notNullable().defaultTo(true);
      t.integer('sort').notNullable();
    });
    await knex('scopes').insert(SCOPES.map((s, i) => ({ ...s, sort: i + 1 })));
  }
  if (!(await knex.schema.hasTable('unit_scopes'))) {
    // 業務機關 × 業務範圍: the NHI links the county has had approved for each agency.
    await knex.schema.createTable('unit_scopes', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('unit_id').unsigned().notNullable().references('id').inTable('units');
      t.integer('scope_id').unsigned().notNullable().references('id').inTable('scopes');
      t.string('status', 16).notNullable().defaultTo('active');
      t.string('authorised_on', 10).nullable();
      t.string('terminated_on', 10).nullable();
      t.bigInteger('created_at').notNullable();
      t.unique(['unit_id', 'scope_id']);
    });
  }
  if (!(await knex.schema.hasTable('op_codes'))) {
    await knex.schema.createTable('op_codes', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.string('code', 16).notNullable().unique();
      t.string('name', 100).notNullable();
      t.string('description', 500).nullable();
      t.boolean('active').notNullable().defaultTo(true);
      t.bigInteger('created_at').notNullable();
      t.bigInteger('updated_at').notNullable();
    });
    const ts = now();
    await knex('op_codes').insert(OP_CODES.map((o) => ({ ...o, active: true, created_at: ts, updated_at: ts })));
  }
  if (!(await knex.schema.hasTable('users'))) {
    await knex.schema.createTable('users', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.string('account', 64).notNullable().unique();
      t.string('name', 100).notNullable();
      t.integer('unit_id').unsigned().notNullable().references('id').inTable('units');
      // staff < section_chief (股長) < division_chief (科長) < deputy_head < head (機關首長)
      t.string('rank', 24).notNullable().defaultTo('staff');
      t.string('title', 100).nullable();
      t.string('email', 200).nullable();
      t.string('phone', 50).nullable();
      // Keyed HMAC of the person's national ID: finds one person holding two accounts (3(二)1(4)).
      t.string('person_hmac', 64).nullable();
      t.string('auth_source', 8).notNullable().defaultTo('local'); // local | ldap
      t.string('password_hash', 255).nullable();
      t.bigInteger('password_changed_at').nullable();
      t.boolean('must_change_password').notNullable().defaultTo(true);
      t.string('activation_hash', 128).nullable();
      t.bigInteger('activation_expires_at').nullable();
      t.integer('failed_logins').notNullable().defaultTo(0);
      t.bigInteger('locked_until').nullable();
      t.string('status', 16).notNullable().defaultTo('pending'); // pending | active | disabled
      t.string('disable_on', 10).nullable(); // scheduled disable (clause 3(二)1(6))
      t.bigInteger('disabled_at').nullable();
      t.string('disabled_reason', 500).nullable();
      t.bigInteger('last_login_at').nullable();
      t.string('last_login_ip', 64).nullable();
      t.integer('created_by').unsigned().nullable();
      t.bigInteger('created_at').notNullable();
      t.bigInteger('updated_at').notNullable();
      t.index(['unit_id']);
      t.index(['person_hmac']);
    });
  }
  if (!(await knex.schema.hasTable('user_roles'))) {
    await knex.schema.createTable('user_roles', (t) => {
      sameMeaning(knex, t);
      t.integer('user_id').unsigned().notNullable().references('id').inTable('users');
      t.string('role', 24).notNullable();
      t.bigInteger('granted_at').notNullable();
      t.integer('granted_by').unsigned().nullable();
      t.primary(['user_id', 'role']);
    });
  }
  if (!(await knex.schema.hasTable('user_permissions'))) {
    // The user's NHI query permission set (scope × operation code), within the unit's links.
    await knex.schema.createTable('user_permissions', (t) => {
      sameMeaning(knex, t);
      t.integer('user_id').unsigned().notNullable().references('id').inTable('users');
      t.integer('scope_id').unsigned().notNullable().references('id').inTable('scopes');
      t.integer('op_code_id').unsigned().notNullable().references('id').inTable('op_codes');
      t.bigInteger('granted_at').notNullable();
      t.primary(['user_id', 'scope_id', 'op_code_id']);
    });
  }
  if (!(await knex.schema.hasTable('password_history'))) {
    await knex.schema.createTable('password_history', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('user_id').unsigned().notNullable().references('id').inTable('users');
      t.string('password_hash', 255).notNullable();
      t.bigInteger('created_at').notNullable();
      t.index(['user_id']);
    });
  }
  if (!(await knex.schema.hasTable('sessions'))) {
    await knex.schema.createTable('sessions', (t) => {
      sameMeaning(knex, t);
      t.string('sid', 128).primary();
      t.integer('user_id').unsigned().nullable();
      t.text('sess', 'mediumtext').notNullable();
      t.bigInteger('expires_at').notNullable();
      t.string('ip', 64).nullable();
      t.bigInteger('created_at').notNullable();
      t.bigInteger('last_seen_at').notNullable();
      t.index(['user_id']);
      t.index(['expires_at']);
    });
  }
  if (!(await knex.schema.hasTable('job_runs'))) {
    // The run lock: one row per (job, period, generation). Generation 1 is the first run; a
    // forced re-run inserts the next generation, so the earlier run stays as history.
    await knex.schema.createTable('job_runs', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.string('job', 48).notNullable();
      t.string('period', 16).notNullable();
      t.integer('generation').notNullable();
      t.string('status', 16).notNullable(); // running | done | failed
      t.boolean('forced').notNullable().defaultTo(false);
      t.string('trigger', 16).notNullable().defaultTo('manual'); // manual | schedule | catch-up
      t.string('host', 100).nullable();
      t.integer('pid').nullable();
      t.bigInteger('started_at').notNullable();
      t.bigInteger('finished_at').nullable();
      t.text('result').nullable();
      t.text('error').nullable();
      t.unique(['job', 'period', 'generation']);
    });
  }
  if (!(await knex.schema.hasTable('system_events'))) {
    // Logins, failures, admin actions, exports, searches: who, what, to whom, when, from where.
    await knex.schema.createTable('system_events', (t) => {
      sameMeaning(knex, t);
      t.bigIncrements('id');
      t.bigInteger('at').notNullable();
      t.integer('actor_id').unsigned().nullable();
      t.string('actor_account', 64).nullable();
      t.string('action', 48).notNullable();
      t.string('outcome', 16).notNullable().defaultTo('ok');
      t.string('target_type', 32).nullable();
      t.string('target_id', 64).nullable();
      t.integer('unit_id').unsigned().nullable();
      t.string('ip', 64).nullable();
      t.text('detail').nullable();
      t.index(['at']);
      t.index(['action', 'at']);
      t.index(['actor_id', 'at']);
    });
  }
  if (!(await knex.schema.hasTable('county_settings'))) {
    await knex.schema.createTable('county_settings', (t) => {
      sameMeaning(knex, t);
      t.string('key', 64).primary();
      t.text('value').notNullable();
      t.bigInteger('updated_at').notNullable();
      t.integer('updated_by').unsigned().nullable();
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['county_settings', 'system_events', 'job_runs', 'sessions', 'password_history', 'user_permissions', 'user_roles', 'users', 'op_codes', 'unit_scopes', 'scopes', 'units']) {
    await knex.schema.dropTableIfExists(table);
  }
}
