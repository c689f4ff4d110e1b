// The home page and the health check.
import type { AppContext } from '../context.ts';
import type { AccessEntry, Routes } from './access.ts';
import { renderPage, type NavEntry } from './views.ts';
import { measureSkew, MAX_SKEW_MS } from '../clock.ts';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FAVICON = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'public', 'favicon.svg');

export const access: AccessEntry[] = [
  { method: 'GET', path: '/', who: 'signed-in', units: 'self', note: 'home page, content by role' },
  { method: 'GET', path: '/healthz', who: 'public', units: 'none', note: '200 when the database answers, 503 when not' },
  { method: 'GET', path: '/favicon.ico', who: 'public', units: 'none', note: 'the site icon (public/favicon.svg; the layout links it too), so no page logs a 404' },
];

/**
 * A home-page panel: capabilities list theirs (Capability.homePanels), each picking what the actor
 * should see; the app holds them all, in capability order (app.locals.homePanels).
 */
export type HomePanel = (ctx: AppContext, actor: SignedInActor) => Promise<{ title: string; html?: string; items?: Array<{ label: string; value: string | number; href?: string }> } | null>;

export const nav: NavEntry[] = [{ href: '/', label: '首頁', roles: 'signed-in', order: 0 }];

export function register(r: Routes, ctx: AppContext): void {
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
  // Browsers ask for /favicon.ico whatever the page links: answer with the local icon.
  r.get('/favicon.ico', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=86400').type('image/svg+xml').sendFile(FAVICON);
  });
  r.get('/', async (req, res) => {
    const actor = req.actor!;
    const unit = await ctx.db('units').where({ id: actor.unitId }).first('code', 'name');
    const panels: HomePanel[] = req.app.locals.homePanels ?? [];
    const shown = (await Promise.all(panels.map((p) => p(ctx, actor)))).filter(Boolean);
    renderPage(res, 'home', { title: '首頁', unit, panels: shown });
  });
}

import type { JobDef } from '../../jobs/registry.ts';
import { dayPeriod } from '../../jobs/periods.ts';
import { now } from '../time.ts';
import type { SignedInActor } from '../actor.ts';

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
