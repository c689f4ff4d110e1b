// The destruction capability (clause 4(二), 檔案法 §12): destruction lists (銷毀目錄) of query
// log entries past retention, approved by a planning-department admin and an ethics officer;
// the daily retention job prepares them and carries out the approved ones.
import type { Capability } from '../capability.ts';
import type { JobDef } from '../../jobs/registry.ts';
import { dayPeriod } from '../../jobs/periods.ts';
import { withAdminDb } from '../db.ts';
import { access, homePanels, nav, register } from './routes.ts';
import { runRetention } from './service.ts';

export const retentionJob: JobDef = {
  name: 'retention',
  cron: '45 2 * * *',
  ...dayPeriod,
  // Blanking entries updates query_logs: under DATABASE_ADMIN_URL when set (the app's own account may not).
  run: (ctx) => withAdminDb(ctx, (db) => runRetention(db, ctx.cfg)),
};

export const destruction: Capability = {
  name: 'destruction',
  access,
  register,
  nav,
  homePanels,
  jobs: [retentionJob],
};
