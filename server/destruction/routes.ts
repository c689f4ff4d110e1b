// Destruction lists over HTTP (pages and API): parse, authorise, call the service, render.
import { z } from 'zod';
import type { Request, Response } from 'express';
import type { AppContext } from '../context.ts';
import type { AccessEntry, Routes } from '../web/access.ts';
import { renderPage, type NavEntry } from '../web/views.ts';
import { type HomePanel } from '../web/home.ts';
import { parseOr400, Problem } from '../problem.ts';
import { idParam } from '../web/validate.ts';
import { withAdminDb } from '../db.ts';
import { iso, rocDate } from '../time.ts';
import { log } from '../log.ts';
import * as svc from './service.ts';
import { DUTIES, DUTY_LABELS, STATUS_LABELS, lapsesAt } from './rules.ts';
import { writeListXlsx } from './workbook.ts';
import { workbookDownload } from '../web/attachment.ts';
import type { Actor } from '../actor.ts';

const VIEWERS = svc.VIEWERS;
const APPROVERS = ['planning_admin', 'ethics'] as const;

export const access: AccessEntry[] = [
  { method: 'GET', path: '/destructions', who: VIEWERS, units: 'subtree', note: 'query log destruction lists (銷毀目錄) within reach' },
  { method: 'GET', path: '/destructions/:id', who: VIEWERS, units: 'subtree' },
  { method: 'POST', path: '/destructions/:id/approvals', who: APPROVERS, units: 'subtree', note: 'approve as planning-department admin or ethics officer (two different people)' },
  { method: 'GET', path: '/destructions/:id/file', who: VIEWERS, units: 'subtree', note: 'the destruction list as xlsx' },
  { method: 'GET', path: '/api/v1/destructions', who: VIEWERS, units: 'subtree', note: 'destruction lists within reach' },
  { method: 'GET', path: '/api/v1/destructions/:id', who: VIEWERS, units: 'subtree' },
  { method: 'POST', path: '/api/v1/destructions/:id/approvals', who: APPROVERS, units: 'subtree', note: '{duty: planning|ethics}; answers whether the list was carried out' },
];

const person = (req: Request): Actor => req.actor!;
const dutySchema = z.object({ duty: z.enum(DUTIES, { message: '請選擇核准身分（計畫處管理者或政風人員）' }) });

const listJson = (l: svc.ListView) => ({
  id: l.id, agency: { code: l.agencyCode, name: l.agency }, cutoff: l.cutoff, from: l.fromDate, to: l.toDate, firstSeq: l.firstSeq, lastSeq: l.lastSeq, count: l.count,
  segmentHash: l.segmentHash, status: l.status, preparedAt: iso(l.preparedAt), closedAt: iso(l.closedAt), voidReason: l.voidReason,
  approvals: l.approvals.map((a) => ({ duty: a.duty, account: a.account, at: iso(a.at), lapsesAt: iso(lapsesAt(a)), current: a.current })),
  canApprove: l.canApprove,
});

/** Approves, then carries the list out at once when both duties have approved (under the admin account). */
async function approveAndCarryOut(ctx: AppContext, req: Request, id: number, duty: (typeof DUTIES)[number]): Promise<{ ready: boolean; outcome: svc.Outcome | null }> {
  const { ready } = await svc.approve(ctx.db, person(req), id, duty);
  if (!ready) return { ready, outcome: null };
  try {
    return { ready, outcome: await withAdminDb(ctx, (db) => svc.executeList(db, ctx.cfg, id)) };
  } catch (e) {
    // The approvals stand; the daily retention job carries the list out.
    log.error({ err: e, destruction: id }, 'destruction: carrying out the approved list failed; left for the retention job');
    return { ready, outcome: null };
  }
}

/** The menu entries of this part (server/capability.ts `nav`). */
export const nav: NavEntry[] = [
  { href: '/destructions', label: '查詢紀錄銷毀', roles: [...VIEWERS], order: 63 },
];


export function register(r: Routes, ctx: AppContext): void {
  const labels = { DUTY_LABELS, STATUS_LABELS, rocDate, lapsesAt };

  r.get('/destructions', async (req, res) => {
    renderPage(res, 'destruction/index', { title: '查詢紀錄銷毀目錄', lists: await svc.listsFor(ctx.db, person(req)), ...labels });
  });
  r.get('/destructions/:id', async (req, res) => {
    const l = await svc.listFor(ctx.db, person(req), idParam(req.params.id));
    renderPage(res, 'destruction/detail', { title: `銷毀目錄第 ${l.id} 號`, l, ...labels });
  });
  r.post('/destructions/:id/approvals', async (req: Request, res: Response) => {
    const id = idParam(req.params.id);
    const back = `/destructions/${id}`;
    const parsed = dutySchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      req.session.flash = { kind: 'error', text: parsed.error.issues[0].message };
      return res.redirect(303, back);
    }
    try {
      const { ready, outcome } = await approveAndCarryOut(ctx, req, id, parsed.data.duty);
      req.session.flash = { kind: 'ok', text: !ready ? '已核准，尚待另一身分核准。' : outcome?.executed ? `已核准並完成銷毀（${outcome.count} 筆）。` : `已核准。${outcome ? '銷毀未執行：目錄內容已變更，目錄已作廢，將重新產生。' : '將由每日保存期限作業執行銷毀。'}` };
    } catch (e) {
      if (!(e instanceof Problem) || e.status === 404) throw e;
      req.session.flash = { kind: 'error', text: e.detail ?? '無法核准。' };
    }
    res.redirect(303, back);
  });
  r.get('/destructions/:id/file', async (req, res) => {
    const l = await svc.listFor(ctx.db, person(req), idParam(req.params.id));
    const format = workbookDownload(req, res, `查詢紀錄銷毀目錄第${l.id}號_${l.agency}`, `destruction-${l.agencyCode}-${l.id}`);
    await writeListXlsx(ctx.db, ctx.cfg, l, res, format);
  });

  r.get('/api/v1/destructions', async (req, res) => {
    const items = (await svc.listsFor(ctx.db, person(req))).map(listJson);
    res.json({ items, total: items.length });
  });
  r.get('/api/v1/destructions/:id', async (req, res) => {
    res.json(listJson(await svc.listFor(ctx.db, person(req), idParam(req.params.id))));
  });
  r.post('/api/v1/destructions/:id/approvals', async (req, res) => {
    const id = idParam(req.params.id);
    const { duty } = parseOr400(dutySchema, req.body);
    const { ready, outcome } = await approveAndCarryOut(ctx, req, id, duty);
    res.json({ ready, executed: outcome?.executed ?? false, ...(outcome && !outcome.executed ? { reason: outcome.reason } : {}), list: listJson(await svc.listFor(ctx.db, person(req), id)) });
  });
}

/** The home-page panels of this part (server/capability.ts `homePanels`). */
export const homePanels: HomePanel[] = [
  async (pctx, actor) => {
    if (!actor.roles.some((x) => (APPROVERS as readonly string[]).includes(x))) return null;
    const n = await svc.awaitingMe(pctx.db, actor);
    return n ? { title: '查詢紀錄銷毀目錄', items: [{ label: '待您核准', value: n, href: '/destructions' }] } : null;
  },
];
