// Server-rendered pages with eta (escapes by default). A page renders into the zh-TW layout.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { Response } from 'express';
import * as time from '../time.ts';
import type { Role } from '../accounts/roles.ts';
import * as labels from '../labels.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const VIEWS_DIR = path.resolve(here, '..', '..', 'views');

export const eta = new Eta({ views: VIEWS_DIR, autoEscape: true, cache: process.env.NODE_ENV === 'production', autoTrim: false });

/** Helpers every template can use as `it.h`. */
export const viewHelpers = {
  rocDate: time.rocDate,
  rocMonth: time.rocMonth,
  rocShort: time.rocShort,
  rocDateTime: (ms: number | null | undefined) => (ms == null ? '' : time.rocDateTime(Number(ms))),
  rocPeriod: time.rocPeriod,
  roleLabel: (r: Role) => labels.labelOf(labels.ROLE_LABELS, r),
  rankLabel: (r: string) => labels.labelOf(labels.RANK_LABELS, r),
  /** The words for a key: it.h.label('EVENT_ACTION_LABELS', e.action). */
  label: (table: keyof typeof labels & `${string}_LABELS`, key: string | null | undefined) => labels.labelOf(labels[table] as Record<string, string>, key),
  evidenceRefLabel: labels.evidenceRefLabel,
  rocTitle: labels.rocTitle,
  /** The menu as shown: single entries and duty groups (navSections below). */
  navSections: (items: NavItem[]) => navSections(items),
  reviewDetailText: labels.reviewDetailText,
};

export interface NavItem { href: string; label: string; group: NavGroup | null }

/**
 * The menu is grouped by duty so an admin's seventeen entries read as five short lists. Entries are
 * placed by address; one without a group (首頁, 我的帳號, anything new) stands on its own.
 */
export const NAV_GROUPS = ['查詢紀錄', '查核與對帳', '稽核與報府', '帳號與權限', '系統與完整性'] as const;
export type NavGroup = (typeof NAV_GROUPS)[number];
const NAV_GROUP_OF: Record<string, NavGroup> = {
  '/query-logs/new': '查詢紀錄', '/query-requests': '查詢紀錄', '/query-requests/inbox': '查詢紀錄', '/query-logs': '查詢紀錄', '/query-logs/who': '查詢紀錄',
  '/dashboard': '查詢紀錄',
  '/checks': '查核與對帳', '/explanations': '查核與對帳', '/investigations': '查核與對帳', '/checks/draw': '查核與對帳', '/reconciliations': '查核與對帳',
  '/reconcile/imports': '查核與對帳', '/reconcile/sources': '查核與對帳',
  '/audits': '稽核與報府', '/audits/links': '稽核與報府', '/audits/annual': '稽核與報府', '/audits/retained': '稽核與報府',
  '/accounts/requests': '帳號與權限', '/accounts/approvals': '帳號與權限', '/accounts/todo': '帳號與權限', '/accounts/users': '帳號與權限',
  '/accounts/units': '帳號與權限', '/accounts/reviews': '帳號與權限',
  '/alerts': '系統與完整性', '/integrity': '系統與完整性', '/destructions': '系統與完整性', '/service-tokens': '系統與完整性',
};
/** Above this many entries the layout shows the menu in its duty groups; below, one short bar. */
export const NAV_FLAT_MAX = 7;

/** A menu entry: capabilities list theirs (Capability.nav); the app holds them all (app.locals.navEntries). */
export interface NavEntry { href: string; label: string; roles: readonly Role[] | 'signed-in'; order: number }
/** The person's entries in menu order: ungrouped ones first (首頁) and last (order ≥ 90), groups between. */
export function navFor(entries: readonly NavEntry[], roles: readonly Role[] | undefined): NavItem[] {
  if (!roles) return [];
  const rank = (n: { href: string; order: number }) => {
    const g = NAV_GROUP_OF[n.href];
    return g ? 1 + NAV_GROUPS.indexOf(g) : n.order >= 90 ? 99 : 0;
  };
  return entries
    .filter((n) => n.roles === 'signed-in' || n.roles.some((r) => roles.includes(r)))
    .sort((a, b) => rank(a) - rank(b) || a.order - b.order)
    .map(({ href, label }) => ({ href, label, group: NAV_GROUP_OF[href] ?? null }));
}

/** The entries as the layout shows them: single entries, and duty groups (each with a heading). */
export function navSections(items: NavItem[]): Array<{ group: NavGroup | null; items: NavItem[] }> {
  if (items.length <= NAV_FLAT_MAX) return items.map((i) => ({ group: null, items: [i] }));
  const out: Array<{ group: NavGroup | null; items: NavItem[] }> = [];
  for (const i of items) {
    const last = out[out.length - 1];
    if (i.group && last?.group === i.group) last.items.push(i);
    else out.push({ group: i.group, items: [i] });
  }
  return out;
}

/** Renders `views/<page>.eta` inside the layout with res.locals merged in. */
export function renderPage(res: Response, page: string, data: Record<string, unknown> = {}, status = 200): void {
  res.status(status).type('html').send(pageHtml(res, page, data));
}

/** The whole page (layout included) as HTML, for renderPage and for printing it to PDF. */
export function pageHtml(res: Response, page: string, data: Record<string, unknown> = {}): string {
  const it = { ...res.locals, ...data, h: viewHelpers };
  const body = eta.render(page, it);
  return eta.render('layout', { ...it, body });
}
