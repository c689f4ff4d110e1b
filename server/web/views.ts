// Server-rendered pages with eta (escapes by default). A page renders into the zh-TW layout.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { Response } from 'express';
import * as time from '../time.ts';
import { ROLE_LABELS, RANK_LABELS, type Role } from '../accounts/roles.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const VIEWS_DIR = path.resolve(here, '..', '..', 'views');

export const eta = new Eta({ views: VIEWS_DIR, autoEscape: true, cache: process.env.NODE_ENV === 'production', autoTrim: false });

/** Helpers every template can use as `it.h`. */
export const viewHelpers = {
  rocDate: time.rocDate,
  rocMonth: time.rocMonth,
  rocShort: time.rocShort,
  rocDateTime: (ms: number | null | undefined) => (ms == null ? '' : time.rocDateTime(Number(ms))),
  roleLabel: (r: Role) => ROLE_LABELS[r] ?? r,
  rankLabel: (r: string) => (RANK_LABELS as Record<string, string>)[r] ?? r,
};

export interface NavItem { href: string; label: string }

/** Navigation follows the user's roles. Capabilities add their entries through `addNav`. */
const navEntries: Array<{ href: string; label: string; roles: readonly Role[] | 'signed-in'; order: number }> = [];
export function addNav(href: string, label: string, roles: readonly Role[] | 'signed-in', order = 50): void {
  if (!navEntries.some((n) => n.href === href)) navEntries.push({ href, label, roles, order });
}
export function navFor(roles: readonly Role[] | undefined): NavItem[] {
  if (!roles) return [];
  return navEntries
    .filter((n) => n.roles === 'signed-in' || n.roles.some((r) => roles.includes(r)))
    .sort((a, b) => a.order - b.order)
    .map(({ href, label }) => ({ href, label }));
}

/** Renders `views/<page>.eta` inside the layout with res.locals merged in. */
export function renderPage(res: Response, page: string, data: Record<string, unknown> = {}, status = 200): void {
  const it = { ...res.locals, ...data, h: viewHelpers };
  const body = eta.render(page, it);
  const html = eta.render('layout', { ...it, body });
  res.status(status).type('html').send(html);
}
