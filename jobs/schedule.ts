// The schedule (node-cron 4, Asia/Taipei). node-cron starts a task as soon as it is scheduled and
// promises no exactly-once across instances: the run lock does that. At start, a job whose
// current period was missed while every instance was down runs once (catch-up). A per-agency job
// whose period is done but which owes some agency its work (an agency created, or one that gained
// entries, after the run) runs again for those agencies: at start and in a daily sweep (issue 17).
import cron from 'node-cron';
import type { JobContext, JobDef } from './registry.ts';
import { runJob } from './runner.ts';
import { log } from '../server/log.ts';
import { now } from '../server/time.ts';

export interface Schedule {
  stop(): void;
  catchUp(): Promise<void>;
}

/** 04:10 Taipei daily: the catch-up again, so agencies added during the month are not left waiting. */
export const SWEEP_CRON = '10 4 * * *';

export async function catchUp(ctx: JobContext, jobs: JobDef[]): Promise<void> {
  for (const job of jobs.filter((j) => j.cron)) {
    const period = job.periodFor(now());
    const last = await ctx.db('job_runs').where({ job: job.name, period }).orderBy('generation', 'desc').first('status');
    if (last?.status === 'running') continue;
    if (last?.status === 'done' && !(job.pending && (await job.pending(ctx, period)).length)) continue;
    const out = await runJob(ctx, job, { period, trigger: 'catch-up' }).catch((e) => ({ status: 'failed', error: String(e) }));
    log.info({ job: job.name, period, status: out.status }, 'catch-up job');
  }
}

export function startSchedule(ctx: JobContext, jobs: JobDef[], tz = 'Asia/Taipei'): Schedule {
  const sweep = cron.schedule(SWEEP_CRON, async () => {
    await catchUp(ctx, jobs).catch((e) => log.error({ err: e }, 'catch-up sweep failed'));
  }, { timezone: tz, name: 'catch-up-sweep', noOverlap: true });
  const tasks = jobs.filter((j) => j.cron).map((job) =>
    cron.schedule(job.cron!, async () => {
      const out = await runJob(ctx, job, { trigger: 'schedule' }).catch((e) => ({ status: 'failed', error: String(e) }));
      log.info({ job: job.name, status: out.status }, 'scheduled job');
    }, { timezone: tz, name: job.name, noOverlap: true }),
  );
  return {
    stop: () => [sweep, ...tasks].forEach((t) => void t.stop()),
    catchUp: () => catchUp(ctx, jobs),
  };
}
