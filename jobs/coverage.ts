// Per-agency coverage of a period's job (issue 17): which agencies a run did its work for. The job
// writes a row per agency in the same transaction as the work (check, review items, workbook), so
// a rolled-back run leaves no claim behind. 'empty' means the agency had nothing to do then (no
// entries, no accounts); it stays owed the work once it has some.
import type { Conn } from '../server/db.ts';
import { now } from '../server/time.ts';

export type Coverage = 'done' | 'empty';

export async function recordCovered(conn: Conn, run: { runId: number; job: string; period: string }, unitId: number, outcome: Coverage): Promise<void> {
  await conn('job_run_units').insert({ job_run_id: run.runId, job: run.job, period: run.period, unit_id: unitId, outcome, created_at: now() });
}

/** Each agency's latest coverage for (job, period): unit id → outcome. */
export async function latestCoverage(conn: Conn, job: string, period: string): Promise<Map<number, Coverage>> {
  const rows = await conn('job_run_units').where({ job, period }).orderBy('id').select('unit_id', 'outcome');
  return new Map(rows.map((r: any) => [Number(r.unit_id), r.outcome as Coverage]));
}

/**
 * The agencies still owed the work: those with no coverage, and those covered as empty for which
 * `hasWorkNow` now says there is work.
 */
export async function pendingUnits(conn: Conn, job: string, period: string, unitIds: number[], hasWorkNow: (emptyIds: number[]) => Promise<Set<number>>): Promise<number[]> {
  const covered = await latestCoverage(conn, job, period);
  const empty = unitIds.filter((id) => covered.get(id) === 'empty');
  const nowBusy = empty.length ? await hasWorkNow(empty) : new Set<number>();
  return unitIds.filter((id) => !covered.has(id) || (covered.get(id) === 'empty' && nowBusy.has(id)));
}

/** Agencies a run did work for (0 = an empty run). */
export async function coveredCount(conn: Conn, runId: number): Promise<number> {
  const r = await conn('job_run_units').where({ job_run_id: runId, outcome: 'done' }).count({ n: '*' }).first();
  return Number(r?.n ?? 0);
}
