// HTTP for monthly checks and investigations: parse, authorise, call the service, render.
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import type { AccessEntry, Routes } from '../web/access.ts';
import { pageHtml, renderPage, type NavEntry } from '../web/views.ts';
import { pdfOfHtml } from '../web/pdf.ts';
import { type HomePanel } from '../web/home.ts';
import { parseForm, pathId, formErrors } from '../web/validate.ts';
import { parseOr400, Problem, validation } from '../problem.ts';
import { wantsJson } from '../web/errors.ts';
import { localMonth, now, parseRocMonth, previousMonth, ROC_MONTH_HINT, rocDateTime, rocInput, rocMonth, rocYear } from '../time.ts';
import { attachmentAs, workbookDownload } from '../web/attachment.ts';
import { rocTitle } from '../labels.ts';
import * as svc from './service.ts';
import { itemKeyOf, parseItemKey, type ItemKey } from './unlogged.ts';
import { basisLabel, dueAt, FLAG_LABELS, VERDICT_LABELS, VERDICTS, type FlagRule } from './rules.ts';
import { unloggedRows, sheetHeader, sheetPages, writeMonthlySheetXlsx, SheetInputError } from '../../reports/monthly-sheet.ts';
import type { SignedInActor } from '../actor.ts';

// Who reads which check is the service's (rules.ts mayReadCheck); admins list none but see the
// header of their agency's checks to assign a checker.
const CHECK_VIEWERS = ['checker', 'supervisor', 'admin', 'planning_admin', 'auditor', 'ethics'] as const;
const INVESTIGATORS = ['checker', 'supervisor', 'admin', 'planning_admin', 'auditor', 'ethics', 'it'] as const;
/**
 * Who may reach the audit-record correction routes: any role that signs records (whoever concluded
 * an investigation). The service lets only the signer, or an auditor or ethics officer with reach.
 */
const RECORD_CORRECTORS = INVESTIGATORS;

