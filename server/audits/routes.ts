// Audits over HTTP: parse, authorise, call the service, render.
import fs from 'node:fs';
import { z } from 'zod';
import type { Request, Response } from 'express';
import type { AppContext } from '../context.ts';
import type { AccessEntry, Routes } from '../web/access.ts';
import { renderPage, pageHtml, type NavEntry } from '../web/views.ts';
import { pdfOfHtml } from '../web/pdf.ts';
import { type HomePanel } from '../web/home.ts';
import { parseOr400, forbidden, notFound, Problem, fieldError } from '../problem.ts';
import { parseJson } from '../db.ts';
import { parseForm, workbookFormatOf, idParam, pathId, formErrors } from '../web/validate.ts';
import { isIsoDate, localDate, now, parseHalfYear, parseRocYear, ROC_DATE_HINT, rocPeriod } from '../time.ts';
import * as svc from './service.ts';
import * as repo from './repo.ts';
import { awaitExport, exportFileName, exportView, formatParam, latestDone, startExport, type ExportParams } from './exports.ts';
import { WORKBOOK_MIME, isWorkbookFormat } from '../../reports/cells.ts';
import { ODT_MIME } from '../../reports/ods.ts';
import { writeLetter } from '../../reports/letter.ts';
import { DEFAULT_SECRECY, SPEEDS, letterFields, letterSchema } from './letter.ts';
import { attachmentAs } from '../web/attachment.ts';
import { halfOf } from './rules.ts';
import type { Actor } from '../actor.ts';

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
  { method: 'GET', path: '/audits/:id/record.pdf', who: [...svc.AUDIT_ROLES, 'admin', 'planning_admin'], units: 'subtree', note: 'the internal audit record as A4 PDF (issue 19), to those who may read the audit' },
  { method: 'GET', path: '/audits/exports/:id/letter', who: svc.FILING_ROLES, units: 'subtree', note: 'the annual filing\'s covering letter (函, .odt): the form' },
  { method: 'POST', path: '/audits/exports/:id/letter', who: svc.FILING_ROLES, units: 'subtree', note: 'the covering letter as .odt; changes nothing' },
  { method: 'GET', path: '/api/v1/exports/:id', who: svc.EXPORT_ROLES, units: 'subtree', note: 'export progress (polled)' },
  { method: 'GET', path: '/api/v1/reports/annual', who: svc.EXPORT_ROLES, units: 'subtree', note: 'the latest annual workbook already made (xlsx), scoped to the caller; never starts one' },
  { method: 'POST', path: '/api/v1/reports/annual', who: svc.EXPORT_ROLES, units: 'subtree', note: 'makes the annual workbook (xlsx) and answers it' },
  { method: 'GET', path: '/api/v1/reports/audit-package', who: svc.EXPORT_ROLES, units: 'subtree', note: 'the latest audit package already made (xlsx), scoped to the caller; never starts one' },
  { method: 'POST', path: '/api/v1/reports/audit-package', who: svc.EXPORT_ROLES, units: 'subtree', note: 'makes the audit package for the NHI administration (xlsx) and answers it' },
];

/** The signed-in person (req.actor is already the one Actor shape, with the request's address). */
const who = (req: Request): Actor => req.actor!;
const flash = (req: Request, kind: 'ok' | 'error', text: string) => void (req.session.flash = { kind, text });
const currentYear = () => Number(localDate(now()).slice(0, 4));
/** Pages take the year in the ROC calendar (115, or a western 2026 also reads); the API and CLI keep western years. */
const YEAR_HINT = '請輸入年度（民國年），例如「115」';
function pageYear(typed: unknown): { year: number } | { error: string } {
  const y = parseRocYear(String(typed ?? ''));
  if (y == null) return { error: YEAR_HINT };
  if (y > currentYear()) return { error: '不可產製或檢視未來年度' };
  return y < 2000 ? { error: '年度應為民國 89 年以後' } : { year: y };
}

async function exportForViewer(ctx: AppContext, req: Request): Promise<any> {
  const id = idParam(req.params.id);
  const row = await repo.exportById(ctx.db, id);
  if (!row) throw notFound('找不到此匯出工作。');
  const r = await svc.reachOf(ctx.db, who(req));
  if (row.unit_id == null ? !r.all : !svc.inReach(r, row.unit_id)) throw forbidden();
  return row;
}

/** The agency an export covers (null: the county's summary), for its name and the list of exports. */
async function exportAgency(db: AppContext['db'], unitId: unknown): Promise<{ code: string; name: string } | null> {
  return unitId == null ? null : (await db('units').where({ id: Number(unitId) }).first('code', 'name')) ?? null;
}

