// HTTP for the ethics unit's alerts: a page and the same list as JSON.
import type { AppContext } from '../context.ts';
import type { AccessEntry, Routes } from '../web/access.ts';
import { renderPage, type NavEntry } from '../web/views.ts';
import { type HomePanel } from '../web/home.ts';
import { iso } from '../time.ts';
import { alertsFor } from './service.ts';

const READERS = ['ethics'] as const;

export const access: AccessEntry[] = [
  { method: 'GET', path: '/alerts', who: READERS, units: 'subtree', note: 'security alerts within reach (identifier-search throttle, lockouts)' },
  { method: 'GET', path: '/api/v1/alerts', who: READERS, units: 'subtree', note: 'the same alerts as JSON' },
];

/** The menu entries of this part (server/capability.ts `nav`). */
export const nav: NavEntry[] = [
  { href: '/alerts', label: '安全警示', roles: [...READERS], order: 15 },
];


export function register(r: Routes, ctx: AppContext): void {
  r.get('/alerts', async (req, res) => {
    renderPage(res, 'alerts/index', { title: '安全警示', items: await alertsFor(ctx.db, req.actor!) });
  });
  r.get('/api/v1/alerts', async (req, res) => {
    const items = (await alertsFor(ctx.db, req.actor!)).map((a) => ({ id: a.id, at: iso(a.at), account: a.account, unit: a.unit, what: a.what }));
    res.json({ items, total: items.length });
  });
}

/** The home-page panels of this part (server/capability.ts `homePanels`). */
export const homePanels: HomePanel[] = [
  async (pctx, actor) => {
    if (!actor.roles.includes('ethics')) return null;
    const list = await alertsFor(pctx.db, actor);
    return { title: '安全警示（近 30 日）', items: [{ label: '警示筆數', value: list.length, href: '/alerts' }] };
  },
];
