// The schedule (node-cron 4, Asia/Taipei). node-cron starts a task as soon as it is scheduled and
// promises no exactly-once across instances: the run lock does that. At start, a job whose
// current period was missed while every instance was down runs once (catch-up).
import cron from 'node-cron';
import type { JobContext, JobDef } from './registry.ts';
import { runJob } from './runner.ts';
import { log } from '../server/log.ts';
import { now } from '../server/time.ts';

export interface Schedule {
  stop(): void;
  catchUp(): Promise<void>;
}

export function startSchedule(ctx: JobContext, jobs: JobDef[], tz = 'Asia/Taipei'): Schedule {
  const tasks = jobs.filter((j) => j.cron).map((job) =>
    cron.schedule(job.cron!, async () => {
      const out = await runJob(ctx, job, { trigger: 'schedule' }).catch((e) => ({ status: 'failed', error: String(e) }));
      log.info({ job: job.name, status: out.status }, 'scheduled job');
    }, { timezone: tz, name: job.name, noOverlap: true }),
  );
  return {
    stop: () => tasks.forEach((t) => void t.stop()),
    async catchUp() {
      for (const job of jobs.filter((j) => j.cron)) {
        const period = job.periodFor(now());
        const done = await ctx.db('job_runs').where({ job: job.name, period }).whereIn('status', ['done', 'running']).first('id');
        if (done) continue;
        const out = await runJob(ctx, job, { period, trigger: 'catch-up' }).catch((e) => ({ status: 'failed', error: String(e) }));
        log.info({ job: job.name, period, status: out.status }, 'catch-up job');
      }
    },
  };
}