export const access: AccessEntry[] = [
  { method: 'GET', path: '/api/v1/checks', who: CHECK_VIEWERS, units: 'subtree', note: 'monthly checks (current generation) the caller reads: its checkers, supervisors of its unit or above, ethics and auditors with reach, planning admins' },
  { method: 'GET', path: '/api/v1/checks/:id', who: 'signed-in', units: 'subtree', note: 'one check, to its readers only; anyone else 404 as for no check' },
  { method: 'POST', path: '/api/v1/checks/:id/items/:item', who: 'signed-in', units: 'self', note: 'verdict on an item (item = query log entry id); only the item\'s assigned checker, never on their own entry' },
  { method: 'POST', path: '/api/v1/checks/:id/items/:item/explanation', who: 'signed-in', units: 'self', note: 'the clerk who recorded the entry (item `r<id>`: whose query the source recorded) answers an explanation request' },
  { method: 'POST', path: '/api/v1/checks/:id/items/:item/late-record', who: 'signed-in', units: 'self', note: 'late record (補登) of an unlogged query (item `r<source record id>`) by its clerk: the entry at the real query time, linked to the source record; not backdated (recorded time kept)' },
  { method: 'POST', path: '/api/v1/checks/:id/remaining-proper', who: ['checker'], units: 'self', note: 'the check\'s checker gives 適當 to all their undecided items at once with {count} (the number shown; 409 when it differs); never an unlogged query\'s item; one event naming the items' },
  { method: 'POST', path: '/api/v1/checks/:id/sign-off', who: ['checker'], units: 'self', note: 'the check\'s checker signs it off with {confirm: true}; refused while items are open' },
  { method: 'POST', path: '/api/v1/checks/:id/assign', who: ['admin', 'planning_admin'], units: 'subtree', note: 'assign an eligible checker of the agency' },
  { method: 'POST', path: '/api/v1/checks/:id/corrections', who: ['checker', 'supervisor', 'auditor', 'planning_admin'], units: 'subtree', note: 'a correction after sign-off, as a new linked audit record' },
  { method: 'GET', path: '/api/v1/explanations', who: 'signed-in', units: 'self', note: 'explanations asked of the caller' },
  { method: 'GET', path: '/api/v1/investigations', who: INVESTIGATORS, units: 'subtree', note: 'investigations the caller takes part in or oversees' },
  { method: 'GET', path: '/api/v1/investigations/:id', who: INVESTIGATORS, units: 'subtree', note: 'one investigation with participants and timeline' },
  { method: 'POST', path: '/api/v1/investigations/:id/notes', who: INVESTIGATORS, units: 'self', note: 'participants add notes and evidence' },
  { method: 'POST', path: '/api/v1/investigations/:id/participants', who: INVESTIGATORS, units: 'self', note: 'participants add business, ethics or IT participants' },
  { method: 'POST', path: '/api/v1/investigations/:id/conclusion', who: INVESTIGATORS, units: 'self', note: 'a participant concludes; writes the audit record' },
  { method: 'POST', path: '/api/v1/audit-records/:id/corrections', who: RECORD_CORRECTORS, units: 'subtree', note: 'a correction as a new record that supersedes the original; only its signer, or an auditor or ethics officer with reach' },
  { method: 'GET', path: '/checks', who: CHECK_VIEWERS, units: 'subtree', note: 'monthly checks page' },
  { method: 'GET', path: '/checks/:id', who: 'signed-in', units: 'subtree', note: 'one check: sample, verdicts, sign-off, to its readers; its assigner (admin) sees the header only' },
  { method: 'POST', path: '/checks/:id/items/:item', who: 'signed-in', units: 'self', note: 'verdict form; answers JSON when asked (Accept: application/json) for the in-place verdict' },
  { method: 'POST', path: '/checks/:id/remaining-proper', who: ['checker'], units: 'self', note: 'form: the remaining items are 適當 (one act naming how many); JSON when asked' },
  { method: 'POST', path: '/checks/:id/sign-off', who: ['checker'], units: 'self', note: 'sign-off form' },
  { method: 'POST', path: '/checks/:id/corrections', who: ['checker', 'supervisor', 'auditor', 'planning_admin'], units: 'subtree', note: 'correction form after sign-off (a new linked audit record)' },
  { method: 'POST', path: '/checks/:id/assign', who: ['admin', 'planning_admin'], units: 'subtree', note: 'assign checker form' },
  { method: 'GET', path: '/checks/:id/sheet', who: 'signed-in', units: 'subtree', note: 'printable monthly query record sheet (A4), to the check\'s readers' },
  { method: 'GET', path: '/checks/:id/sheet.pdf', who: 'signed-in', units: 'subtree', note: 'the sheet the checker signs, as A4 PDF (issue 19)' },
  { method: 'GET', path: '/checks/:id/sheet.xlsx', who: 'signed-in', units: 'subtree', note: 'monthly query record sheet as xlsx, to the check\'s readers' },
  { method: 'GET', path: '/explanations', who: 'signed-in', units: 'self', note: 'explanations asked of me' },
  { method: 'POST', path: '/explanations/:check/:item', who: 'signed-in', units: 'self', note: 'answer an explanation request' },
  { method: 'POST', path: '/explanations/:check/:item/late-record', who: 'signed-in', units: 'self', note: 'late record (補登) form for an unlogged query' },
  { method: 'GET', path: '/investigations', who: INVESTIGATORS, units: 'subtree', note: 'investigations list' },
  { method: 'GET', path: '/investigations/:id', who: INVESTIGATORS, units: 'subtree', note: 'investigation timeline' },
  { method: 'POST', path: '/investigations/:id/notes', who: INVESTIGATORS, units: 'self', note: 'add note form' },
  { method: 'POST', path: '/investigations/:id/participants', who: INVESTIGATORS, units: 'self', note: 'add participant form' },
  { method: 'POST', path: '/investigations/:id/conclusion', who: INVESTIGATORS, units: 'self', note: 'conclusion form' },
  { method: 'POST', path: '/investigations/:id/record-corrections', who: RECORD_CORRECTORS, units: 'subtree', note: 'correction of a concluded investigation\'s audit record (a new record superseding it)' },
];

