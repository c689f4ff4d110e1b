// Monthly spot checks (clause 5(一)), investigations and audit records (clause 5(二)).
// A check is one agency × month × generation: a forced re-run adds the next generation and the
// earlier one stays as history (status 'superseded'). Seed and population digest are recorded
// before selection so anyone can re-derive the sample. Nothing here is edited after sign-off;
// corrections are new audit_records rows linked by supersedes_id / source_type+source_id.
// Instants are BIGINT epoch ms; periods are 'YYYY-MM' text.
import type { Knex } from 'knex';
import { sameMeaning } from './lib/schema.ts';

export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('checks'))) {
    await knex.schema.createTable('checks', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('unit_id').unsigned().notNullable().references('id').inTable('units'); // the agency
      t.string('period', 7).notNullable(); // YYYY-MM
      t.integer('generation').notNullable().defaultTo(1);
      t.string('seed', 64).notNullable(); // hex, 32 random bytes
      t.integer('population').notNullable(); // N: entries of the agency and its subtree in the month
      t.string('population_digest', 64).notNullable(); // SHA-256 over the entries' hashes in seq order
      // The highest query_logs.id that existed when the population was read: entries recorded
      // later (a late upload for that month) are outside this check's population.
      t.bigInteger('population_max_id').notNullable().defaultTo(0);
      t.integer('sample_size').notNullable(); // n: the random part
      t.integer('rate_percent').notNullable(); // the rate and minimum used, for re-derivation
      t.integer('minimum').notNullable();
      t.string('flag_rules', 500).notNullable().defaultTo(''); // rules switched on for this run
      t.integer('checker_id').unsigned().nullable().references('id').inTable('users');
      // Set when no eligible checker exists: shown on the dashboard, never silently skipped.
      t.string('assignment_problem', 500).nullable();
      t.string('status', 16).notNullable().defaultTo('open'); // open | signed-off | superseded
      t.integer('job_run_id').unsigned().nullable();
      t.bigInteger('created_at').notNullable();
      t.integer('signed_off_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('signed_off_at').nullable();
      t.bigInteger('superseded_at').nullable();
      t.unique(['unit_id', 'period', 'generation']);
      t.index(['period', 'status']);
      t.index(['checker_id', 'status']);
    });
  }
  if (!(await knex.schema.hasTable('check_items'))) {
    await knex.schema.createTable('check_items', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('check_id').unsigned().notNullable().references('id').inTable('checks');
      t.bigInteger('entry_id').notNullable(); // query_logs.id
      // 'random' or 'flag:<rule>' (the first rule when only flagged); every rule hit is in flags.
      t.string('basis', 48).notNullable();
      t.string('flags', 300).notNullable().defaultTo(''); // comma list of rules, may be empty
      t.string('sort_key', 64).nullable(); // SHA-256(seed ‖ entry id) for random items
      // Normally the check's checker; another eligible checker or the agency head when the
      // checker recorded this entry themself (nobody checks their own query).
      t.integer('checker_id').unsigned().nullable().references('id').inTable('users');
      t.string('verdict', 24).nullable(); // proper | improper | explanation-needed
      t.string('note', 2000).nullable();
      t.integer('decided_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('decided_at').nullable();
      t.bigInteger('explanation_requested_at').nullable();
      t.string('explanation', 2000).nullable(); // the clerk's answer
      t.integer('explained_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('explained_at').nullable();
      t.unique(['check_id', 'entry_id']);
      t.index(['entry_id']);
      t.index(['checker_id']);
    });
  }
  if (!(await knex.schema.hasTable('investigations'))) {
    await knex.schema.createTable('investigations', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('unit_id').unsigned().notNullable().references('id').inTable('units'); // the agency
      t.integer('check_id').unsigned().nullable().references('id').inTable('checks');
      t.integer('check_item_id').unsigned().nullable().references('id').inTable('check_items');
      t.bigInteger('entry_id').nullable(); // the query log entry that triggered it
      t.string('title', 200).notNullable();
      t.string('status', 16).notNullable().defaultTo('open'); // open | concluded
      t.integer('opened_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('opened_at').notNullable();
      t.text('conclusion').nullable();
      t.integer('concluded_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('concluded_at').nullable();
      t.integer('audit_record_id').unsigned().nullable();
      t.index(['unit_id', 'status']);
      t.index(['check_item_id']);
    });
  }
  if (!(await knex.schema.hasTable('investigation_participants'))) {
    // Clause 5(二): the business unit, the ethics unit (政風) and the IT unit take part.
    await knex.schema.createTable('investigation_participants', (t) => {
      sameMeaning(knex, t);
      t.integer('investigation_id').unsigned().notNullable().references('id').inTable('investigations');
      t.integer('user_id').unsigned().notNullable().references('id').inTable('users');
      t.string('side', 16).notNullable(); // business | ethics | it
      t.integer('added_by').unsigned().nullable();
      t.bigInteger('added_at').notNullable();
      t.primary(['investigation_id', 'user_id', 'side']);
      t.index(['user_id']);
    });
  }
  if (!(await knex.schema.hasTable('investigation_notes'))) {
    // The timeline: notes and evidence, append-only.
    await knex.schema.createTable('investigation_notes', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('investigation_id').unsigned().notNullable().references('id').inTable('investigations');
      t.string('kind', 16).notNullable(); // note | evidence
      t.text('body').notNullable();
      t.string('evidence_ref', 500).nullable(); // document number, file location, query log id…
      t.integer('author_id').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('created_at').notNullable();
      t.index(['investigation_id', 'created_at']);
    });
  }
  if (!(await knex.schema.hasTable('audit_records'))) {
    // 稽核紀錄: investigation outcomes, internal-audit outcomes (audits capability) and others.
    // Never updated after signing; a correction is a new row with supersedes_id.
    await knex.schema.createTable('audit_records', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('unit_id').unsigned().notNullable().references('id').inTable('units');
      t.string('kind', 24).notNullable(); // investigation | internal-audit | other
      t.string('title', 200).notNullable();
      t.string('period', 16).nullable(); // e.g. 2026-03, 2026-H1, 2026
      t.text('summary').nullable();
      t.text('findings').nullable();
      t.text('conclusion').nullable();
      t.string('source_type', 32).nullable(); // investigation | internal-audit | check | …
      t.integer('source_id').unsigned().nullable();
      t.integer('signed_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('signed_at').nullable();
      t.integer('supersedes_id').unsigned().nullable().references('id').inTable('audit_records');
      t.integer('created_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('created_at').notNullable();
      t.index(['unit_id', 'kind']);
      t.index(['source_type', 'source_id']);
      t.index(['created_at']);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['audit_records', 'investigation_notes', 'investigation_participants', 'investigations', 'check_items', 'checks']) {
    await knex.schema.dropTableIfExists(table);
  }
}
