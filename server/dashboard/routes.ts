// HTTP for the county dashboard: the page (tables that scripts turn into charts) and the same
// figures as JSON.
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import type { AccessEntry, Routes } from '../web/access.ts';
import { renderPage, type NavEntry } from '../web/views.ts';
import { type HomePanel } from '../web/home.ts';
import { parseOr400 } from '../problem.ts';
import { iso, rocDate, localDate, rocYear } from '../time.ts';
import { buildDashboard, rocInstant, type Dashboard } from './service.ts';
import { CHECK_STANDING_LABELS, FILING_LABELS } from './rules.ts';
import { measureSkew } from '../clock.ts';
import { publishedKey } from '../queries/checkpoints.ts';

export const DASHBOARD_ROLES = ['planning_admin', 'auditor', 'ethics', 'it', 'supervisor'] as const;

export const access: AccessEntry[] = [
  { method: 'GET', path: '/dashboard', who: DASHBOARD_ROLES, units: 'subtree', note: 'county dashboard: every agency for planning-department staff, else the own agency' },
  { method: 'GET', path: '/api/v1/dashboard', who: DASHBOARD_ROLES, units: 'subtree', note: 'the dashboard figures as JSON (counts only)' },
];

const query = z.object({
  year: z.coerce.number({ message: '年度須為數字' }).int('年度須為整數').min(2000, '年度不在可查詢範圍').max(2200, '年度不在可查詢範圍').optional(),
  months: z.coerce.number({ message: '月數須為數字' }).int('月數須為整數').min(1, '月數須介於 1 至 36').max(36, '月數須介於 1 至 36').optional(),
  unit: z.string().trim().max(32, '機關代碼過長').optional(),
});

/** The JSON form: ISO instants, no display strings. */
function toJson(d: Dashboard) {
  return {
    generatedAt: iso(d.generatedAt),
    countyWide: d.countyWide,
    months: d.months,
    agencies: d.agencies,
    volume: d.volume,
    flags: d.flags,
    checks: d.checks,
    review: { ...d.review, latest: d.review.latest && { ...d.review.latest, startedAt: iso(d.review.latest.startedAt), finishedAt: iso(d.review.latest.finishedAt) } },
    filings: { ...d.filings, rows: d.filings.rows.map((r) => ({ ...r, submittedAt: iso(r.submittedAt), acknowledgedAt: iso(r.acknowledgedAt) })) },
    reconciliation: d.reconciliation,
  };
}

/** The menu entries of this part (server/capability.ts `nav`). */
export const nav: NavEntry[] = [
  { href: '/dashboard', label: '統計儀表板', roles: DASHBOARD_ROLES, order: 80 },
];


/** The home page shows the figures that need someone's attention, linking to the full dashboard. */
const summaryPanel: HomePanel = async (c, actor) => {
  if (!actor.roles.some((x) => (DASHBOARD_ROLES as readonly string[]).includes(x))) return null;
  const d = await buildDashboard(c.db, actor);
  return {
    title: d.countyWide ? '全縣統計摘要' : '機關統計摘要',
    items: [
      { label: '本月查詢筆數', value: d.volume.totals[d.volume.totals.length - 1] ?? 0, href: '/dashboard' },
      { label: '逾期或未產生之月查核', value: d.checks.totals.overdue + d.checks.totals.missing, href: '/dashboard#h-checks' },
      { label: '帳號清查待處理', value: d.review.totals.open, href: '/dashboard#h-review' },
      { label: `${rocYear(d.filings.year)} 年度已報府機關`, value: `${d.filings.filed} / ${d.filings.rows.length}`, href: '/dashboard#h-filings' },
      { label: '對帳未登錄查詢', value: d.reconciliation.totals.unlogged, href: '/dashboard#h-reconcile' },
    ],
  };
};

export function register(r: Routes, ctx: AppContext): void {
  // Panels are one list for the process (several apps in one test run): add it once; it is drawn

  r.get('/api/v1/dashboard', async (req, res) => {
    const q = parseOr400(query, req.query);
    const d = await buildDashboard(ctx.db, req.actor!, { year: q.year, months: q.months, unit: q.unit || undefined });
    res.json(toJson(d));
  });

  r.get('/dashboard', async (req, res) => {
    // Bad parameters on the page fall back to the defaults rather than failing the page.
    const parsed = query.safeParse(req.query);
    const q = parsed.success ? parsed.data : {};
    const d = await buildDashboard(ctx.db, req.actor!, { year: q.year, months: q.months, unit: q.unit || undefined });
    renderPage(res, 'dashboard/index', {
      title: '統計儀表板',
      d,
      clockSkew: await measureSkew(ctx.db),
      // Published here, by the CLI and on every filing's cover, so a verifier can get it from several places.
      checkpointKey: publishedKey(ctx.cfg),
      rocYear,
      today: rocDate(localDate(d.generatedAt)),
      at: rocInstant,
      checkLabels: CHECK_STANDING_LABELS,
      filingLabels: FILING_LABELS,
      invalid: !parsed.success,
    });
  });
}

/** The home-page panels of this part (server/capability.ts `homePanels`). */
export const homePanels: HomePanel[] = [
  summaryPanel,
];