const verdictBody = z.object({
  verdict: z.enum(VERDICTS, { message: '請選擇查核結果：適當、不當或請說明' }),
  note: z.string().trim().max(2000, '備註最多 2000 字').optional().nullable(),
}).strict();
const remainingBody = z.object({ count: z.coerce.number({ message: '請確認涵蓋的項目數' }).int('項目數須為整數').min(1, '沒有尚未判定的項目').max(100000) }).strict();
const signOffBody = z.object({ confirm: z.union([z.literal(true), z.literal('1'), z.literal('on'), z.literal('true')], { message: '請勾選確認已逐筆完成查核' }) });
const explanationBody = z.object({ explanation: z.string().trim().min(1, '請填寫說明').max(2000, '說明最多 2000 字') });
const assignBody = z.object({ checker: z.string().trim().min(1, '請輸入查核人員帳號').max(64) });
const correctionBody = z.object({ summary: z.string().trim().min(1, '請說明更正內容').max(20000), findings: z.string().max(20000).optional().nullable() });
const noteBody = z.object({ kind: z.enum(['note', 'evidence'], { message: '請選擇種類：紀錄或證據' }).default('note'), body: z.string().trim().min(1, '請輸入內容').max(20000, '內容過長'), evidenceRef: z.string().trim().max(500).optional().nullable() });
const participantBody = z.object({ account: z.string().trim().min(1, '請輸入帳號').max(64), side: z.enum(svc.SIDES, { message: '請選擇參與單位：業務單位、政風單位或資訊單位' }) });
const conclusionBody = z.object({ conclusion: z.string().trim().min(1, '請輸入調查結論').max(20000), findings: z.string().max(20000).optional().nullable(), summary: z.string().max(60000).optional().nullable() });
const auditCorrectionBody = z.object({ conclusion: z.string().trim().min(1, '請輸入更正後結論').max(20000), findings: z.string().max(20000).optional().nullable(), summary: z.string().max(60000).optional().nullable() });
const listQuery = z.object({ month: z.string().optional(), unit: z.string().max(32).optional() });

/** An item: its entry id, or `r<source record id>` for an unlogged query (a malformed one is found nowhere: 404). */
const itemParam = (v: unknown): ItemKey => parseItemKey(v) ?? { entryId: -1 };
const lateRecordBody = z.object({
  caseNo: z.string().trim().min(1, '請填案號').max(64, '案號最多 64 字'),
  reason: z.string().trim().min(1, '請填查詢事由').max(500, '查詢事由最多 500 字'),
  opCode: z.string().trim().min(1, '請選擇查詢作業代號').max(16),
  scope: z.string().trim().min(1, '請選擇業務範圍').max(16),
  queryRequestId: z.coerce.number({ message: '申請單編號須為數字' }).int().positive('申請單編號須為正整數').optional().nullable(),
  subjectValue: z.string().trim().min(1, '請輸入被查詢者身分證號（或條件）').max(200),
  explanation: z.string().trim().min(1, '請說明未即時登錄的原因').max(1500, '說明最多 1500 字'),
});
const back = (req: Request, res: Response, path: string, text: string, kind: 'ok' | 'error' = 'ok') => {
  if (req.session) req.session.flash = { kind, text };
  res.redirect(303, path);
};

const viewData = { basisLabel, VERDICT_LABELS, FLAG_LABELS, SIDE_LABELS: svc.SIDE_LABELS, rocDateTime: (ms: number) => rocDateTime(Number(ms)) };

/** The menu entries of this part (server/capability.ts `nav`). */
export const nav: NavEntry[] = [
  { href: '/checks', label: '每月查核', roles: CHECK_VIEWERS, order: 40 },
  { href: '/explanations', label: '查核說明', roles: ['clerk'], order: 41 },
  { href: '/investigations', label: '異常調查', roles: INVESTIGATORS, order: 42 },
];

