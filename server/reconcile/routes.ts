// Reconciliation over HTTP: parse, authorise, call the service, render. The import half (sources,
// mappings, account links, preview, imports) is registered by registerImports; other parts of the
// capability add their own entries and routes beside it.
import type { Request, Response } from 'express';
import type { AppContext } from '../context.ts';
import type { AccessEntry, Routes } from '../web/access.ts';
import { renderPage, type NavEntry } from '../web/views.ts';
import { notFound, Problem } from '../problem.ts';
import { declareUpload } from '../web/upload.ts';
import { localMonth, now, previousMonth, rocMonth } from '../time.ts';
import { importAccess } from './access.ts';
import * as svc from './service.ts';
import { writeRefusalReport, type RefusalReport } from './report.ts';
import { COLUMN_KEYS, COLUMN_LABELS, DATE_STYLE_LABELS, DATE_STYLES, ENCODING_LABELS, ENCODINGS, KIND_LABELS, MANAGERS, READERS, SOURCE_KINDS, type RowError } from './rules.ts';
import { workbookDownload } from '../web/attachment.ts';
import type { Actor } from '../actor.ts';
import { idParam, formErrors } from '../web/validate.ts';

export const access: AccessEntry[] = [...importAccess];

export function register(r: Routes, ctx: AppContext): void {
  registerImports(r, ctx);
}

// ---------------------------------------------------------------------------------------------
// The import half

/** The signed-in person (req.actor is already the one Actor shape, with the request's address). */
const who = (req: Request): Actor => req.actor!;
const flash = (req: Request, kind: 'ok' | 'error', text: string) => void (req.session.flash = { kind, text });
/** The row id in the path (web/validate.ts idParam: the one parser). */
const idOf = (req: Request): number => idParam(req.params.id);
const text = (v: unknown): string => (typeof v === 'string' ? v : '');
/** Field → message, for a form re-shown beside its fields. */
const REPORT_URL = '/reconcile/imports/report.xlsx';
/** A mapping's field errors on the source page, apart from the link form's (both have an account field). */
const mappingErrors = (p: Problem): Record<string, string> =>
  Object.fromEntries(p.errors.map((e) => [e.field === 'file' ? 'file' : `m_${e.field.replace(/^columns\./, '')}`, e.message]));

/** The mapping fields of a form or multipart body, as the API's mapping object; null when none is given. */
function mappingFrom(body: Record<string, unknown> | undefined): Record<string, unknown> | null {
  const b = body ?? {};
  const keys = [...COLUMN_KEYS, 'encoding', 'dateStyle', 'headerRow'];
  if (!keys.some((k) => text(b[k]).trim() !== '')) return null;
  return {
    columns: Object.fromEntries(COLUMN_KEYS.map((k) => [k, text(b[k])])),
    encoding: text(b.encoding) || undefined, dateStyle: text(b.dateStyle) || undefined, headerRow: text(b.headerRow) || undefined,
  };
}

/** Keeps the refused file's report in the session for the workbook download (no cell values in it). */
function keepReport(req: Request, e: svc.ImportRefused): void {
  const r = { ...e.context, at: now(), errorCount: e.errorCount, errors: e.rowErrors.slice(0, svc.MAX_ERRORS_LISTED).map((x) => [x.row, x.column, x.message]) };
  req.session.reconcileReport = r;
}
function reportOf(req: Request): RefusalReport | null {
  const r = req.session?.reconcileReport as (Omit<RefusalReport, 'errors'> & { errors: Array<[number | null, string | null, string]> }) | undefined;
  if (!r || !Array.isArray(r.errors)) return null;
  return { ...r, errors: r.errors.map(([row, column, message]) => ({ row, column, message })) };
}

