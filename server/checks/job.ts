// The monthly-sampling job (clause 5(一)): 02:00 Asia/Taipei on the 1st, for the previous month.
import type { JobDef } from '../../jobs/registry.ts';
import { previousMonthPeriod } from '../../jobs/periods.ts';
import { MONTHLY_SAMPLING_JOB, pendingSamplingAgencies, runMonthlySampling } from './sampling.ts';

export const monthlySamplingJob: JobDef = {
  name: MONTHLY_SAMPLING_JOB,
  cron: '0 2 1 * *',
  ...previousMonthPeriod,
  // Done per agency (issue 17): an agency without a check for the month, or sampled empty and
  // with entries now, is drawn by the next run or catch-up, or from the web (draw-routes.ts).
  pending: (ctx, period) => pendingSamplingAgencies(ctx.db, period),
  run: (ctx, period, scope) => runMonthlySampling(ctx.db, ctx.cfg, period, { jobRunId: scope.runId, only: scope.only }),
};
