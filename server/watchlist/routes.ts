// HTTP for the watch list (page and JSON API, ethics only). The subject's value arrives in the body
// of a POST (never a URL) and goes no further than its HMAC; a refused form is re-shown without it.
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import type { AccessEntry, Routes } from '../web/access.ts';
import { parseOr400, Problem } from '../problem.ts';
import { renderPage, type NavEntry } from '../web/views.ts';
import { SUBJECT_LABELS } from '../labels.ts';
import { iso } from '../time.ts';
import { SUBJECT_TYPES } from '../queries/subject.ts';
import { addWatch, listWatch, removeWatch } from './service.ts';
import { idParam, formErrors } from '../web/validate.ts';

const KEEPERS = ['ethics'] as const;

export const access: AccessEntry[] = [
  { method: 'GET', path: '/api/v1/watch-list', who: KEEPERS, units: 'all', note: "the ethics unit's watch list: type, reason, who and when (identifiers are kept as HMAC only)" },
  { method: 'POST', path: '/api/v1/watch-list', who: KEEPERS, units: 'all', note: 'adds a subject to the watch list with a reason (recorded)' },
  { method: 'POST', path: '/api/v1/watch-list/:id/remove', who: KEEPERS, units: 'all', note: 'removes an entry with a reason (recorded; the entry stays as history)' },
  { method: 'GET', path: '/watch-list', who: KEEPERS, units: 'all', note: 'watch-list page: entries with reasons and history, add and remove forms' },
  { method: 'POST', path: '/watch-list', who: KEEPERS, units: 'all', note: 'adds a subject from the page form (re-shown with field messages, never with the identifier)' },
  { method: 'POST', path: '/watch-list/:id/remove', who: KEEPERS, units: 'all', note: 'removes an entry from the page form, with a reason' },
];

/** What the page's forms held when refused: the add form (never the identifier) or one row's removal. */
interface Forms { add: { subjectType: string; reason: string; errors: Record<string, string> }; remove: { id: number; reason: string; errors: Record<string, string> } }
const blank = (): Forms => ({ add: { subjectType: 'national-id', reason: '', errors: {} }, remove: { id: 0, reason: '', errors: {} } });
/** Field errors of a refusal, keyed by the form's field names (the subject's parts are two fields). */
const errorsOf = (e: Problem): Record<string, string> =>
  Object.fromEntries(Object.entries(formErrors(e)).map(([f, m]) => [f === 'subject.type' ? 'subjectType' : f.startsWith('subject') ? 'subjectValue' : f, m]));
const refused = (e: unknown): e is Problem => e instanceof Problem && (e.status === 400 || e.status === 409 || e.status === 404);
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

const addBody = z.object({
  subject: z.object({ type: z.enum(SUBJECT_TYPES, { message: '請選擇查詢條件種類' }), value: z.string({ message: '請填寫查詢條件' }) }),
  reason: z.string({ message: '請填寫理由' }),
});
const removeBody = z.object({ reason: z.string({ message: '請填寫理由' }) });

/** The menu entries of this part (server/capability.ts `nav`). */
export const nav: NavEntry[] = [
  { href: '/watch-list', label: '關注名單', roles: [...KEEPERS], order: 16 },
];

export function register(r: Routes, ctx: AppContext): void {
  const page = async (req: Request, res: Response, forms: Forms, status = 200) => {
    const items = await listWatch(ctx.db, req.actor!);
    renderPage(res, 'watchlist/index', {
      title: '政風關注名單', items, forms, typeLabels: SUBJECT_LABELS,
      subjectTypes: SUBJECT_TYPES.filter((t) => t !== 'other').map((t) => ({ value: t, label: SUBJECT_LABELS[t] })),
    }, status);
  };
  r.get('/watch-list', async (req, res) => page(req, res, blank()));
  r.post('/watch-list', async (req, res) => {
    const add = { subjectType: text(req.body?.subjectType), reason: text(req.body?.reason) };
    try {
      await addWatch(ctx.db, ctx.cfg, req.actor!, { subject: { type: add.subjectType as any, value: text(req.body?.subjectValue) }, reason: add.reason });
    } catch (e) {
      if (!refused(e)) throw e;
      // Re-shown with the type and reason as typed; the identifier itself is never sent back.
      return page(req, res, { ...blank(), add: { ...add, errors: errorsOf(e) } }, e.status);
    }
    req.session.flash = { kind: 'ok', text: '已加入關注名單。' };
    res.redirect(303, '/watch-list');
  });
  r.post('/watch-list/:id/remove', async (req, res) => {
    const id = idParam(req.params.id);
    const reason = text(req.body?.reason);
    try {
      await removeWatch(ctx.db, req.actor!, id, reason);
    } catch (e) {
      if (!refused(e)) throw e;
      return page(req, res, { ...blank(), remove: { id, reason, errors: errorsOf(e) } }, e.status);
    }
    req.session.flash = { kind: 'ok', text: '已自關注名單移除。' };
    res.redirect(303, '/watch-list');
  });
  r.get('/api/v1/watch-list', async (req, res) => {
    const items = (await listWatch(ctx.db, req.actor!)).map((x) => ({ ...x, addedAt: iso(x.addedAt), removedAt: iso(x.removedAt) }));
    res.json({ items, total: items.length });
  });
  r.post('/api/v1/watch-list', async (req, res) => {
    const b = parseOr400(addBody, req.body);
    const id = await addWatch(ctx.db, ctx.cfg, req.actor!, b);
    res.status(201).json({ id });
  });
  r.post('/api/v1/watch-list/:id/remove', async (req, res) => {
    const b = parseOr400(removeBody, req.body);
    await removeWatch(ctx.db, req.actor!, idParam(req.params.id), b.reason);
    res.status(204).end();
  });
}