async function sendFile(db: AppContext['db'], res: Response, row: any, status = 200): Promise<void> {
  if (!row.file_path || !fs.existsSync(row.file_path)) throw notFound('檔案已不存在，請重新產製。');
  res.status(status);
  const params = parseJson<ExportParams>(row.params, { kind: row.kind } as ExportParams);
  res.setHeader('Content-Type', WORKBOOK_MIME[params.format ?? 'xlsx']);
  const f = exportFileName(params, await exportAgency(db, row.unit_id));
  attachmentAs(res, f.name, f.ascii);
  res.setHeader('X-Content-SHA256', row.sha256 ?? '');
  fs.createReadStream(row.file_path).pipe(res);
}

const isoDay = z.string().trim().refine(isIsoDate, ROC_DATE_HINT);
const pkgSchema = z.object({
  from: isoDay,
  to: isoDay,
  unit: z.string().trim().max(32).optional(),
}).refine((v) => v.from <= v.to, { path: ['to'], message: '結束日不可早於開始日' });
const yearQuery = z.object({ year: z.coerce.number({ message: '請輸入年度（西元）' }).int('請輸入年度（西元）'), unit: z.string().trim().max(32).optional() });

/** The menu entries of this part (server/capability.ts `nav`). */
export const nav: NavEntry[] = [
  { href: '/audits', label: '內部稽核', roles: [...svc.AUDIT_ROLES, 'admin', 'planning_admin'], order: 60 },
  { href: '/audits/retained', label: '留存資料銷毀', roles: ['admin', 'supervisor', 'auditor', 'planning_admin'], order: 61 },
  { href: '/audits/links', label: '連結作業檢視', roles: svc.LINK_ROLES, order: 62 },
  { href: '/audits/annual', label: '報府備查', roles: svc.EXPORT_ROLES, order: 63 },
];

