// Drawing a missing check from the web (issue 17): the planning department draws the check an
// agency is still owed for a past month (created, or given entries, after the month's run). The
// draw is the monthly-sampling job for that one agency, under the same (job, period) run lock, so
// it cannot race the schedule or another instance; it is recorded as the job's run and an event.
import type { JobContext } from '../../jobs/registry.ts';
import { runJob } from '../../jobs/runner.ts';
import { previousMonthPeriod } from '../../jobs/periods.ts';
import { allUnits } from '../accounts/units.ts';
import { recordEvent } from '../events/service.ts';
import type { Actor } from '../actor.ts';
import { conflict, fieldError, Problem } from '../problem.ts';
import { localMonth, now, previousMonth } from '../time.ts';
import { MONTHLY_SAMPLING_JOB, pendingSamplingAgencies } from './sampling.ts';
import { monthlySamplingJob } from './job.ts';

/** Months a check may be drawn for: the last twelve finished months, newest first. */
export function drawableMonths(at = now()): string[] {
  const out: string[] = [];
  for (let m = previousMonth(localMonth(at)), i = 0; i < 12; i++, m = previousMonth(m)) out.push(m);
  return out;
}

export function monthProblem(period: string): string | null {
  const bad = previousMonthPeriod.validatePeriod(period, now());
  if (bad === 'not a month') return '月份格式須為 YYYY-MM';
  if (bad) return '只能補抽已結束的月份';
  return null;
}

/** Agencies owed the month's check, with the month's runs of the job (empty runs marked). */
export async function drawStatus(ctx: JobContext, period: string) {
  const owed = new Set(await pendingSamplingAgencies(ctx.db, period));
  const agencies = (await allUnits(ctx.db)).filter((u) => u.kind === 'agency');
  const runs = await ctx.db('job_runs').where({ job: MONTHLY_SAMPLING_JOB, period }).orderBy('generation').select('id', 'generation', 'status', 'trigger', 'scope', 'forced', 'covered', 'started_at', 'finished_at');
  return {
    period,
    owed: agencies.filter((a) => owed.has(a.id)).map((a) => ({ code: a.code, name: a.name })),
    runs: runs.map((r: any) => ({
      id: Number(r.id), generation: Number(r.generation), status: r.status as string, trigger: r.trigger as string, scope: r.scope as string, forced: Boolean(r.forced),
      covered: r.covered == null ? null : Number(r.covered), empty: r.status === 'done' && Number(r.covered) === 0,
      startedAt: Number(r.started_at), finishedAt: r.finished_at == null ? null : Number(r.finished_at),
    })),
  };
}

export interface Drawn { checkId: number; unit: string; period: string; population: number; sampleSize: number; runId: number }

export async function drawCheck(ctx: JobContext, actor: Actor, input: { month: string; unit: string }): Promise<Drawn> {
  const bad = monthProblem(input.month);
  if (bad) throw fieldError('month', bad);
  const agency = (await allUnits(ctx.db)).find((u) => u.code === input.unit && u.kind === 'agency');
  if (!agency) throw fieldError('unit', '查無此業務機關');
  const out = await runJob(ctx, monthlySamplingJob, { period: input.month, agency: agency.id, trigger: 'web' });
  if (out.status === 'already-done') throw conflict('check-exists', '該機關該月已有查核，無須補抽。');
  if (out.status === 'already-running') throw conflict('job-running', '該月抽查作業正在執行中，請稍後再試。');
  if (out.status === 'bad-period') throw fieldError('month', '只能補抽已結束的月份');
  if (out.status !== 'ran') throw new Problem(500, 'draw-failed', 'Draw failed', '補抽未完成，未寫入任何查核，請稍後再試或洽資訊人員。');
  const check = await ctx.db('checks').where({ unit_id: agency.id, period: input.month, job_run_id: out.runId }).first('id', 'population', 'sample_size');
  if (!check) throw conflict('check-exists', '該機關該月已有查核，無須補抽。');
  const drawn: Drawn = { checkId: Number(check.id), unit: agency.code, period: input.month, population: Number(check.population), sampleSize: Number(check.sample_size), runId: out.runId };
  await recordEvent(ctx.db, actor, { action: 'check-drawn', targetType: 'check', targetId: drawn.checkId, unitId: agency.id, detail: { period: drawn.period, runId: drawn.runId, population: drawn.population, sampleSize: drawn.sampleSize } });
  return drawn;
}