export function register(r: Routes, ctx: AppContext): void {
  const { db } = ctx;

  // ── JSON API ──
  r.get('/api/v1/checks', async (req, res) => {
    const q = parseOr400(listQuery, req.query);
    res.json(await svc.listChecks(db, req.actor!, q));
  });
  r.get('/api/v1/checks/:id', async (req, res) => {
    res.json((await svc.checkDetail(db, req.actor!, pathId(req.params.id))).json);
  });
  r.post('/api/v1/checks/:id/items/:item', async (req, res) => {
    const body = parseOr400(verdictBody, req.body);
    res.json(await svc.setVerdict(db, req.actor!, pathId(req.params.id), itemParam(req.params.item), body));
  });
  r.post('/api/v1/checks/:id/items/:item/explanation', async (req, res) => {
    const body = parseOr400(explanationBody, req.body);
    res.json(await svc.answerExplanation(db, req.actor!, pathId(req.params.id), itemParam(req.params.item), body.explanation));
  });
  r.post('/api/v1/checks/:id/items/:item/late-record', async (req, res) => {
    const body = parseOr400(lateRecordBody, req.body);
    const key = itemParam(req.params.item);
    res.status(201).json(await svc.recordLate(db, ctx.cfg, req.actor!, pathId(req.params.id), key.sourceRecordId ?? -1, body));
  });
  r.post('/api/v1/checks/:id/remaining-proper', async (req, res) => {
    const body = parseOr400(remainingBody, req.body);
    const out = await svc.setRemainingProper(db, req.actor!, pathId(req.params.id), body.count);
    res.json({ id: out.id, verdict: out.verdict, count: out.count, entryIds: out.entryIds });
  });
  r.post('/api/v1/checks/:id/sign-off', async (req, res) => {
    parseOr400(signOffBody, req.body);
    res.json(await svc.signOff(db, req.actor!, pathId(req.params.id)));
  });
  r.post('/api/v1/checks/:id/assign', async (req, res) => {
    const body = parseOr400(assignBody, req.body);
    res.json(await svc.assignChecker(db, req.actor!, pathId(req.params.id), body.checker));
  });
  r.post('/api/v1/checks/:id/corrections', async (req, res) => {
    const body = parseOr400(correctionBody, req.body);
    res.status(201).json(await svc.correctCheck(db, req.actor!, pathId(req.params.id), body));
  });
  r.get('/api/v1/explanations', async (req, res) => {
    const rows = await svc.explanationsFor(db, req.actor!.id);
    res.json({ items: rows.map((x: any) => ({ checkId: Number(x.check_id), entryId: x.entry_id == null ? null : Number(x.entry_id), sourceRecordId: x.source_record_id == null ? null : Number(x.source_record_id), key: itemKeyOf(x), period: x.period, note: x.note, explanation: x.explanation })), total: rows.length });
  });
  r.get('/api/v1/investigations', async (req, res) => {
    const items = await svc.listInvestigations(db, req.actor!);
    res.json({ items, total: items.length });
  });
  r.get('/api/v1/investigations/:id', async (req, res) => {
    res.json((await svc.investigationDetail(db, req.actor!, pathId(req.params.id))).json);
  });
  r.post('/api/v1/investigations/:id/notes', async (req, res) => {
    res.status(201).json(await svc.addNote(db, req.actor!, pathId(req.params.id), parseOr400(noteBody, req.body)));
  });
  r.post('/api/v1/investigations/:id/participants', async (req, res) => {
    res.status(201).json(await svc.addParticipant(db, req.actor!, pathId(req.params.id), parseOr400(participantBody, req.body)));
  });
  r.post('/api/v1/investigations/:id/conclusion', async (req, res) => {
    res.status(201).json(await svc.conclude(db, req.actor!, pathId(req.params.id), parseOr400(conclusionBody, req.body)));
  });
  r.post('/api/v1/audit-records/:id/corrections', async (req, res) => {
    res.status(201).json(await svc.correctAuditRecord(db, req.actor!, pathId(req.params.id), parseOr400(auditCorrectionBody, req.body)));
  });

  // ── Pages ──
  r.get('/checks', async (req, res) => {
    // The month is typed in the ROC calendar (115/11); the API's 'YYYY-MM' reads too.
    const typed = typeof req.query.month === 'string' ? req.query.month.trim().slice(0, 20) : '';
    const month = typed ? parseRocMonth(typed) ?? undefined : undefined;
    let list: Awaited<ReturnType<typeof svc.listChecks>> = { items: [], total: 0 };
    let error: string | null = typed && !month ? ROC_MONTH_HINT : null;
    try {
      if (!error) list = await svc.listChecks(db, req.actor!, { month });
    } catch (e) {
      if (!(e instanceof Problem) || e.status !== 400) throw e;
      error = e.errors.map((x) => x.message).join('；');
    }
    const problems = await svc.problemsFor(db, req.actor!);
    renderPage(res, 'checks/list', { title: '每月查核', checks: list.items, month: month ? rocInput(month) : typed, error, problems, me: req.actor!.account, defaultMonth: rocInput(previousMonth(localMonth(now()))), ...viewData });
  });

  const showCheck = async (req: Request, res: Response, extra: { errors?: Record<string, Record<string, string>>; values?: Record<string, Record<string, string>>; message?: string } = {}, status = 200) => {
    const d = await svc.checkDetail(db, req.actor!, pathId(req.params.id), { header: true });
    const assignable = req.actor!.roles.some((x) => x === 'admin' || x === 'planning_admin');
    const correctable = d.full && req.actor!.roles.some((x) => ['checker', 'supervisor', 'auditor', 'planning_admin'].includes(x));
    const corrections = !d.full ? [] : await db('audit_records as a').leftJoin('users as u', 'u.id', 'a.signed_by').where({ 'a.source_type': 'check', 'a.source_id': d.check.id }).orderBy('a.id')
      .select('a.id', 'a.summary', 'a.findings', 'a.signed_at', 'u.name as signer');
    const remaining = d.full ? await svc.remainingProperKeys(db, req.actor!, d.check) : [];
    renderPage(res, 'checks/detail', { title: `查核：${d.check.unit_name} ${rocMonth(d.check.period)}`, d, me: req.actor!, correctable, corrections, remaining, errors: extra.errors ?? {}, values: extra.values ?? {}, message: extra.message ?? null, assignable, dueAt: dueAt(d.check.period), ...viewData }, status);
  };
  r.get('/checks/:id', async (req, res) => showCheck(req, res));
  // The verdict form. A script posts it with Accept: application/json and updates the row in
  // place (no reload); errors then come as problem+json naming the field. Without script: the
  // page is re-shown with messages, or a redirect back to the item.
  r.post('/checks/:id/items/:item', async (req, res) => {
    const key = itemParam(req.params.item);
    const item = key.entryId != null ? String(key.entryId) : `r${key.sourceRecordId}`;
    // The row's 「適當」 button (quick=proper) gives the verdict in one press; the select is for 不當/請說明.
    const chosen = req.body?.quick === 'proper' ? 'proper' : req.body?.verdict;
    const parsed = parseForm(verdictBody, { verdict: chosen || undefined, note: req.body?.note ?? null });
    const json = wantsJson(req);
    const values = { [item]: { verdict: String(chosen ?? ''), note: String(req.body?.note ?? '') } };
    if (!parsed.ok) {
      if (json) throw validation(Object.entries(parsed.errors).map(([field, message]) => ({ field, message })));
      return showCheck(req, res, { errors: { [item]: parsed.errors }, values }, 400);
    }
    try {
      const out = await svc.setVerdict(db, req.actor!, pathId(req.params.id), key, parsed.value);
      const message = out.investigationId ? `已記錄判定，並開啟異常調查第 ${out.investigationId} 號。` : '已記錄判定。';
      if (json) {
        const remaining = await svc.remainingProperKeys(db, req.actor!, await svc.loadCheck(db, req.actor!, pathId(req.params.id)));
        return void res.json({ key: item, verdict: out.verdict, verdictLabel: VERDICT_LABELS[out.verdict], note: parsed.value.note?.trim() || null, investigationId: out.investigationId, message, remaining });
      }
      back(req, res, `/checks/${req.params.id}#item-${item}`, message);
    } catch (e) {
      if (!json && e instanceof Problem && (e.status === 400 || e.status === 409)) {
        const errs = formErrors(e);
        return showCheck(req, res, { errors: { [item]: errs }, values }, e.status);
      }
      throw e;
    }
  });
  r.post('/checks/:id/remaining-proper', async (req, res) => {
    const json = wantsJson(req);
    const parsed = parseForm(remainingBody, { count: req.body?.count || undefined });
    if (!parsed.ok) {
      if (json) throw validation(Object.entries(parsed.errors).map(([field, message]) => ({ field, message })));
      return showCheck(req, res, { message: parsed.errors.count ?? Object.values(parsed.errors)[0] }, 400);
    }
    try {
      const out = await svc.setRemainingProper(db, req.actor!, pathId(req.params.id), parsed.value.count);
      const message = `已將其餘 ${out.count} 個項目判定為「適當」。`;
      if (json) return void res.json({ count: out.count, keys: out.entryIds.map(String), verdict: out.verdict, verdictLabel: VERDICT_LABELS.proper, message, remaining: [] });
      back(req, res, `/checks/${req.params.id}#sign-off`, message);
    } catch (e) {
      if (!json && e instanceof Problem && e.status === 409) return showCheck(req, res, { message: e.detail }, 409);
      throw e;
    }
  });
  r.post('/checks/:id/sign-off', async (req, res) => {
    const parsed = parseForm(signOffBody, req.body);
    if (!parsed.ok) return showCheck(req, res, { errors: { signOff: parsed.errors } }, 400);
    try {
      await svc.signOff(db, req.actor!, pathId(req.params.id));
      back(req, res, `/checks/${req.params.id}`, '查核已完成並簽核。');
    } catch (e) {
      if (e instanceof Problem && e.status === 409) return showCheck(req, res, { message: e.detail }, 409);
      throw e;
    }
  });
  r.post('/checks/:id/corrections', async (req, res) => {
    const input = { summary: String(req.body?.summary ?? ''), findings: req.body?.findings ? String(req.body.findings) : null };
    const parsed = parseForm(correctionBody, input);
    if (!parsed.ok) return showCheck(req, res, { errors: { correction: parsed.errors }, values: { correction: { summary: input.summary, findings: input.findings ?? '' } } }, 400);
    try {
      await svc.correctCheck(db, req.actor!, pathId(req.params.id), parsed.value);
      back(req, res, `/checks/${req.params.id}`, '已新增更正紀錄。');
    } catch (e) {
      if (e instanceof Problem && (e.status === 400 || e.status === 409)) return showCheck(req, res, { errors: { correction: { form: e.detail ?? e.title } }, values: { correction: input as any } }, e.status);
      throw e;
    }
  });
  r.post('/checks/:id/assign', async (req, res) => {
    const parsed = parseForm(assignBody, req.body);
    if (!parsed.ok) return showCheck(req, res, { errors: { assign: parsed.errors }, values: { assign: { checker: String(req.body?.checker ?? '') } } }, 400);
    try {
      await svc.assignChecker(db, req.actor!, pathId(req.params.id), parsed.value.checker);
      back(req, res, `/checks/${req.params.id}`, '已指派查核人員。');
    } catch (e) {
      if (e instanceof Problem && (e.status === 400 || e.status === 409)) {
        return showCheck(req, res, { errors: { assign: e.errors.length ? { checker: e.errors[0].message } : { form: e.detail ?? '' } }, values: { assign: { checker: parsed.value.checker } } }, e.status);
      }
      throw e;
    }
  });
  const sheetFor = async (req: Request) => {
    const c = await svc.loadCheck(db, req.actor!, pathId(req.params.id));
    const h = await sheetHeader(db, c.unit_code, c.period, ctx.cfg);
    return { c, h };
  };
  const sheetPage = async (req: Request, res: Response) => {
    const { c, h } = await sheetFor(req);
    const { pages, total, sampled } = await sheetPages(db, h);
    const unlogged = await unloggedRows(db, h);
    res.locals.printPage = true;
    return { c, page: ['checks/sheet', { title: `查詢紀錄單 ${c.unit_name} ${rocMonth(c.period)}`, c, hdr: h, pages, total, sampled, unlogged, ...viewData }] as const };
  };
  r.get('/checks/:id/sheet', async (req, res) => {
    const { page } = await sheetPage(req, res);
    renderPage(res, ...page);
  });
  r.get('/checks/:id/sheet.pdf', async (req, res) => {
    const { c, page } = await sheetPage(req, res);
    const pdf = await pdfOfHtml(pageHtml(res, ...page), ctx.cfg.CHROMIUM_PATH);
    res.setHeader('Content-Type', 'application/pdf');
    attachmentAs(res, `${rocYear(Number(c.period.slice(0, 4)))}年${Number(c.period.slice(5, 7))}月_${c.unit_name}_查詢紀錄單.pdf`, `monthly-sheet-${c.unit_code}-${c.period}.pdf`);
    res.send(pdf);
  });
  r.get('/checks/:id/sheet.xlsx', async (req, res) => {
    const { c, h } = await sheetFor(req);
    const format = workbookDownload(req, res, `${rocYear(Number(c.period.slice(0, 4)))}年${Number(c.period.slice(5, 7))}月_${c.unit_name}_查詢紀錄單`, `monthly-sheet-${c.unit_code}-${c.period}`);
    await writeMonthlySheetXlsx(db, h, { stream: res }, format);
    res.end();
  });

  r.get('/explanations', async (req, res) => {
    renderPage(res, 'checks/explanations', { title: '查核說明', rows: await svc.explanationsFor(db, req.actor!.id), choices: await svc.lateRecordChoices(db, req.actor!.id), errors: {}, values: {}, ...viewData });
  });
  r.post('/explanations/:check/:item', async (req, res) => {
    const item = itemParam(req.params.item);
    const key = `${pathId(req.params.check)}-${item.entryId ?? `r${item.sourceRecordId}`}`;
    const parsed = parseForm(explanationBody, req.body);
    const rerender = async (errs: Record<string, string>, status: number) =>
      renderPage(res, 'checks/explanations', { title: '查核說明', rows: await svc.explanationsFor(db, req.actor!.id), choices: await svc.lateRecordChoices(db, req.actor!.id), errors: { [key]: errs }, values: { [key]: String(req.body?.explanation ?? '') }, ...viewData }, status);
    if (!parsed.ok) return rerender(parsed.errors, 400);
    try {
      await svc.answerExplanation(db, req.actor!, pathId(req.params.check), item, parsed.value.explanation);
      back(req, res, '/explanations', '已送出說明。');
    } catch (e) {
      if (e instanceof Problem && (e.status === 400 || e.status === 409)) return rerender({ explanation: e.detail ?? e.title }, e.status);
      throw e;
    }
  });

  r.post('/explanations/:check/:item/late-record', async (req, res) => {
    const item = itemParam(req.params.item);
    const key = `${pathId(req.params.check)}-r${item.sourceRecordId ?? -1}`;
    const values = Object.fromEntries(['caseNo', 'reason', 'opCode', 'scope', 'queryRequestId', 'subjectValue', 'explanation'].map((k) => [k, String(req.body?.[k] ?? '')]));
    const input = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v === '' ? undefined : v]));
    const parsed = parseForm(lateRecordBody, input);
    const rerender = async (errs: Record<string, string>, status: number) =>
      renderPage(res, 'checks/explanations', { title: '查核說明', rows: await svc.explanationsFor(db, req.actor!.id), choices: await svc.lateRecordChoices(db, req.actor!.id), errors: { [`late-${key}`]: errs }, values: { [`late-${key}`]: values }, ...viewData }, status);
    if (!parsed.ok) return rerender(parsed.errors, 400);
    try {
      const out = await svc.recordLate(db, ctx.cfg, req.actor!, pathId(req.params.check), item.sourceRecordId ?? -1, parsed.value);
      back(req, res, '/explanations', `已補登為查詢日誌第 ${out.entryId} 筆（查詢時間為來源紀錄之實際時間，補登時間另行記錄）。`);
    } catch (e) {
      if (e instanceof Problem && (e.status === 400 || e.status === 409)) return rerender(e.errors.length ? Object.fromEntries(e.errors.map((x) => [x.field.replace(/^subject\.value$/, 'subjectValue'), x.message])) : { form: e.detail ?? e.title }, e.status);
      throw e;
    }
  });

  r.get('/investigations', async (req, res) => {
    renderPage(res, 'checks/investigations', { title: '異常調查', rows: await svc.listInvestigations(db, req.actor!), ...viewData });
  });
  const showInvestigation = async (req: Request, res: Response, errors: Record<string, Record<string, string>> = {}, values: Record<string, Record<string, string>> = {}, status = 200) => {
    const d = await svc.investigationDetail(db, req.actor!, pathId(req.params.id));
    renderPage(res, 'checks/investigation', { title: rocTitle(d.v.title), d, errors, values, sides: svc.SIDES, canCorrect: d.canCorrect, ...viewData }, status);
  };
  r.get('/investigations/:id', async (req, res) => showInvestigation(req, res));
  const formPost = (path: string, schema: z.ZodType<any>, form: string, act: (req: Request, v: any) => Promise<unknown>, ok: string) => {
    r.post(path, async (req, res) => {
      const values = Object.fromEntries(Object.entries(req.body ?? {}).filter(([k]) => k !== '_csrf').map(([k, v]) => [k, String(v)]));
      const input = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v === '' ? undefined : v]));
      const parsed = parseForm(schema, input);
      if (!parsed.ok) return showInvestigation(req, res, { [form]: parsed.errors }, { [form]: values }, 400);
      try {
        await act(req, parsed.value);
        back(req, res, `/investigations/${req.params.id}`, ok);
      } catch (e) {
        if (e instanceof Problem && (e.status === 400 || e.status === 409)) {
          return showInvestigation(req, res, { [form]: formErrors(e) }, { [form]: values }, e.status);
        }
        throw e;
      }
    });
  };
  formPost('/investigations/:id/notes', noteBody, 'note', (req, v) => svc.addNote(db, req.actor!, pathId(req.params.id), v), '已新增紀錄。');
  formPost('/investigations/:id/participants', participantBody, 'participant', (req, v) => svc.addParticipant(db, req.actor!, pathId(req.params.id), v), '已新增參與人員。');
  formPost('/investigations/:id/conclusion', conclusionBody, 'conclusion', (req, v) => svc.conclude(db, req.actor!, pathId(req.params.id), v), '調查已結案並寫入稽核紀錄。');
  formPost('/investigations/:id/record-corrections', auditCorrectionBody, 'correction', (req, v) => svc.correctInvestigationRecord(db, req.actor!, pathId(req.params.id), v), '已作成更正紀錄（原紀錄保留）。');
}

