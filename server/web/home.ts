// The home page and the health check.
import type { AppContext } from '../context.ts';
import type { AccessEntry, Routes } from './access.ts';
import { renderPage, addNav } from './views.ts';

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
      res.json({ status: 'ok' });
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
