// The home page and the health check.
import type { AppContext } from '../context.ts';
import type { AccessEntry, Routes } from './access.ts';
import { renderPage, addNav } from './views.ts';
import { measureSkew, MAX_SKEW_MS } from '../clock.ts';

export const access: AccessEntry[] = [
  { method: 'GET', path: '/', who: 'signed-in', units: 'self', note: 'home page, content by role' },
  { method: 'GET', path: '/healthz', who: 'public', units: 'none', note: '200 when the database answers, 503 when not' },
];

/** Home-page panels contributed by capabilities (each picks what the actor should see). */
export type HomePanel = (ctx: AppContext, actor: Express.Actor) => Promise<{ title: string; html?: string; items?: Array<{ label: string; value: string | number; href?: string }> } | null>;
const panels: HomePanel[] = [];
export const addHomePanel = (p: HomePanel): void => void panels.push(p);

export function register(r: Routes, ctx: AppContext): void {
  addNav('/', '首頁', 'signed-in', 0);
  r.get('/healthz', async (_req, res) => {
    try {
      await ctx.db.raw('select 1 as ok');
      // A skewed clock (server/clock.ts) degrades but stays 200: the database answers, and taking
      // every instance out of the balancer over a time warning would be an outage.
      const skew = await measureSkew(ctx.db);
      // Without a signing key (development) the log's checkpoints are unsigned: said here, not hidden.
      res.json({ status: skew.ok ? 'ok' : 'degraded', clockSkewMs: skew.skewMs, ...(ctx.cfg.CHECKPOINT_KEY_FILE ? {} : { checkpoints: 'unsigned' }), ...(skew.ok ? {} : { detail: `本系統與資料庫伺服器時間相差 ${(skew.skewMs / 1000).toFixed(1)} 秒，超過 ${MAX_SKEW_MS / 1000} 秒，請校時。` }) });
    } catch {
      res.status(503).json({ status: 'unavailable', detail: '資料庫無回應' });
    }
  });
  r.get('/', async (req, res) => {
    const actor = req.actor!;
    const unit = await ctx.db('units').where({ id: actor.unitId }).first('code', 'name');
    const shown = (await Promise.all(panels.map((p) => p(ctx, actor)))).filter(Boolean);
    renderPage(res, 'home', { title: '首頁', unit, panels: shown });
  });
}

import type { JobDef } from '../../jobs/registry.ts';
import { dayPeriod } from '../../jobs/periods.ts';
import { now } from '../time.ts';

/** Daily housekeeping: expired sessions are removed from the database. */
export const pruneSessionsJob: JobDef = {
  name: 'prune-sessions',
  cron: '15 3 * * *',
  ...dayPeriod,
  async run(ctx) {
    const removed = await ctx.db('sessions').where('expires_at', '<', now()).del();
    return { removed };
  },
};
