// Runs one job for one period under the run lock. A per-agency job (one with `pending`) covers
// only the agencies still owed the period's work unless forced; when the period is done and some
// agency is owed, a run without --force is a top-up for those agencies (issue 17).
import type { JobContext, JobDef } from './registry.ts';
import { acquire, fail, finish } from './lock.ts';
import { coveredCount } from './coverage.ts';
import { now } from '../server/time.ts';
import { recordEvent, SYSTEM_ACTOR } from '../server/events/service.ts';

export type RunOutcome =
  | { status: 'ran'; runId: number; generation: number; result: unknown; covered: number | null }
  | { status: 'already-running' | 'already-done'; message: string }
  | { status: 'failed'; runId: number; error: string }
  | { status: 'bad-period'; message: string };

export interface RunOptions {
  period?: string;
  force?: boolean;
  trigger?: string;
  /** Only this agency (a draw from the web); per-agency jobs only, never with force. */
  agency?: number;
}

export async function runJob(ctx: JobContext, job: JobDef, opts: RunOptions = {}): Promise<RunOutcome> {
  const period = opts.period ?? job.periodFor(now());
  const bad = job.validatePeriod(period, now());
  if (bad) return { status: 'bad-period', message: `--period ${period}: ${bad} (expected ${job.periodFormat})` };
  const perAgency = !!job.pending && !opts.force;
  const owed = async () => {
    const ids = await job.pending!(ctx, period);
    return opts.agency == null ? ids : ids.filter((id) => id === opts.agency);
  };
  let topUp = false;
  if (perAgency) {
    const last = await ctx.db('job_runs').where({ job: job.name, period }).orderBy('generation', 'desc').first('status');
    if (last?.status === 'done' || opts.agency != null) {
      if (!(await owed()).length) {
        return { status: 'already-done', message: opts.agency != null ? `${job.name} ${period}: the agency is already covered` : `${job.name} ${period} is already done for every agency; use --force to run it again` };
      }
      topUp = last?.status === 'done';
    }
  }
  const scope = opts.agency != null ? 'agency' as const : topUp ? 'missing' as const : 'all' as const;
  const lock = await acquire(ctx.db, job.name, period, { force: opts.force, trigger: opts.trigger, topUp, scope });
  if (lock.kind === 'running') return { status: 'already-running', message: `${job.name} ${period} is already running (since ${new Date(lock.since).toISOString()})` };
  if (lock.kind === 'done') return { status: 'already-done', message: `${job.name} ${period} is already done (${new Date(lock.finishedAt).toISOString()}); use --force to run it again` };
  const detail = { generation: lock.generation, forced: !!opts.force, trigger: opts.trigger ?? 'manual', scope };
  try {
    // Under the lock the owed agencies are read again: another instance may have covered some.
    const only = perAgency ? await owed() : opts.agency != null ? [opts.agency] : null;
    const result = await job.run(ctx, period, { runId: lock.runId, only, kind: scope });
    const covered = job.pending ? await coveredCount(ctx.db, lock.runId) : null;
    await finish(ctx.db, lock.runId, result, covered);
    await recordEvent(ctx.db, SYSTEM_ACTOR, { action: 'job-run', targetType: 'job', targetId: `${job.name}:${period}`, detail: { ...detail, ...(covered == null ? {} : { covered }) } });
    return { status: 'ran', runId: lock.runId, generation: lock.generation, result, covered };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    await fail(ctx.db, lock.runId, e).catch(() => undefined);
    // A failed run is a security event too (the chained event log shows every run, not only the good ones).
    await recordEvent(ctx.db, SYSTEM_ACTOR, { action: 'job-run', outcome: 'failed', targetType: 'job', targetId: `${job.name}:${period}`, detail: { ...detail, error: error.slice(0, 500) } }).catch(() => undefined);
    return { status: 'failed', runId: lock.runId, error };
  }
}
