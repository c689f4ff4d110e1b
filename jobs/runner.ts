// Runs one job for one period under the run lock.
import type { JobContext, JobDef } from './registry.ts';
import { acquire, fail, finish } from './lock.ts';
import { now } from '../server/time.ts';
import { recordEvent, SYSTEM_ACTOR } from '../server/events/service.ts';

export type RunOutcome =
  | { status: 'ran'; runId: number; generation: number; result: unknown }
  | { status: 'already-running' | 'already-done'; message: string }
  | { status: 'failed'; runId: number; error: string }
  | { status: 'bad-period'; message: string };

export async function runJob(ctx: JobContext, job: JobDef, opts: { period?: string; force?: boolean; trigger?: string } = {}): Promise<RunOutcome> {
  const period = opts.period ?? job.periodFor(now());
  const bad = job.validatePeriod(period, now());
  if (bad) return { status: 'bad-period', message: `--period ${period}: ${bad} (expected ${job.periodFormat})` };
  const lock = await acquire(ctx.db, job.name, period, { force: opts.force, trigger: opts.trigger });
  if (lock.kind === 'running') return { status: 'already-running', message: `${job.name} ${period} is already running (since ${new Date(lock.since).toISOString()})` };
  if (lock.kind === 'done') return { status: 'already-done', message: `${job.name} ${period} is already done (${new Date(lock.finishedAt).toISOString()}); use --force to run it again` };
  try {
    const result = await job.run(ctx, period);
    await finish(ctx.db, lock.runId, result);
    await recordEvent(ctx.db, SYSTEM_ACTOR, { action: 'job-run', targetType: 'job', targetId: `${job.name}:${period}`, detail: { generation: lock.generation, forced: !!opts.force, trigger: opts.trigger ?? 'manual' } });
    return { status: 'ran', runId: lock.runId, generation: lock.generation, result };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    await fail(ctx.db, lock.runId, e).catch(() => undefined);
    // A failed run is a security event too (the chained event log shows every run, not only the good ones).
    await recordEvent(ctx.db, SYSTEM_ACTOR, { action: 'job-run', outcome: 'failed', targetType: 'job', targetId: `${job.name}:${period}`, detail: { generation: lock.generation, forced: !!opts.force, trigger: opts.trigger ?? 'manual', error: error.slice(0, 500) } }).catch(() => undefined);
    return { status: 'failed', runId: lock.runId, error };
  }
}
