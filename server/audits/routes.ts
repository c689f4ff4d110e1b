// Audits over HTTP: parse, authorise, call the service, render.
import fs from 'node:fs';
import { z } from 'zod';
import type { Request, Response } from 'express';
import type { AppContext } from '../context.ts';
import type { AccessEntry, Routes } from '../web/access.ts';
import { renderPage, addNav } from '../web/views.ts';
import { addHomePanel } from '../web/home.ts';
import { forbidden, notFound, Problem } from '../web/problem.ts';
import { parseForm, parseOr400 } from '../web/validate.ts';
import { isIsoDate, localDate, now } from '../time.ts';
import * as svc from './service.ts';
import * as repo from './repo.ts';
import { awaitExport, exportView, latestDone, startExport, type ExportParams } from './exports.ts';
import { halfOf } from './rules.ts';

const STAFF = ['planning_admin', 'admin', 'clerk', 'supervisor', 'checker', 'auditor', 'ethics', 'it'] as const;

export const access: AccessEntry[] = [
  { method: 'GET', path: '/audits', who: [...svc.AUDIT_ROLES, 'admin', 'planning_admin'], units: 'subtree', note: 'internal audits list' },
  { method: 'POST', path: '/audits', who: svc.AUDIT_ROLES, units: 'subtree', note: 'open a half-year internal audit' },
  { method: 'GET', path: '/audits/:id', who: [...svc.AUDIT_ROLES, 'admin', 'planning_admin'], units: 'subtree' },
  { method: 'POST', path: '/audits/:id', who: svc.AUDIT_ROLES, units: 'subtree', note: 'save, refresh evidence or sign off; refused after sign-off' },
  { method: 'GET', path: '/audits/retained', who: STAFF, units: 'subtree', note: 'retained NHI data registry' },
  { method: 'POST', path: '/audits/retained', who: STAFF, units: 'subtree' },
  { method: 'POST', path: '/audits/retained/:id/destruction', who: STAFF, units: 'subtree' },
  { method: 'GET', path: '/audits/links', who: svc.LINK_ROLES, units: 'subtree', note: 'yearly link review' },
  { method: 'POST', path: '/audits/links', who: svc.LINK_ROLES, units: 'subtree' },
  { method: 'GET', path: '/audits/annual', who: svc.EXPORT_ROLES, units: 'subtree', note: 'annual filing: exports, submission, acknowledgement' },
  { method: 'POST', path: '/audits/annual/exports', who: svc.EXPORT_ROLES, units: 'subtree' },
  { method: 'POST', path: '/audits/annual/filings', who: svc.FILING_ROLES, units: 'own-unit' },
  { method: 'POST', path: '/audits/annual/filings/:id/ack', who: ['planning_admin'], units: 'all' },
  { method: 'GET', path: '/audits/package', who: svc.EXPORT_ROLES, units: 'subtree', note: 'audit package for the NHI administration' },
  { method: 'POST', path: '/audits/package', who: svc.EXPORT_ROLES, units: 'subtree' },
  { method: 'GET', path: '/audits/exports/:id', who: svc.EXPORT_ROLES, units: 'subtree', note: 'export progress page' },
  { method: 'GET', path: '/audits/exports/:id/file', who: svc.EXPORT_ROLES, units: 'subtree' },
  { method: 'GET', path: '/api/v1/exports/:id', who: svc.EXPORT_ROLES, units: 'subtree', note: 'export progress (polled)' },
  { method: 'GET', path: '/api/v1/reports/annual', who: svc.EXPORT_ROLES, units: 'subtree', note: 'the latest annual workbook already made (xlsx), scoped to the caller; never starts one' },
  { method: 'POST', path: '/api/v1/reports/annual', who: svc.EXPORT_ROLES, units: 'subtree', note: 'makes the annual workbook (xlsx) and answers it' },
  { method: 'GET', path: '/api/v1/reports/audit-package', who: svc.EXPORT_ROLES, units: 'subtree', note: 'the latest audit package already made (xlsx), scoped to the caller; never starts one' },
  { method: 'POST', path: '/api/v1/reports/audit-package', who: svc.EXPORT_ROLES, units: 'subtree', note: 'makes the audit package for the NHI administration (xlsx) and answers it' },
];

const who = (req: Request): svc.Who => {
  const a = req.actor!;
  return { id: a.id, account: a.account, unitId: a.unitId, roles: a.roles, ip: a.ip };
};
const flash = (req: Request, kind: 'ok' | 'error', text: string) => void (req.session.flash = { kind, text });
const currentYear = () => Number(localDate(now()).slice(0, 4));

