// What each run of a per-agency job covered (issue 17): one row per (run, agency). A period's job
// is done per agency: an agency with no row for (job, period), or whose only row says 'empty'
// while it now has work, is still owed its check, review or workbook, and the next run or
// catch-up for the period does just those (a top-up run, the next generation of job_runs). The
// (job, period) lock of job_runs is unchanged, so several instances still run a period once at a
// time. job_runs.covered counts the agencies a run did work for: 0 is an empty run, shown as such.
import type { Knex } from 'knex';
import { sameMeaning } from './lib/schema.ts';

export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('job_run_units'))) {
    await knex.schema.createTable('job_run_units', (t) => {
      sameMeaning(knex, t);
      t.increments('id');
      t.integer('job_run_id').unsigned().notNullable().references('id').inTable('job_runs');
      t.string('job', 48).notNullable();
      t.string('period', 16).notNullable();
      t.integer('unit_id').unsigned().notNullable().references('id').inTable('units');
      t.string('outcome', 16).notNullable(); // done | empty
      t.bigInteger('created_at').notNullable();
      t.unique(['job_run_id', 'unit_id']);
      t.index(['job', 'period', 'unit_id']);
    });
  }
  if (!(await knex.schema.hasColumn('job_runs', 'covered'))) {
    await knex.schema.alterTable('job_runs', (t) => {
      t.integer('covered').nullable(); // agencies with work done; null for jobs that are not per agency
      t.string('scope', 16).notNullable().defaultTo('all'); // all | missing (top-up) | agency (one, from the web)
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('job_run_units');
  if (await knex.schema.hasColumn('job_runs', 'covered')) {
    await knex.schema.alterTable('job_runs', (t) => {
      t.dropColumn('covered');
      t.dropColumn('scope');
    });
  }
}