/** Home panel: a checker's open checks; the clerk's explanation requests; overdue and unassigned checks. */
const homePanel = async (ctx: AppContext, actor: SignedInActor) => {
  const items: Array<{ label: string; value: string | number; href?: string }> = [];
  if (actor.roles.includes('checker') || (await ctx.db('check_items').where({ checker_id: actor.id }).whereNull('verdict').first('id'))) {
    const mine = await ctx.db('check_items as i').join('checks as c', 'c.id', 'i.check_id').where('i.checker_id', actor.id).andWhere('c.status', 'open').whereNull('i.verdict').count('* as n').first();
    items.push({ label: '待判定抽查項目', value: Number(mine?.n ?? 0), href: '/checks' });
  }
  const asked = await svc.explanationsFor(ctx.db, actor.id);
  if (asked.length) items.push({ label: '待說明查詢', value: asked.filter((x: any) => !x.explanation).length, href: '/explanations' });
  let html = '';
  if (actor.roles.some((r) => (CHECK_VIEWERS as readonly string[]).includes(r))) {
    const p = await svc.problemsFor(ctx.db, actor);
    items.push({ label: '逾期未簽核查核', value: p.overdue.length, href: '/checks' });
    items.push({ label: '無查核人員', value: p.unassigned.length, href: '/checks' });
    const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
    const lines = [
      ...p.unassigned.map((c: any) => `<li class="problem"><a href="/checks/${Number(c.id)}">${esc(c.unit_name)} ${esc(c.period)}</a>：${esc(c.assignment_problem)}</li>`),
      ...p.overdue.map((c: any) => `<li class="problem"><a href="/checks/${Number(c.id)}">${esc(c.unit_name)} ${esc(c.period)}</a>：查核逾期未簽核</li>`),
    ];
    if (lines.length) html = `<ul class="check-problems">${lines.slice(0, 20).join('')}</ul>`;
  }
  if (actor.roles.some((r) => r === 'ethics' || r === 'it')) {
    const inv = await svc.listInvestigations(ctx.db, actor);
    items.push({ label: '進行中異常調查', value: inv.filter((v) => v.status === 'open').length, href: '/investigations' });
  }
  if (!items.length) return null;
  return { title: '每月查核', items, html: html || undefined };
};

/** The home-page panels of this part (server/capability.ts `homePanels`). */
export const homePanels: HomePanel[] = [
  homePanel,
];
