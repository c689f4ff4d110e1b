// HTTP for the watch list (JSON API, ethics only). The subject's value arrives in the body of a
// POST (never a URL) and goes no further than its HMAC.
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import type { AccessEntry, Routes } from '../web/access.ts';
import { parseOr400 } from '../web/validate.ts';
import { fieldError } from '../web/problem.ts';
import { iso } from '../time.ts';
import { SUBJECT_TYPES } from '../queries/subject.ts';
import { addWatch, listWatch, removeWatch } from './service.ts';

const KEEPERS = ['ethics'] as const;

export const access: AccessEntry[] = [
  { method: 'GET', path: '/api/v1/watch-list', who: KEEPERS, units: 'all', note: "the ethics unit's watch list: type, reason, who and when (identifiers are kept as HMAC only)" },
  { method: 'POST', path: '/api/v1/watch-list', who: KEEPERS, units: 'all', note: 'adds a subject to the watch list with a reason (recorded)' },
  { method: 'POST', path: '/api/v1/watch-list/:id/remove', who: KEEPERS, units: 'all', note: 'removes an entry with a reason (recorded; the entry stays as history)' },
];

const addBody = z.object({
  subject: z.object({ type: z.enum(SUBJECT_TYPES, { message: '請選擇查詢條件種類' }), value: z.string({ message: '請填寫查詢條件' }).max(200, '查詢條件過長') }),
  reason: z.string({ message: '請填寫理由' }),
});
const removeBody = z.object({ reason: z.string({ message: '請填寫理由' }) });
const idOf = (s: unknown): number => {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw fieldError('id', '編號不正確');
  return n;
};

export function register(r: Routes, ctx: AppContext): void {
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
    await removeWatch(ctx.db, req.actor!, idOf(req.params.id), b.reason);
    res.status(204).end();
  });
}