export function register(r: Routes, ctx: AppContext): void {
  const { db, cfg } = ctx;

  // --- internal audits ---
  r.get('/audits', async (req, res) => {
    const reach = await svc.reachOf(db, who(req));
    const audits = await repo.listAudits(db, reach.unitIds);
    const agencies = reach.units.filter((u) => u.kind === 'agency' && svc.inReach(reach, u.id));
    const canOpen = req.actor!.roles.some((x) => svc.AUDIT_ROLES.includes(x));
    renderPage(res, 'audits/index', { title: '內部稽核', audits, agencies, canOpen, form: { period: rocPeriod(halfOf(localDate(now()))) }, errors: {} });
  });
  r.post('/audits', async (req, res) => {
    const half = parseHalfYear(String(req.body?.period ?? ''));
    const p = half ? parseForm(svc.openAuditSchema, { ...req.body, period: half }) : { ok: false as const, errors: { period: '請輸入半年度，例如「115 年上半年」或「115 年下半年」' } };
    const reach = await svc.reachOf(db, who(req));
    const agencies = reach.units.filter((u) => u.kind === 'agency' && svc.inReach(reach, u.id));
    const again = async (errors: Record<string, string>) =>
      renderPage(res, 'audits/index', { title: '內部稽核', audits: await repo.listAudits(db, reach.unitIds), agencies, canOpen: true, form: req.body, errors }, 400);
    if (!p.ok) return again(p.errors);
    try {
      const out = await svc.openAudit(db, cfg, who(req), p.value);
      res.redirect(303, `/audits/${out.id}`);
    } catch (e) {
      if (e instanceof Problem && e.status === 400) return again(formErrors(e));
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
    const id = idParam(req.params.id);
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
    const y = req.query.year == null ? { year: currentYear() } : pageYear(req.query.year);
    await linksPage(req, res, 'year' in y ? y.year : currentYear(), {}, 'error' in y ? { year: y.error } : {}, 'error' in y ? 400 : 200);
  });
  r.post('/audits/links', async (req, res) => {
    const y = pageYear(req.body?.year);
    const year = 'year' in y ? y.year : currentYear();
    if ('error' in y) return linksPage(req, res, year, req.body, { year: y.error }, 400);
    const p = parseForm(svc.linkReviewSchema, { ...req.body, year });
    if (!p.ok) return linksPage(req, res, year, req.body, p.errors, 400);
    try {
      const out = await svc.recordLinkReview(db, who(req), p.value);
      flash(req, 'ok', out.terminationId ? `已記錄檢視結果並產生終止連結申請（第 ${out.terminationId} 號）。` : '已記錄檢視結果。');
    } catch (e) {
      if (e instanceof Problem && (e.status === 400 || e.status === 409)) return linksPage(req, res, year, req.body, formErrors(e, 'link'), e.status);
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
      title: '報府備查（年度報表）', year, exports: exports.map((x) => ({ ...exportView(x), agency: x.unit_id == null ? '全縣彙總' : reach.units.find((u) => u.id === Number(x.unit_id))?.name ?? '' })), filings: status_, units, isPlanning: req.actor!.roles.includes('planning_admin'),
      canFile: req.actor!.roles.some((x) => svc.FILING_ROLES.includes(x)), countyWide: reach.all, errors, typedYear,
    }, status);
  };
  r.get('/audits/annual', async (req, res) => {
    const y = req.query.year == null ? { year: currentYear() - 1 } : pageYear(req.query.year);
    await annualPage(req, res, 'year' in y ? y.year : currentYear() - 1, 'error' in y ? { year: y.error } : {}, 'error' in y ? 400 : 200);
  });
  r.post('/audits/annual/exports', async (req, res) => {
    const typed = String(req.body?.year ?? '');
    const py = pageYear(typed);
    if ('error' in py) return annualPage(req, res, currentYear() - 1, { year: py.error }, 400, typed);
    const p = parseForm(yearQuery, { ...req.body, year: py.year });
    if (!p.ok) return annualPage(req, res, currentYear() - 1, p.errors, 400, typed);
    const y = p.value.year;
    const reach = await svc.reachOf(db, who(req));
    const unit = svc.reportUnit(reach, p.value.unit || undefined);
    const format = req.body?.format ?? 'xlsx';
    if (!isWorkbookFormat(format)) return annualPage(req, res, y, { format: '請選擇檔案格式（xlsx 或 ods）。' }, 400, typed);
    const out = await startExport(ctx, who(req), { kind: 'annual', year: y, unitId: unit?.id ?? null, ...formatParam(format) });
    res.redirect(303, `/audits/exports/${out.id}`);
  });
  r.post('/audits/annual/filings', async (req, res) => {
    const id = pathId(String(req.body?.export ?? ''));
    if (id < 0) throw fieldError('export', '報表編號不正確');
    await svc.submitFiling(db, who(req), id);
    flash(req, 'ok', '已報府備查。');
    res.redirect(303, '/audits/annual');
  });
  r.post('/audits/annual/filings/:id/ack', async (req, res) => {
    const id = idParam(req.params.id);
    await svc.acknowledgeFiling(db, who(req), id, String(req.body?.note ?? '').slice(0, 500));
    flash(req, 'ok', '已確認收件。');
    res.redirect(303, `/audits/annual?year=${parseRocYear(String(req.body?.year ?? '')) ?? currentYear() - 1}`);
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
    const format = req.body?.format ?? 'xlsx';
    if (!isWorkbookFormat(format)) return renderPage(res, 'audits/package', { title: '稽核資料（提供健保署稽核）', units: reach.units.filter((u) => svc.inReach(reach, u.id) && u.kind !== 'planning'), form: req.body, errors: { format: '請選擇檔案格式（xlsx 或 ods）。' } }, 400);
    const out = await startExport(ctx, who(req), { kind: 'audit-package', from: p.value.from, to: p.value.to, unitId: unit?.id ?? null, ...formatParam(format) });
    res.redirect(303, `/audits/exports/${out.id}`);
  });

  // --- exports ---
  r.get('/audits/exports/:id', async (req, res) => {
    const row = await exportForViewer(ctx, req);
    renderPage(res, 'audits/export', { title: '報表產製', x: exportView(row), agency: (await exportAgency(db, row.unit_id))?.name ?? '全縣彙總' });
  });
  r.get('/audits/exports/:id/file', async (req, res) => {
    const row = await exportForViewer(ctx, req);
    if (row.status !== 'done') throw new Problem(409, 'export-not-ready', 'Conflict', '報表尚未產製完成。');
    await sendFile(db, res, row);
  });
  // The covering letter (函) of an agency's finished annual workbook; POST only because 發文字號 is typed.
  const letterExport = async (req: Request) => {
    const row = await exportForViewer(ctx, req);
    if (row.kind !== 'annual' || row.unit_id == null || row.status !== 'done') throw new Problem(409, 'letter-not-available', 'Conflict', '僅已產製完成之機關年度報表可產製函稿。');
    return row;
  };
  const letterPage = async (res: Response, row: any, form: Record<string, unknown>, errors: Record<string, string>, status = 200) =>
    renderPage(res, 'audits/letter', { title: '報府備查函稿', x: exportView(row), agency: (await exportAgency(db, row.unit_id))?.name ?? '', form, errors, speeds: SPEEDS, defaultSecrecy: DEFAULT_SECRECY }, status);
  r.get('/audits/exports/:id/letter', async (req, res) => letterPage(res, await letterExport(req), {}, {}));
  r.post('/audits/exports/:id/letter', async (req, res) => {
    const row = await letterExport(req);
    const p = parseForm(letterSchema, req.body);
    if (!p.ok) return letterPage(res, row, req.body ?? {}, p.errors, 400);
    const fields = await letterFields(db, row, p.value, cfg.COUNTY_NAME);
    res.setHeader('Content-Type', ODT_MIME);
    attachmentAs(res, `${fields.agency}_${Number(exportView(row).params.year) - 1911}年度報府備查函稿.odt`, `annual-letter-${row.id}.odt`);
    await writeLetter(fields, { stream: res }, fields.agency, new Date(now()));
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
    await sendFile(db, res, row);
  };
  const makeAndSend = async (req: Request, res: Response, p: ExportParams, failed: string) => {
    const started = await startExport(ctx, who(req), p);
    const row = await awaitExport(db, started.id);
    if (!row || row.status !== 'done') throw new Problem(503, 'export-failed', 'Export failed', failed);
    res.setHeader('Location', `/api/v1/exports/${row.id}`);
    await sendFile(db, res, row, started.joined ? 200 : 201);
  };
  const annualParams = async (req: Request, input: unknown): Promise<ExportParams> => {
    const q = parseOr400(yearQuery, input);
    svc.checkYear(q.year);
    const unit = svc.reportUnit(await svc.reachOf(db, who(req)), q.unit || undefined);
    return { kind: 'annual', year: q.year, unitId: unit?.id ?? null, ...formatParam(workbookFormatOf(req, (input as { format?: unknown } | undefined)?.format)) };
  };
  // 5(四): the NHI administration's auditors ask for the roster and audit records of a period.
  const packageParams = async (req: Request, input: unknown): Promise<ExportParams> => {
    const q = parseOr400(pkgSchema, input);
    const unit = svc.reportUnit(await svc.reachOf(db, who(req)), q.unit || undefined);
    return { kind: 'audit-package', from: q.from, to: q.to, unitId: unit?.id ?? null, ...formatParam(workbookFormatOf(req, (input as { format?: unknown } | undefined)?.format)) };
  };
  r.get('/api/v1/reports/annual', async (req, res) => sendLatest(res, await annualParams(req, req.query)));
  r.post('/api/v1/reports/annual', async (req, res) => makeAndSend(req, res, await annualParams(req, req.body), '年度報表產製失敗，請稍後再試。'));
  r.get('/api/v1/reports/audit-package', async (req, res) => sendLatest(res, await packageParams(req, req.query)));
  r.post('/api/v1/reports/audit-package', async (req, res) => makeAndSend(req, res, await packageParams(req, req.body), '稽核資料產製失敗，請稍後再試。'));

  r.get('/audits/:id/record.pdf', async (req, res) => {
    const a = await svc.auditForViewer(db, who(req), idParam(req.params.id));
    res.locals.printPage = true;
    const pdf = await pdfOfHtml(pageHtml(res, 'audits/audit', { title: `內部稽核紀錄 ${a.unit.name} ${rocPeriod(a.period)}`, a, canEdit: false, errors: {} }), ctx.cfg.CHROMIUM_PATH);
    res.setHeader('Content-Type', 'application/pdf');
    attachmentAs(res, `內部稽核紀錄_${a.unit.name}_${rocPeriod(a.period).replace(/ /g, '')}.pdf`, `internal-audit-${a.id}.pdf`);
    res.send(pdf);
  });

  // Registered last so /audits/retained, /audits/links … are not taken for an id.
  r.get('/audits/:id', async (req, res) => {
    const a = await svc.auditForViewer(db, who(req), idParam(req.params.id));
    const canEdit = a.status === 'open' && req.actor!.roles.some((x) => svc.AUDIT_ROLES.includes(x));
    renderPage(res, 'audits/audit', { title: `內部稽核 ${a.unit.name} ${rocPeriod(a.period)}`, a, canEdit, errors: {} });
  });
  r.post('/audits/:id', async (req, res) => {
    const id = idParam(req.params.id);
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
        return renderPage(res, 'audits/audit', { title: '內部稽核', a: shown, canEdit: true, errors: formErrors(e) }, 400);
      }
      throw e;
    }
  });

}

/** The home-page panels of this part (server/capability.ts `homePanels`). */
export const homePanels: HomePanel[] = [
  async ({ db }, actor) => {
    if (!actor.roles.some((x) => ['admin', 'supervisor', 'auditor', 'planning_admin'].includes(x))) return null;
    const reach = await svc.reachOf(db, actor);
    const overdue = await svc.overdueRetained(db, reach.unitIds);
    return { title: '留存健保資料銷毀', items: [{ label: '逾期未銷毀', value: overdue.length, href: '/audits/retained?show=overdue' }] };
  },
  async ({ db }, actor) => {
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
  },
];