async function exportForViewer(ctx: AppContext, req: Request): Promise<any> {
  const id = svc.parseId(String(req.params.id));
  const row = await repo.exportById(ctx.db, id);
  if (!row) throw notFound('找不到此匯出工作。');
  const r = await svc.reachOf(ctx.db, who(req));
  if (row.unit_id == null ? !r.all : !svc.inReach(r, row.unit_id)) throw forbidden();
  return row;
}

function sendFile(res: Response, row: any, status = 200): void {
  if (!row.file_path || !fs.existsSync(row.file_path)) throw notFound('檔案已不存在，請重新產製。');
  res.status(status);
  res.setHeader('Content-Type', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
  res.setHeader('Content-Disposition', `attachment; filename="${row.file_name}"`);
  res.setHeader('X-Content-SHA256', row.sha256 ?? '');
  fs.createReadStream(row.file_path).pipe(res);
}

const isoDay = z.string().trim().refine(isIsoDate, '日期格式應為 YYYY-MM-DD（且為有效日期）');
const pkgSchema = z.object({
  from: isoDay,
  to: isoDay,
  unit: z.string().trim().max(32).optional(),
}).refine((v) => v.from <= v.to, { path: ['to'], message: '結束日不可早於開始日' });
const yearQuery = z.object({ year: z.coerce.number({ message: '請輸入年度（西元）' }).int('請輸入年度（西元）'), unit: z.string().trim().max(32).optional() });

export function register(r: Routes, ctx: AppContext): void {
  addNav('/audits', '內部稽核', [...svc.AUDIT_ROLES, 'admin', 'planning_admin'], 60);
  addNav('/audits/retained', '留存資料銷毀', ['admin', 'supervisor', 'auditor', 'planning_admin'], 61);
  addNav('/audits/links', '連結作業檢視', svc.LINK_ROLES, 62);
  addNav('/audits/annual', '報府備查', svc.EXPORT_ROLES, 63);

  registerRoutes(r, ctx);
  // Panels are global (one list for the process) and get the app's context when drawn.
  if (!panelsAdded) {
    panelsAdded = true;
    addPanels();
  }
}

let panelsAdded = false;
function addPanels(): void {
  addHomePanel(async ({ db }, actor) => {
    if (!actor.roles.some((x) => ['admin', 'supervisor', 'auditor', 'planning_admin'].includes(x))) return null;
    const reach = await svc.reachOf(db, actor);
    const overdue = await svc.overdueRetained(db, reach.unitIds);
    return { title: '留存健保資料銷毀', items: [{ label: '逾期未銷毀', value: overdue.length, href: '/audits/retained?show=overdue' }] };
  });
  addHomePanel(async ({ db }, actor) => {
    if (!actor.roles.includes('planning_admin')) return null;
    const year = currentYear() - 1;
    const st = await svc.filingStatus(db, year);
    return {
      title: `${year - 1911} 年度報府備查`,
      items: [
        { label: '二月前已報', value: st.filter((s) => s.state === 'on-time').length, href: `/audits/annual?year=${year}` },
        { label: '逾期報送', value: st.filter((s) => s.state === 'late').length, href: `/audits/annual?year=${year}` },
        { label: '尚未報送', value: st.filter((s) => s.state === 'missing').length, href: `/audits/annual?year=${year}` },
      ],
    };
  });
}

function registerRoutes(r: Routes, ctx: AppContext): void {
  const { db, cfg } = ctx;

  // --- internal audits ---
  r.get('/audits', async (req, res) => {
    const reach = await svc.reachOf(db, who(req));
    const audits = await repo.listAudits(db, reach.unitIds);
    const agencies = reach.units.filter((u) => u.kind === 'agency' && svc.inReach(reach, u.id));
    const canOpen = req.actor!.roles.some((x) => svc.AUDIT_ROLES.includes(x));
    renderPage(res, 'audits/index', { title: '內部稽核', audits, agencies, canOpen, form: { period: halfOf(localDate(now())) }, errors: {} });
  });
  r.post('/audits', async (req, res) => {
    const p = parseForm(svc.openAuditSchema, req.body);
    const reach = await svc.reachOf(db, who(req));
    const agencies = reach.units.filter((u) => u.kind === 'agency' && svc.inReach(reach, u.id));
    const again = async (errors: Record<string, string>) =>
      renderPage(res, 'audits/index', { title: '內部稽核', audits: await repo.listAudits(db, reach.unitIds), agencies, canOpen: true, form: req.body, errors }, 400);
    if (!p.ok) return again(p.errors);
    try {
      const out = await svc.openAudit(db, cfg, who(req), p.value);
      res.redirect(303, `/audits/${out.id}`);
    } catch (e) {
      if (e instanceof Problem && e.status === 400) return again(Object.fromEntries(e.errors.map((x) => [x.field, x.message])));
      throw e;
    }
  });
  // --- retained data ---
  const retainedPage = async (req: Request, res: Response, form: Record<string, unknown>, errors: Record<string, string>, status = 200) => {
    const reach = await svc.reachOf(db, who(req));
    const today = localDate(now());
    const show = req.query.show === 'overdue' ? 'overdue' : 'all';
    const items = await repo.listRetained(db, reach.unitIds, show === 'overdue' ? { overdueBefore: today } : {});
    const units = reach.units.filter((u) => svc.inReach(reach, u.id) && u.kind !== 'planning');
    renderPage(res, 'audits/retained', { title: '留存健保資料及銷毀', items, units, today, show, form, errors }, status);
  };
  r.get('/audits/retained', (req, res) => retainedPage(req, res, { unit: req.actor!.unitId }, {}));
  r.post('/audits/retained', async (req, res) => {
    const p = parseForm(svc.retainedSchema, req.body);
    if (!p.ok) return retainedPage(req, res, req.body, p.errors, 400);
    await svc.createRetained(db, who(req), p.value);
    flash(req, 'ok', '已登錄留存資料。');
    res.redirect(303, '/audits/retained');
  });
  r.post('/audits/retained/:id/destruction', async (req, res) => {
    const id = svc.parseId(String(req.params.id));
    const p = parseForm(svc.destructionSchema, req.body);
    if (!p.ok) return retainedPage(req, res, { destroyFor: id, ...req.body }, Object.fromEntries(Object.entries(p.errors).map(([k, v]) => [`d_${k}`, v])), 400);
    try {
      await svc.recordDestruction(db, who(req), id, p.value);
    } catch (e) {
      if (e instanceof Problem && e.status === 400) return retainedPage(req, res, { destroyFor: id, ...req.body }, Object.fromEntries(e.errors.map((x) => [`d_${x.field}`, x.message])), 400);
      throw e;
    }
    flash(req, 'ok', '已登錄銷毀紀錄。');
    res.redirect(303, '/audits/retained');
  });

  // --- link reviews ---
  const linksPage = async (req: Request, res: Response, year: number, form: Record<string, unknown>, errors: Record<string, string>, status = 200) => {
    const links = await svc.linkReviewList(db, who(req), year);
    renderPage(res, 'audits/links', { title: '健保資訊連結作業年度檢視', year, links, form, errors }, status);
  };
  r.get('/audits/links', async (req, res) => {
    const y = Number(req.query.year ?? currentYear());
    const year = Number.isInteger(y) && !svc.yearProblemOf(y) ? y : currentYear();
    await linksPage(req, res, year, {}, {});
  });
  r.post('/audits/links', async (req, res) => {
    const p = parseForm(svc.linkReviewSchema, req.body);
    const year = Number(req.body?.year) || currentYear();
    if (!p.ok) return linksPage(req, res, year, req.body, p.errors, 400);
    try {
      const out = await svc.recordLinkReview(db, who(req), p.value);
      flash(req, 'ok', out.terminationId ? `已記錄檢視結果並產生終止連結申請（第 ${out.terminationId} 號）。` : '已記錄檢視結果。');
    } catch (e) {
      if (e instanceof Problem && (e.status === 400 || e.status === 409)) return linksPage(req, res, year, req.body, e.errors.length ? Object.fromEntries(e.errors.map((x) => [x.field, x.message])) : { link: e.detail ?? e.title }, e.status);
      throw e;
    }
    res.redirect(303, `/audits/links?year=${p.value.year}`);
  });

  // --- annual filing ---
  const annualPage = async (req: Request, res: Response, year: number, errors: Record<string, string> = {}, status = 200, typedYear?: string) => {
    const reach = await svc.reachOf(db, who(req));
    const exports = await db('export_jobs').where('kind', 'annual').where((q) => {
      q.whereIn('unit_id', reach.unitIds);
      if (reach.all) q.orWhereNull('unit_id');
    }).orderBy('id', 'desc').limit(20);
    const status_ = await svc.filingStatus(db, year, reach.all ? undefined : reach.unitIds);
    const units = reach.units.filter((u) => svc.inReach(reach, u.id) && u.kind !== 'planning');
    renderPage(res, 'audits/annual', {
      title: '報府備查（年度報表）', year, exports: exports.map(exportView), filings: status_, units, isPlanning: req.actor!.roles.includes('planning_admin'),
      canFile: req.actor!.roles.some((x) => svc.FILING_ROLES.includes(x)), countyWide: reach.all, errors, typedYear,
    }, status);
  };
  r.get('/audits/annual', async (req, res) => {
    const y = Number(req.query.year ?? currentYear() - 1);
    await annualPage(req, res, Number.isInteger(y) && !svc.yearProblemOf(y) ? y : currentYear() - 1);
  });
  r.post('/audits/annual/exports', async (req, res) => {
    const p = parseForm(yearQuery, req.body);
    const y = p.ok ? p.value.year : currentYear() - 1;
    const typed = String(req.body?.year ?? '');
    if (!p.ok) return annualPage(req, res, currentYear() - 1, p.errors, 400, typed);
    const problem = svc.yearProblemOf(p.value.year);
    if (problem) return annualPage(req, res, currentYear() - 1, { year: problem }, 400, typed);
    if (!typed.trim()) return annualPage(req, res, currentYear() - 1, { year: '請輸入年度（西元）' }, 400, typed);
    const reach = await svc.reachOf(db, who(req));
    const unit = svc.reportUnit(reach, p.value.unit || undefined);
    const out = await startExport(ctx, who(req), { kind: 'annual', year: y, unitId: unit?.id ?? null });
    res.redirect(303, `/audits/exports/${out.id}`);
  });
  r.post('/audits/annual/filings', async (req, res) => {
    const id = svc.parseId(String(req.body?.export ?? ''), 'export');
    await svc.submitFiling(db, who(req), id);
    flash(req, 'ok', '已報府備查。');
    res.redirect(303, '/audits/annual');
  });
  r.post('/audits/annual/filings/:id/ack', async (req, res) => {
    const id = svc.parseId(String(req.params.id));
    await svc.acknowledgeFiling(db, who(req), id, String(req.body?.note ?? '').slice(0, 500));
    flash(req, 'ok', '已確認收件。');
    res.redirect(303, `/audits/annual?year=${Number(req.body?.year) || currentYear() - 1}`);
  });

  // --- audit package ---
  r.get('/audits/package', async (req, res) => {
    const reach = await svc.reachOf(db, who(req));
    const y = currentYear();
    renderPage(res, 'audits/package', { title: '稽核資料（提供健保署稽核）', units: reach.units.filter((u) => svc.inReach(reach, u.id) && u.kind !== 'planning'), form: { from: `${y}-01-01`, to: localDate(now()) }, errors: {} });
  });
  r.post('/audits/package', async (req, res) => {
    const p = parseForm(pkgSchema, req.body);
    const reach = await svc.reachOf(db, who(req));
    if (!p.ok) return renderPage(res, 'audits/package', { title: '稽核資料（提供健保署稽核）', units: reach.units.filter((u) => svc.inReach(reach, u.id) && u.kind !== 'planning'), form: req.body, errors: p.errors }, 400);
    const unit = svc.reportUnit(reach, p.value.unit || undefined);
    const out = await startExport(ctx, who(req), { kind: 'audit-package', from: p.value.from, to: p.value.to, unitId: unit?.id ?? null });
    res.redirect(303, `/audits/exports/${out.id}`);
  });

  // --- exports ---
  r.get('/audits/exports/:id', async (req, res) => {
    const row = await exportForViewer(ctx, req);
    renderPage(res, 'audits/export', { title: '報表產製', x: exportView(row) });
  });
  r.get('/audits/exports/:id/file', async (req, res) => {
    const row = await exportForViewer(ctx, req);
    if (row.status !== 'done') throw new Problem(409, 'export-not-ready', 'Conflict', '報表尚未產製完成。');
    sendFile(res, row);
  });
  r.get('/api/v1/exports/:id', async (req, res) => {
    res.json(exportView(await exportForViewer(ctx, req)));
  });
  // A GET never changes state (no export row, no file): it answers the newest workbook already
  // made for exactly these parameters — by the annual-report job, the page or a POST — or a 404
  // telling to POST. A POST makes one (or joins the one running) and answers it when done.
  const sendLatest = async (res: Response, p: ExportParams) => {
    const row = await latestDone(db, p);
    if (!row || !row.file_path || !fs.existsSync(row.file_path)) {
      throw new Problem(404, 'export-not-made', 'Not made yet', '尚未產製此報表（或檔案已逾保存期限刪除）；請以 POST 同一路徑（參數置於 JSON 內容）產製。');
    }
    res.setHeader('Last-Modified', new Date(Number(row.finished_at)).toUTCString());
    res.setHeader('Content-Location', `/api/v1/exports/${row.id}`);
    sendFile(res, row);
  };
  const makeAndSend = async (req: Request, res: Response, p: ExportParams, failed: string) => {
    const started = await startExport(ctx, who(req), p);
    const row = await awaitExport(db, started.id);
    if (!row || row.status !== 'done') throw new Problem(503, 'export-failed', 'Export failed', failed);
    res.setHeader('Location', `/api/v1/exports/${row.id}`);
    sendFile(res, row, started.joined ? 200 : 201);
  };
  const annualParams = async (req: Request, input: unknown): Promise<ExportParams> => {
    const q = parseOr400(yearQuery, input);
    svc.checkYear(q.year);
    const unit = svc.reportUnit(await svc.reachOf(db, who(req)), q.unit || undefined);
    return { kind: 'annual', year: q.year, unitId: unit?.id ?? null };
  };
  // 5(四): the NHI administration's auditors ask for the roster and audit records of a period.
  const packageParams = async (req: Request, input: unknown): Promise<ExportParams> => {
    const q = parseOr400(pkgSchema, input);
    const unit = svc.reportUnit(await svc.reachOf(db, who(req)), q.unit || undefined);
    return { kind: 'audit-package', from: q.from, to: q.to, unitId: unit?.id ?? null };
  };
  r.get('/api/v1/reports/annual', async (req, res) => sendLatest(res, await annualParams(req, req.query)));
  r.post('/api/v1/reports/annual', async (req, res) => makeAndSend(req, res, await annualParams(req, req.body), '年度報表產製失敗，請稍後再試。'));
  r.get('/api/v1/reports/audit-package', async (req, res) => sendLatest(res, await packageParams(req, req.query)));
  r.post('/api/v1/reports/audit-package', async (req, res) => makeAndSend(req, res, await packageParams(req, req.body), '稽核資料產製失敗，請稍後再試。'));

  // Registered last so /audits/retained, /audits/links … are not taken for an id.
  r.get('/audits/:id', async (req, res) => {
    const a = await svc.auditForViewer(db, who(req), svc.parseId(String(req.params.id)));
    const canEdit = a.status === 'open' && req.actor!.roles.some((x) => svc.AUDIT_ROLES.includes(x));
    renderPage(res, 'audits/audit', { title: `內部稽核 ${a.unit.name} ${a.period}`, a, canEdit, errors: {} });
  });
  r.post('/audits/:id', async (req, res) => {
    const id = svc.parseId(String(req.params.id));
    const body = req.body ?? {};
    // Form fields result_<key> / note_<key> become results[key].
    const results: Record<string, { result: string; note: string }> = {};
    for (const [k, v] of Object.entries(body)) {
      const m = /^(result|note)_([a-z-]+)$/.exec(k);
      if (m) results[m[2]] = { ...(results[m[2]] ?? { result: '', note: '' }), [m[1]]: String(v) };
    }
    const input = svc.parseOr400(svc.saveAuditSchema, { findings: body.findings, conclusion: body.conclusion, results });
    const action = String(body.action ?? 'save');
    try {
      await svc.saveAudit(db, cfg, who(req), id, input, { sign: action === 'sign', refresh: action === 'refresh' });
      flash(req, 'ok', action === 'sign' ? '已簽核，稽核紀錄已保存（保存五年）。' : action === 'refresh' ? '已更新系統佐證。' : '已儲存。');
      res.redirect(303, `/audits/${id}`);
    } catch (e) {
      if (e instanceof Problem && e.status === 400) {
        const a = await svc.auditForViewer(db, who(req), id);
        const shown = { ...a, findings: input.findings, conclusion: input.conclusion, checklist: a.checklist.map((i) => ({ ...i, result: (input.results[i.key]?.result || i.result) as any, note: input.results[i.key]?.note ?? i.note })) };
        return renderPage(res, 'audits/audit', { title: '內部稽核', a: shown, canEdit: true, errors: Object.fromEntries(e.errors.map((x) => [x.field, x.message])) }, 400);
      }
      throw e;
    }
  });

}
