// HTTP for drawing a missing check (issue 17): the planning department's page and API. Parse,
// authorise (access entries below), call draw.ts, render.
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import type { AccessEntry, Routes } from '../web/access.ts';
import { renderPage, type NavEntry } from '../web/views.ts';
import { parseOr400, Problem } from '../problem.ts';
import { drawableMonths, drawCheck, drawStatus, monthProblem } from './draw.ts';

const PLANNING = ['planning_admin'] as const;

export const drawAccess: AccessEntry[] = [
  { method: 'GET', path: '/checks/draw', who: PLANNING, units: 'all', note: 'agencies still owed a month\'s check and the month\'s sampling runs (empty runs marked); the planning department draws from here' },
  { method: 'POST', path: '/checks/draw', who: PLANNING, units: 'all', note: 'draw one agency\'s missing check for a finished month (the sampling job for that agency, under the run lock); recorded as an event' },
  { method: 'POST', path: '/api/v1/checks/draw', who: PLANNING, units: 'all', note: 'draw one agency\'s missing check {month: YYYY-MM, unit: agency code}: 201 with the check; 409 when it has one or the month is being sampled' },
];

const drawBody = z.object({
  month: z.string({ message: '請選擇月份' }).trim().min(1, '請選擇月份').max(7, '月份格式須為 YYYY-MM'),
  unit: z.string({ message: '請選擇機關' }).trim().min(1, '請選擇機關').max(32, '機關代碼過長'),
});
const pageQuery = z.object({ month: z.string().max(7).optional() });

/** The menu entries of this part (server/capability.ts `nav`). */
export const drawNav: NavEntry[] = [
  { href: '/checks/draw', label: '補抽查核', roles: PLANNING, order: 43 },
];

export function registerDraw(r: Routes, ctx: AppContext): void {
  const { db, cfg } = ctx;
  const jc = { db, cfg };

  r.post('/api/v1/checks/draw', async (req, res) => {
    const body = parseOr400(drawBody, req.body);
    res.status(201).json(await drawCheck(jc, req.actor!, body));
  });

  const page = async (req: Request, res: Response, month: string, extra: Record<string, unknown> = {}, status = 200) => {
    const months = drawableMonths();
    const error = monthProblem(month);
    const status0 = error ? null : await drawStatus(jc, month);
    renderPage(res, 'checks/draw', { title: '補抽查核', months, month, error, draw: status0, ...extra }, status);
  };

  r.get('/checks/draw', async (req, res) => {
    const q = pageQuery.safeParse(req.query);
    await page(req, res, (q.success && q.data.month) || drawableMonths()[0]);
  });

  r.post('/checks/draw', async (req, res) => {
    const parsed = drawBody.safeParse(req.body ?? {});
    const month = parsed.success ? parsed.data.month : typeof req.body?.month === 'string' ? req.body.month.slice(0, 7) : drawableMonths()[0];
    if (!parsed.success) return page(req, res, month, { formError: '請選擇月份與機關。' }, 400);
    try {
      const d = await drawCheck(jc, req.actor!, parsed.data);
      if (req.session) req.session.flash = { kind: 'ok', text: `已補抽 ${d.unit} 之查核：母體 ${d.population} 筆，隨機抽查 ${d.sampleSize} 筆。` };
      res.redirect(303, `/checks/${d.checkId}`);
    } catch (e) {
      if (e instanceof Problem && e.status < 500) return page(req, res, month, { formError: e.errors[0]?.message ?? e.detail }, e.status);
      throw e;
    }
  });
}
