// Internal audits (clause 5(三)), retained NHI data and its destruction (4(二)1–2), yearly link
// reviews (4(二)3), annual filings (5(五)) and background export jobs.
// Instants are BIGINT epoch ms; days 'YYYY-MM-DD'; half-years 'YYYY-H1' / 'YYYY-H2'.
import type { Knex } from 'knex';
import { sameMeaning } from './lib/schema.ts';

export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('internal_audits'))) {
    // One audit per agency × half-year; covers the agency and its subordinate units.
    // Never edited after signing (status 'signed'); the outcome is also an audit_records row.
    await knex.schema.createTable('internal_audits', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('unit_id').unsigned().notNullable().references('id').inTable('units');
      t.string('period', 7).notNullable(); // YYYY-H1 | YYYY-H2
      t.string('status', 16).notNullable().defaultTo('open'); // open | signed
      t.integer('auditor_id').unsigned().nullable().references('id').inTable('users');
      t.text('checklist', 'mediumtext').notNullable(); // JSON: items with system evidence and the auditor's result
      t.bigInteger('evidence_at').notNullable();
      t.text('findings').nullable();
      t.text('conclusion').nullable();
      t.integer('opened_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('opened_at').notNullable();
      t.integer('signed_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('signed_at').nullable();
      t.string('keep_until', 10).nullable(); // signed day + 5 years
      t.integer('audit_record_id').unsigned().nullable();
      t.unique(['unit_id', 'period']);
    });
  }
  if (!(await knex.schema.hasTable('retained_data'))) {
    // 4(二)1–2: NHI data a unit keeps with a case (paper or electronic) and when it must go.
    await knex.schema.createTable('retained_data', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('unit_id').unsigned().notNullable().references('id').inTable('units');
      t.string('case_no', 64).notNullable();
      t.string('description', 500).notNullable(); // what
      t.string('location', 300).notNullable(); // where
      t.string('medium', 16).notNullable(); // paper | electronic
      t.string('custodian', 100).notNullable();
      t.string('access', 500).notNullable(); // who may access it
      t.string('destroy_by', 10).notNullable();
      t.string('status', 16).notNullable().defaultTo('retained'); // retained | destroyed
      t.integer('created_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('created_at').notNullable();
      t.index(['unit_id', 'status']);
      t.index(['status', 'destroy_by']);
    });
  }
  if (!(await knex.schema.hasTable('data_destructions'))) {
    await knex.schema.createTable('data_destructions', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('retained_id').unsigned().notNullable().unique().references('id').inTable('retained_data');
      t.string('destroyed_on', 10).notNullable();
      t.string('method', 200).notNullable(); // 碎紙, 刪除並清空資源回收筒 …
      t.string('witness', 100).notNullable();
      t.string('note', 500).nullable();
      t.integer('recorded_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('recorded_at').notNullable();
    });
  }
  if (!(await knex.schema.hasTable('link_reviews'))) {
    // 4(二)3: each agency × scope authorisation (unit_scopes) reviewed once a year.
    await knex.schema.createTable('link_reviews', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('unit_scope_id').unsigned().notNullable().references('id').inTable('unit_scopes');
      t.integer('unit_id').unsigned().notNullable().references('id').inTable('units');
      t.integer('scope_id').unsigned().notNullable().references('id').inTable('scopes');
      t.integer('year').notNullable();
      t.integer('use_count').notNullable(); // query log entries of the agency subtree under the scope in the year
      t.bigInteger('last_used_at').nullable();
      t.string('outcome', 16).notNullable(); // keep | terminate
      t.string('reason', 1000).notNullable();
      t.integer('reviewed_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('reviewed_at').notNullable();
      t.unique(['unit_scope_id', 'year']);
      t.index(['year']);
    });
  }
  if (!(await knex.schema.hasTable('link_terminations'))) {
    // A 'terminate' review produces a request to the data provider to end the link.
    await knex.schema.createTable('link_terminations', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('link_review_id').unsigned().notNullable().unique().references('id').inTable('link_reviews');
      t.integer('unit_id').unsigned().notNullable().references('id').inTable('units');
      t.integer('scope_id').unsigned().notNullable().references('id').inTable('scopes');
      t.string('status', 16).notNullable().defaultTo('requested'); // requested | terminated
      t.string('letter_no', 100).nullable();
      t.integer('requested_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('requested_at').notNullable();
      t.bigInteger('closed_at').nullable();
    });
  }
  if (!(await knex.schema.hasTable('export_jobs'))) {
    // Background workbook exports with progress. active_key is set only while queued/running and
    // is unique, so two exports of the same agency and year at once run once.
    await knex.schema.createTable('export_jobs', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.string('kind', 24).notNullable(); // annual | audit-package
      t.integer('unit_id').unsigned().nullable(); // null: county-wide
      t.string('params', 500).notNullable(); // JSON
      t.string('active_key', 100).nullable().unique();
      t.string('status', 16).notNullable(); // running | done | failed
      t.double('progress').notNullable().defaultTo(0);
      t.string('note', 200).nullable();
      t.integer('requested_by').unsigned().nullable();
      t.bigInteger('requested_at').notNullable();
      t.bigInteger('finished_at').nullable();
      t.string('file_name', 200).nullable();
      t.string('file_path', 500).nullable();
      t.string('sha256', 64).nullable();
      t.bigInteger('bytes').nullable();
      t.text('result').nullable(); // JSON: counts and sheet hashes
      t.string('error', 2000).nullable();
      t.index(['kind', 'unit_id']);
    });
  }
  if (!(await knex.schema.hasTable('annual_filings'))) {
    // 5(五): the agency files the previous year's workbook; the planning department acknowledges.
    await knex.schema.createTable('annual_filings', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('unit_id').unsigned().notNullable().references('id').inTable('units');
      t.integer('year').notNullable();
      t.integer('export_id').unsigned().nullable().references('id').inTable('export_jobs');
      t.string('workbook_sha256', 64).notNullable();
      t.integer('submitted_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('submitted_at').notNullable();
      t.integer('acknowledged_by').unsigned().nullable().references('id').inTable('users');
      t.bigInteger('acknowledged_at').nullable();
      t.string('ack_note', 500).nullable();
      t.unique(['unit_id', 'year']);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['annual_filings', 'export_jobs', 'link_terminations', 'link_reviews', 'data_destructions', 'retained_data', 'internal_audits']) {
    await knex.schema.dropTableIfExists(table);
  }
}