const labels = {
  kinds: SOURCE_KINDS.map((k) => ({ value: k, label: KIND_LABELS[k] })),
  encodings: ENCODINGS.map((k) => ({ value: k, label: ENCODING_LABELS[k] })),
  dateStyles: DATE_STYLES.map((k) => ({ value: k, label: DATE_STYLE_LABELS[k] })),
  columns: COLUMN_KEYS.map((k) => ({ key: k, label: COLUMN_LABELS[k] })),
  kindLabel: KIND_LABELS,
  encodingLabel: ENCODING_LABELS,
  dateStyleLabel: DATE_STYLE_LABELS,
};

/** The menu entries of this part (server/capability.ts `nav`). */
export const nav: NavEntry[] = [
  { href: '/reconcile/imports', label: '對帳匯入', roles: READERS, order: 50 },
  { href: '/reconcile/sources', label: '對帳來源', roles: MANAGERS, order: 51 },
];

export function registerImports(r: Routes, ctx: AppContext): void {
  const { db, cfg } = ctx;
  for (const p of ['/api/v1/reconcile-imports', '/reconcile/imports', '/api/v1/reconcile-sources/:id/preview', '/reconcile/sources/:id/preview']) declareUpload('POST', p, (c) => c.RECONCILE_MAX_FILE_MB * 1048576);

  // --- JSON API ---
  r.get('/api/v1/reconcile-sources', async (req, res) => {
    const items = await svc.listSourcesFor(db, who(req));
    res.json({ items, total: items.length });
  });
  r.post('/api/v1/reconcile-sources', async (req, res) => {
    res.status(201).json(await svc.createSource(db, who(req), req.body));
  });
  r.get('/api/v1/reconcile-sources/:id', async (req, res) => {
    res.json(await svc.sourceDetail(db, who(req), idOf(req)));
  });
  r.post('/api/v1/reconcile-sources/:id', async (req, res) => {
    res.json(await svc.updateSource(db, who(req), idOf(req), req.body));
  });
  r.post('/api/v1/reconcile-sources/:id/mappings', async (req, res) => {
    res.status(201).json(await svc.createMapping(db, who(req), idOf(req), req.body));
  });
  r.post('/api/v1/reconcile-sources/:id/preview', async (req, res) => {
    const id = idOf(req);
    if (req.uploadProblem) throw req.uploadProblem;
    if (!req.upload) throw new Problem(400, 'validation', 'Validation failed', '請以 multipart/form-data 上傳檔案（欄位 file）。', [{ field: 'file', message: '請選擇要預覽的檔案' }]);
    const draft = mappingFrom(req.body);
    res.json(await svc.preview(db, cfg, who(req), id, { fileName: req.upload.fileName, bytes: req.upload.bytes }, draft ?? undefined));
  });
  r.get('/api/v1/reconcile-sources/:id/links', async (req, res) => {
    const items = await svc.linksFor(db, who(req), idOf(req));
    res.json({ items, total: items.length });
  });
  r.post('/api/v1/reconcile-sources/:id/links', async (req, res) => {
    res.status(201).json(await svc.setLink(db, who(req), idOf(req), req.body));
  });
  r.post('/api/v1/source-account-links/:id/remove', async (req, res) => {
    await svc.removeLink(db, who(req), idOf(req));
    res.status(204).end();
  });
  r.get('/api/v1/reconcile-imports', async (req, res) => {
    const q = req.query as Record<string, unknown>;
    const items = await svc.listImportsFor(db, who(req), { unit: text(q.unit) || undefined, period: text(q.period) || undefined, source: text(q.source) || undefined });
    res.json({ items, total: items.length });
  });
  r.post('/api/v1/reconcile-imports', async (req, res) => {
    if (req.uploadProblem) throw req.uploadProblem;
    if (!req.upload) throw new Problem(400, 'validation', 'Validation failed', '請以 multipart/form-data 上傳檔案（欄位 file），並附 source、unit、period 欄位。', [{ field: 'file', message: '請選擇要匯入的檔案' }]);
    const b = (req.body ?? {}) as Record<string, unknown>;
    try {
      const out = await svc.importFile(db, cfg, who(req), { source: text(b.source), unit: text(b.unit), period: text(b.period), file: { fileName: req.upload.fileName, bytes: req.upload.bytes }, via: 'api' });
      res.status(201).setHeader('Location', `/api/v1/reconcile-imports/${out.id}`);
      res.json(out);
    } catch (e) {
      if (e instanceof svc.ImportRefused) {
        keepReport(req, e);
        throw new Problem(e.status, e.kind, e.title, e.detail, e.errors, { ...e.extra, report: REPORT_URL });
      }
      throw e;
    }
  });
  r.post('/api/v1/reconcile-imports/:id/withdraw', async (req, res) => {
    res.json(await svc.withdrawImport(db, cfg, who(req), idOf(req), (req.body ?? {}) as Record<string, unknown>));
  });
  r.get('/api/v1/reconcile-imports/:id', async (req, res) => {
    const { sample: _sample, canWithdraw: _w, ...out } = await svc.importDetail(db, who(req), idOf(req));
    res.json(out);
  });

  // --- pages: sources ---
  const sourcesPage = async (req: Request, res: Response, form: Record<string, unknown> = {}, errors: Record<string, string> = {}, status = 200) => {
    const w = who(req);
    const scope = await svc.scopeOf(db, w);
    const sources = await svc.listSourcesFor(db, w);
    const agencies = scope.units.filter((u) => u.kind === 'agency' && scope.reach.manage.has(Number(u.id)));
    renderPage(res, 'reconcile/sources', {
      title: '對帳來源', sources, agencies, countyManage: scope.reach.countyManage, canCreate: scope.reach.countyManage || agencies.length > 0,
      form: { kind: 'records', complete: '', ...form }, errors, labels,
    }, status);
  };
  r.get('/reconcile/sources', (req, res) => sourcesPage(req, res));
  r.post('/reconcile/sources', async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    try {
      const s = await svc.createSource(db, who(req), { code: text(b.code), name: text(b.name), kind: text(b.kind), complete: text(b.complete) === 'on' || text(b.complete) === 'true', unit: text(b.unit) || null });
      flash(req, 'ok', `已建立對帳來源「${s.name}」，請設定欄位對應。`);
      res.redirect(303, `/reconcile/sources/${s.id}`);
    } catch (e) {
      if (e instanceof Problem && e.status === 400) return sourcesPage(req, res, b, formErrors(e), 400);
      throw e;
    }
  });

  const sourcePage = async (req: Request, res: Response, id: number, extra: { form?: Record<string, unknown>; errors?: Record<string, string>; preview?: svc.Preview | null; draft?: Record<string, unknown> | null; status?: number } = {}) => {
    const w = who(req);
    const source = await svc.sourceDetail(db, w, id);
    const links = await svc.linksFor(db, w, id);
    const unlinked = await svc.unlinkedAccounts(db, w, id);
    const latest = source.mappings[0];
    const mappingForm = extra.draft ?? (latest ? { ...latest.columns, encoding: latest.encoding, dateStyle: latest.dateStyle, headerRow: latest.headerRow } : { encoding: 'utf-8', dateStyle: 'roc-compact', headerRow: 1 });
    renderPage(res, 'reconcile/source', {
      title: `對帳來源：${source.name}`, source, links, unlinked, mappingForm, preview: extra.preview ?? null, form: extra.form ?? {}, errors: extra.errors ?? {}, labels,
      maxMb: cfg.RECONCILE_MAX_FILE_MB, canLink: req.actor!.roles.some((x) => (MANAGERS as readonly string[]).includes(x)),
    }, extra.status ?? 200);
  };
  r.get('/reconcile/sources/:id', (req, res) => sourcePage(req, res, idOf(req)));
  r.post('/reconcile/sources/:id', async (req, res) => {
    const id = idOf(req);
    const b = (req.body ?? {}) as Record<string, unknown>;
    try {
      await svc.updateSource(db, who(req), id, { name: text(b.name) || undefined, complete: text(b.complete) === 'on' || text(b.complete) === 'true' });
    } catch (e) {
      if (e instanceof Problem && e.status === 400) return sourcePage(req, res, id, { form: b, errors: formErrors(e), status: 400 });
      throw e;
    }
    flash(req, 'ok', '已更新對帳來源設定。');
    res.redirect(303, `/reconcile/sources/${id}`);
  });
  r.post('/reconcile/sources/:id/mappings', async (req, res) => {
    const id = idOf(req);
    const b = (req.body ?? {}) as Record<string, unknown>;
    const draft = mappingFrom(b) ?? { columns: {} };
    try {
      const m = await svc.createMapping(db, who(req), id, draft);
      flash(req, 'ok', `已儲存欄位對應第 ${m.version} 版；之後的匯入都以此版讀取。`);
    } catch (e) {
      if (e instanceof Problem && e.status === 400) {
        return sourcePage(req, res, id, { draft: b, errors: mappingErrors(e), status: 400 });
      }
      throw e;
    }
    res.redirect(303, `/reconcile/sources/${id}`);
  });
  r.post('/reconcile/sources/:id/preview', async (req, res) => {
    const id = idOf(req);
    const b = (req.body ?? {}) as Record<string, unknown>;
    const draft = mappingFrom(b);
    const again = (errors: Record<string, string>, status: number) => sourcePage(req, res, id, { draft: draft ? b : null, errors, status });
    if (req.uploadProblem) return again({ file: req.uploadProblem.detail ?? req.uploadProblem.title }, req.uploadProblem.status);
    if (!req.upload) return again({ file: '請選擇要預覽的檔案' }, 400);
    try {
      const preview = await svc.preview(db, cfg, who(req), id, { fileName: req.upload.fileName, bytes: req.upload.bytes }, draft ?? undefined);
      await sourcePage(req, res, id, { draft: draft ? b : null, preview });
    } catch (e) {
      if (e instanceof Problem && (e.status === 400 || e.status === 413)) return again(mappingErrors(e), e.status);
      throw e;
    }
  });
  r.post('/reconcile/sources/:id/links', async (req, res) => {
    const id = idOf(req);
    const b = (req.body ?? {}) as Record<string, unknown>;
    try {
      const l = await svc.setLink(db, who(req), id, { account: text(b.account), sourceAccount: text(b.sourceAccount) });
      flash(req, 'ok', `已設定 ${l.account} 在此來源的帳號。`);
    } catch (e) {
      if (e instanceof Problem && (e.status === 400 || e.status === 409)) return sourcePage(req, res, id, { form: b, errors: e.errors.length ? formErrors(e) : { sourceAccount: e.detail ?? e.title }, status: e.status });
      throw e;
    }
    res.redirect(303, `/reconcile/sources/${id}#links`);
  });
  r.post('/reconcile/links/:id/remove', async (req, res) => {
    const out = await svc.removeLink(db, who(req), idOf(req));
    flash(req, 'ok', '已移除帳號對應。');
    res.redirect(303, `/reconcile/sources/${out.sourceId}#links`);
  });

  // --- pages: imports ---
  const importsPage = async (req: Request, res: Response, form: Record<string, unknown> = {}, errors: Record<string, string> = {}, refusal: { errors: Array<RowError & { text: string }>; errorCount: number } | null = null, status = 200) => {
    const w = who(req);
    const q = req.method === 'GET' ? (req.query as Record<string, unknown>) : {};
    let items: svc.ImportView[] = [];
    let listError: string | null = null;
    try {
      items = await svc.listImportsFor(db, w, { unit: text(q.unit) || undefined, period: text(q.period) || undefined });
    } catch (e) {
      if (!(e instanceof Problem) || e.status !== 400) throw e;
      listError = e.errors[0]?.message ?? e.detail ?? '';
    }
    const choices = await svc.importChoices(db, w);
    const last = previousMonth(localMonth(now()));
    renderPage(res, 'reconcile/imports', {
      title: '對帳匯入', items, listError, choices, canImport: choices.agencies.length > 0, maxMb: cfg.RECONCILE_MAX_FILE_MB,
      form: { period: `${Number(last.slice(0, 4)) - 1911}/${last.slice(5, 7)}`, unit: choices.agencies.length === 1 ? choices.agencies[0].code : '', ...form },
      errors, refusal, reportUrl: REPORT_URL, labels, rocMonth,
    }, status);
  };
  r.get('/reconcile/imports', (req, res) => importsPage(req, res));
  r.post('/reconcile/imports', async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const form = { source: text(b.source), unit: text(b.unit), period: text(b.period) };
    if (req.uploadProblem) return importsPage(req, res, form, { file: req.uploadProblem.detail ?? req.uploadProblem.title }, null, req.uploadProblem.status);
    if (!req.upload) return importsPage(req, res, form, { file: '請選擇要匯入的檔案' }, null, 400);
    try {
      const out = await svc.importFile(db, cfg, who(req), { ...form, file: { fileName: req.upload.fileName, bytes: req.upload.bytes }, via: 'web' });
      delete req.session.reconcileReport;
      flash(req, 'ok', `已匯入「${out.fileName}」：${out.rows} 列、${out.records} 筆來源紀錄${out.unknownAccounts ? `；${out.unknownAccounts} 個來源帳號未對應到人員` : ''}。`);
      res.redirect(303, `/reconcile/imports/${out.id}`);
    } catch (e) {
      if (e instanceof svc.ImportRefused) {
        keepReport(req, e);
        return importsPage(req, res, form, { file: e.detail ?? '' }, { errors: e.rowErrors.slice(0, 200).map((x) => ({ ...x, text: svc.errorText(x) })), errorCount: e.errorCount }, 400);
      }
      if (e instanceof Problem && [400, 409, 413].includes(e.status)) return importsPage(req, res, form, e.errors.length ? formErrors(e) : { file: e.detail ?? e.title }, null, e.status);
      throw e;
    }
  });
  r.get('/reconcile/imports/report.xlsx', async (req, res) => {
    const report = reportOf(req);
    if (!report) throw notFound('沒有可下載的錯誤報告：錯誤報告只保留您最近一次未通過的匯入。');
    const format = workbookDownload(req, res, `匯入錯誤_${report.fileName}`.replace(/\.[^.]*$/, ''), 'import-errors');
    res.setHeader('Cache-Control', 'no-store');
    await writeRefusalReport(res, report, format);
  });
  const importPage = async (req: Request, res: Response, form: Record<string, unknown> = {}, errors: Record<string, string> = {}, status = 200) => {
    const w = who(req);
    const imp = await svc.importDetail(db, w, idOf(req));
    renderPage(res, 'reconcile/import', { title: `對帳匯入第 ${imp.id} 號`, imp, labels, periodText: rocMonth(imp.period), canWithdraw: imp.canWithdraw, form, errors }, status);
  };
  r.get('/reconcile/imports/:id', (req, res) => importPage(req, res));
  r.post('/reconcile/imports/:id/withdraw', async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    try {
      const out = await svc.withdrawImport(db, cfg, who(req), idOf(req), { reason: text(b.reason) });
      flash(req, 'ok', `已撤回第 ${out.id} 號匯入「${out.fileName}」，並已重新對帳${out.rerun ? `（第 ${out.rerun.generation} 次）` : ''}；現在可以匯入更正後的檔案。`);
      res.redirect(303, `/reconcile/imports/${out.id}`);
    } catch (e) {
      if (e instanceof Problem && [400, 409].includes(e.status)) return importPage(req, res, { reason: text(b.reason) }, e.errors.length ? formErrors(e) : { reason: e.detail ?? e.title }, e.status);
      throw e;
    }
  });
}
