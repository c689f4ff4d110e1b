// HTTP for query request forms, the query log (page and API), "who queried this person?",
// exports and service tokens. Parse, authorise, call the service, render.
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import type { Routes } from '../web/access.ts';
import { parseOr400, type FieldError, forbidden, Problem, validation } from '../problem.ts';
import { formChecksOwnText, idParam as pathId } from '../web/validate.ts';
import { renderPage, type NavEntry } from '../web/views.ts';
import { type HomePanel } from '../web/home.ts';
import { localDate, addDays, now, startOfLocalDay } from '../time.ts';
import { rocCompact, workbookDownload } from '../web/attachment.ts';
import { addInertRow, streamingWorkbook, yieldToWriter } from '../../reports/cells.ts';
import { SUBJECT_TYPES } from './subject.ts';
import { MAX_BATCH, REVEALING_ROLES } from './rules.ts';
import { openApiDocument } from './openapi.ts';
import * as svc from './service.ts';
import { entryFields, str } from './schemas.ts';
import * as repo from './repo.ts';

import { SUBJECT_LABELS } from '../labels.ts';
import type { Actor } from '../actor.ts';

const entrySchema = z.object({
  ...entryFields,
  subject: z.object({ type: z.enum(SUBJECT_TYPES, { error: '查詢條件類型須為 national-id、resident-certificate、name-birthdate 或 other' }), value: str(200, '請輸入被查詢者查詢條件') }, { error: '請提供被查詢者查詢條件 subject: {type, value}' }),
});
const batchSchema = z.object({ entries: z.array(entrySchema, { error: 'entries 須為陣列' }).min(1, '至少一筆').max(MAX_BATCH, `一次最多 ${MAX_BATCH} 筆`) });

const requestSchema = z.object({
  caseNo: str(64, '請輸入案號'),
  purpose: str(1000, '請輸入查詢目的'),
  scope: str(16, '請選擇業務範圍'),
  validFrom: str(10, '請輸入生效日'),
  validTo: str(10, '請輸入到期日'),
  expectedSubjects: z.array(z.object({ type: z.enum(SUBJECT_TYPES), value: str(200, '請輸入查詢條件') })).max(50, '最多 50 筆').optional(),
});
const decisionSchema = z.object({ decision: z.enum(['approve', 'reject'], { error: '請選擇核准 (approve) 或駁回 (reject)' }), note: z.string().max(1000).nullable().optional() });
const tokenSchema = z.object({ name: str(100, '請輸入權杖名稱'), unit: str(32, '請輸入單位代碼'), account: str(64, '請輸入服務帳號') });
const listQuery = z.object({
  from: z.string().max(40).optional(), to: z.string().max(40).optional(), unit: z.string().max(32).optional(), account: z.string().max(64).optional(),
  opCode: z.string().max(16).optional(), caseNo: z.string().max(64).optional(), subjectId: z.string().max(200).optional(), subjectType: z.enum(SUBJECT_TYPES).optional(),
  withoutRequest: z.enum(['0', '1', 'true', 'false']).optional(),
  page: z.coerce.number().int().min(1).max(100000).optional(), pageSize: z.coerce.number().int().min(1).max(500).optional(),
  offset: z.coerce.number().int().min(0).optional(), limit: z.coerce.number().int().min(1).max(500).optional(),
});

const subjectSearchSchema = z.object({
  subjectType: z.enum(SUBJECT_TYPES, { error: '查詢條件類型須為 national-id、resident-certificate、name-birthdate 或 other' }).optional(),
  subjectId: z.string({ error: '請輸入被查詢者查詢條件' }).max(200, '最多 200 字'),
  purpose: z.string({ error: '請說明搜尋目的' }).max(500, '最多 500 字'),
  from: z.string().max(40).optional(), to: z.string().max(40).optional(), unit: z.string().max(32).optional(), account: z.string().max(64).optional(),
  opCode: z.string().max(16).optional(), caseNo: z.string().max(64).optional(), withoutRequest: z.boolean().optional(),
  page: z.number().int().min(1).max(100000).optional(), pageSize: z.number().int().min(1).max(500).optional(),
  offset: z.number().int().min(0).optional(), limit: z.number().int().min(1).max(500).optional(),
});
const subjectSearchOf = (q: z.infer<typeof subjectSearchSchema>): svc.SubjectSearch => ({
  from: q.from, to: q.to, unit: q.unit, account: q.account, opCode: q.opCode, caseNo: q.caseNo, withoutRequest: q.withoutRequest,
  subjectType: q.subjectType, subjectId: q.subjectId, purpose: q.purpose,
});

export const person = (req: Request): Actor => {
  const a = req.actor!;
  return { id: a.id, account: a.account, unitId: a.unitId, roles: a.roles, ip: req.ip ?? null };
};
export const idParam = (req: Request): number => pathId(req.params.id);
/** Blank query-string values mean "no filter". */
const cleanQuery = (q: Record<string, unknown>): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(q)) if (typeof v === 'string' && v.trim() !== '') out[k] = v.trim();
  return out;
};
const logQueryOf = (q: z.infer<typeof listQuery>): svc.LogQuery => ({
  from: q.from, to: q.to, unit: q.unit, account: q.account, opCode: q.opCode, caseNo: q.caseNo, subjectId: q.subjectId, subjectType: q.subjectType,
  withoutRequest: q.withoutRequest === '1' || q.withoutRequest === 'true',
});

/** Field errors from the services keyed by the page's input names. */
function formErrors(e: unknown): Record<string, string> | null {
  if (!(e instanceof Problem) || e.status !== 400) return null;
  const out: Record<string, string> = {};
  for (const f of e.errors) out[f.field === 'subject.value' ? 'subjectValue' : f.field === 'subject.type' ? 'subjectType' : f.field.split('.')[0]] ??= f.message;
  if (!Object.keys(out).length) out.form = e.detail ?? e.title;
  return out;
}

interface Remembered { caseNo: string; reason: string; scope: string; opCode: string; queryRequestId: string; subjectType: string }

/** The menu entries of this part (server/capability.ts `nav`). */
export const nav: NavEntry[] = [
  { href: '/query-logs/new', label: '登錄查詢', roles: ['clerk'], order: 10 },
  { href: '/query-requests', label: '申請單', roles: ['clerk', 'supervisor'], order: 11 },
  { href: '/query-requests/inbox', label: '待核申請單', roles: ['supervisor'], order: 12 },
  { href: '/query-logs', label: '查詢日誌', roles: 'signed-in', order: 13 },
  { href: '/query-logs/who', label: '誰查詢了此人', roles: [...REVEALING_ROLES], order: 14 },
  { href: '/service-tokens', label: '服務權杖', roles: ['admin', 'planning_admin'], order: 60 },
];

export function register(r: Routes, ctx: AppContext): void {
  const { db, cfg } = ctx;

  // ---- JSON API ----
  r.get('/api/v1/openapi.json', (_req, res) => { res.json(openApiDocument()); });

  r.post('/api/v1/query-logs', async (req, res) => {
    let who: svc.Recorder;
    if (req.serviceToken) who = { kind: 'token', token: req.serviceToken, ip: req.ip ?? null };
    // Anyone signed in records their own queries; the NHI permission check (scope × op code) decides.
    else who = { kind: 'session', person: person(req), ip: req.ip ?? null };
    const body = req.body;
    if (body == null || typeof body !== 'object' || Array.isArray(body)) throw validation([{ field: 'body', message: '請求內容須為 JSON 物件' }]);
    if ('entries' in body) {
      const { entries } = parseOr400(batchSchema, body);
      const done = await svc.recordQueries(db, cfg, who, entries, { batch: true });
      res.status(201).json({ entries: done.map((d) => ({ id: d.id, hash: d.hash })) });
    } else {
      const entry = parseOr400(entrySchema, body);
      const [done] = await svc.recordQueries(db, cfg, who, [entry], { batch: false });
      res.status(201).location(`/api/v1/query-logs/${done.id}`).json({ id: done.id, hash: done.hash });
    }
  });

  r.get('/api/v1/query-logs', async (req, res) => {
    const q = parseOr400(listQuery, cleanQuery(req.query as Record<string, unknown>));
    const limit = q.limit ?? q.pageSize ?? 50;
    const offset = q.offset ?? ((q.page ?? 1) - 1) * limit;
    const { items, total } = await svc.searchLogs(db, cfg, person(req), logQueryOf(q), { offset, limit });
    res.json({ items: items.map(({ queriedAtMs: _m, unitName: _u, ...it }) => it), total, offset, limit });
  });

  // Who queried this person: a POST, so the identifier and the purpose travel in the body, never in a URL or a log line.
  r.post('/api/v1/query-logs/search', async (req, res) => {
    const q = parseOr400(subjectSearchSchema, req.body ?? {});
    const limit = q.limit ?? q.pageSize ?? 50;
    const offset = q.offset ?? ((q.page ?? 1) - 1) * limit;
    const { items, total } = await svc.searchBySubject(db, cfg, person(req), subjectSearchOf(q), { offset, limit });
    res.setHeader('Cache-Control', 'no-store');
    res.json({ items: items.map(({ queriedAtMs: _m, unitName: _u, ...it }) => it), total, offset, limit });
  });

  r.get('/api/v1/query-logs/:id', async (req, res) => {
    const { queriedAtMs: _m, ...it } = await svc.getLog(db, person(req), idParam(req));
    res.json(it);
  });

  r.post('/api/v1/query-logs/:id/subject', async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(await svc.revealSubject(db, cfg, person(req), idParam(req)));
  });

  r.get('/api/v1/query-requests', async (req, res) => {
    const q = parseOr400(z.object({ status: z.enum(['pending', 'approved', 'rejected', 'withdrawn']).optional(), mine: z.string().optional(), inbox: z.string().optional(), open: z.string().optional() }), cleanQuery(req.query as Record<string, unknown>));
    const yes = (v?: string) => v === '1' || v === 'true';
    res.json(await svc.listQueryRequests(db, cfg, person(req), { status: q.status, mine: yes(q.mine), inbox: yes(q.inbox), open: yes(q.open) }));
  });

  r.post('/api/v1/query-requests', async (req, res) => {
    const body = parseOr400(requestSchema, req.body);
    const id = await svc.fileQueryRequest(db, cfg, person(req), body);
    const [view] = (await svc.listQueryRequests(db, cfg, person(req), { mine: true })).items.filter((x) => x.id === id);
    res.status(201).location(`/api/v1/query-requests/${id}`).json(view ?? { id, status: 'pending' });
  });

  r.post('/api/v1/query-requests/:id/decision', async (req, res) => {
    const id = idParam(req);
    const body = parseOr400(decisionSchema, req.body);
    await svc.decideQueryRequest(db, person(req), id, body);
    const row = await repo.queryRequestById(db, id);
    res.json(svc.queryRequestView(row, cfg));
  });

  r.get('/api/v1/service-tokens', async (req, res) => {
    const items = await svc.listTokens(db, person(req));
    res.json({ items, total: items.length });
  });
  r.post('/api/v1/service-tokens', async (req, res) => {
    const body = parseOr400(tokenSchema, req.body);
    const t = await svc.createToken(db, person(req), body);
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json({ id: t.id, token: t.token, note: 'The token is shown only now; store it in the integration. Only its SHA-256 is kept.' });
  });
  r.post('/api/v1/service-tokens/:id/revoke', async (req, res) => {
    await svc.revokeToken(db, person(req), idParam(req));
    res.status(204).end();
  });

  // ---- Pages: recording ----
  const recordPage = async (req: Request, res: Response, values: Partial<Remembered & { subjectValue: string }>, errors: Record<string, string>, status = 200) => {
    const me = person(req);
    const perms = await db('user_permissions as p').join('scopes as s', 's.id', 'p.scope_id').join('op_codes as o', 'o.id', 'p.op_code_id')
      .where('p.user_id', me.id).andWhere('s.active', true).orderBy(['s.sort', 'o.code']).select('s.code as scope', 's.clause', 's.title', 'o.code as opCode', 'o.name as opName');
    const scopes = [...new Map(perms.map((p: any) => [p.scope, { code: p.scope, label: `${p.clause} ${p.title}` }])).values()];
    const ops = [...new Map(perms.map((p: any) => [p.opCode, { code: p.opCode, label: `${p.opCode} ${p.opName}` }])).values()];
    const requests = await svc.openQueryRequestsOf(db, cfg, me.id);
    const start = startOfLocalDay(localDate(now()));
    const recent = (await repo.listLogs(db, { all: false, unitIds: [], userIds: [me.id], ranges: [] }, { from: start }, { offset: 0, limit: 10 })).rows.map(svc.logItem);
    renderPage(res, 'queries/record', { title: '登錄健保查詢', values, errors, scopes, ops, requests, recent, subjectTypes: SUBJECT_TYPES.map((t) => ({ code: t, label: SUBJECT_LABELS[t] })) }, status);
  };

  r.get('/query-logs/new', async (req, res) => {
    const remembered = (req.session.queryForm as Remembered | undefined) ?? { caseNo: '', reason: '', scope: '', opCode: '', queryRequestId: '', subjectType: 'national-id' };
    await recordPage(req, res, { ...remembered, subjectValue: '' }, {});
  });

  // caseNoProblem, reasonProblem and subjectProblem refuse bad text beside the field (server/text.ts).
  formChecksOwnText('/query-logs/new');
  r.post('/query-logs/new', async (req, res) => {
    const b = req.body ?? {};
    const s = (k: string) => (typeof b[k] === 'string' ? b[k] : '');
    const values = { caseNo: s('caseNo'), reason: s('reason'), scope: s('scope'), opCode: s('opCode'), queryRequestId: s('queryRequestId'), subjectType: s('subjectType') || 'national-id', subjectValue: s('subjectValue') };
    const errors: Record<string, string> = {};
    const reqId = values.queryRequestId.trim() ? Number(values.queryRequestId) : null;
    if (reqId !== null && (!Number.isSafeInteger(reqId) || reqId <= 0)) errors.queryRequestId = '申請單編號須為數字';
    if (!(SUBJECT_TYPES as readonly string[]).includes(values.subjectType)) errors.subjectType = '請選擇查詢條件類型';
    for (const [k, max] of [['caseNo', 64], ['reason', 500], ['scope', 16], ['opCode', 16], ['subjectValue', 200]] as const) if ([...values[k]].length > max) errors[k] = `最多 ${max} 字`;
    if (Object.keys(errors).length) return recordPage(req, res, values, errors, 400);
    try {
      const [done] = await svc.recordQueries(db, cfg, { kind: 'session', person: person(req), ip: req.ip ?? null }, [{
        caseNo: values.caseNo, reason: values.reason, scope: values.scope, opCode: values.opCode, queryRequestId: reqId,
        subject: { type: values.subjectType as any, value: values.subjectValue },
      }], { batch: false });
      // Remember the case for the next entry: clerks record several queries per case in a row.
      const { subjectValue: _v, ...keep } = values;
      req.session.queryForm = keep;
      req.session.flash = { kind: 'ok', text: `已登錄查詢紀錄（編號 ${done.id}）。` };
      res.redirect(303, '/query-logs/new');
    } catch (e) {
      const fe = formErrors(e);
      if (!fe) throw e;
      await recordPage(req, res, values, fe, 400);
    }
  });

  // ---- Pages: list, export, detail, who queried ----
  const listPage = async (req: Request, res: Response) => {
    const raw = cleanQuery(req.query as Record<string, unknown>);
    const parsed = listQuery.safeParse(raw);
    const q = parsed.success ? parsed.data : {};
    const pageSize = 50;
    const page = q.page ?? 1;
    let result: { items: svc.LogItem[]; total: number } = { items: [], total: 0 };
    let errors: Record<string, string> = {};
    try {
      result = await svc.searchLogs(db, cfg, person(req), { ...logQueryOf(q), subjectId: undefined, subjectType: undefined }, { offset: (page - 1) * pageSize, limit: pageSize });
    } catch (e) {
      errors = formErrors(e) ?? (() => { throw e; })();
    }
    const { page: _p, ...filter } = raw;
    const qs = new URLSearchParams(filter).toString();
    const units = await svc.filterUnitsFor(db, person(req));
    const ops = await repo.opCodeRows(db);
    renderPage(res, 'queries/list', { title: '查詢日誌', items: result.items, total: result.total, page, pages: Math.max(1, Math.ceil(result.total / pageSize)), values: filter, qs, errors, units, ops }, Object.keys(errors).length ? 400 : 200);
  };
  r.get('/query-logs', listPage);

  r.get('/query-logs/export.xlsx', async (req, res) => {
    const q = parseOr400(listQuery, cleanQuery(req.query as Record<string, unknown>));
    const lq = logQueryOf(q);
    await svc.plainFilter(db, cfg, lq); // a bad filter is a 400 before any byte is sent
    const format = workbookDownload(req, res, `查詢日誌_${rocCompact(localDate(now()))}`, `query-logs-${localDate(now())}`);
    res.setHeader('Cache-Control', 'no-store');
    const wb = streamingWorkbook({ stream: res }, format);
    const ws = wb.addWorksheet('查詢日誌');
    addInertRow(ws, svc.EXPORT_HEADERS).commit();
    let n = 0;
    await svc.exportLogs(db, cfg, person(req), lq, async (values) => {
      addInertRow(ws, values).commit();
      if (++n % 1000 === 0) await yieldToWriter(ws);
    });
    ws.commit();
    await wb.commit();
  });

  const whoPage = (res: Response, data: Record<string, unknown>, status = 200) =>
    renderPage(res, 'queries/who', { title: '誰查詢了此人', values: { subjectType: 'national-id', subjectId: '', purpose: '' }, errors: {}, items: null, total: 0, subjectTypes: SUBJECT_TYPES.map((t) => ({ code: t, label: SUBJECT_LABELS[t] })), ...data }, status);
  r.get('/query-logs/who', (_req, res) => whoPage(res, {}));
  r.post('/query-logs/who', async (req, res) => {
    const text = (k: string) => (typeof req.body?.[k] === 'string' ? req.body[k].trim() : '');
    const subjectId = text('subjectId');
    const purpose = text('purpose');
    const subjectType = (SUBJECT_TYPES as readonly string[]).includes(req.body?.subjectType) ? req.body.subjectType : 'national-id';
    const values = { subjectId: '', subjectType, purpose }; // the plain ID is not echoed back into the page
    const errors: Record<string, string> = {};
    if (subjectId.length > 200) errors.subjectId = '最多 200 字';
    if (purpose.length > 500) errors.purpose = '最多 500 字';
    if (Object.keys(errors).length) return whoPage(res, { values, errors }, 400);
    try {
      const { items, total } = await svc.searchBySubject(db, cfg, person(req), { subjectId, subjectType, purpose }, { offset: 0, limit: 500 });
      whoPage(res, { values, items, total, searched: items[0]?.subject.masked ?? null });
    } catch (e) {
      if (e instanceof Problem && e.status === 429) return whoPage(res, { values, errors: { form: e.detail ?? e.title } }, 429);
      const fe = formErrors(e);
      if (!fe) throw e;
      whoPage(res, { values, errors: fe }, 400);
    }
  });

  const detailPage = async (req: Request, res: Response, revealed: { type: string; value: string } | null) => {
    const item = await svc.getLog(db, person(req), idParam(req));
    renderPage(res, 'queries/detail', { title: `查詢紀錄 ${item.id}`, item, revealed, subjectLabel: SUBJECT_LABELS[item.subject.type] ?? item.subject.type });
  };
  r.get('/query-logs/:id', (req, res) => detailPage(req, res, null));
  r.post('/query-logs/:id/reveal', async (req, res) => {
    const revealed = await svc.revealSubject(db, cfg, person(req), idParam(req));
    res.setHeader('Cache-Control', 'no-store');
    const item = await db('query_logs as l').join('units as un', 'un.id', 'l.unit_id').where('l.id', idParam(req)).first(repo.LOG_COLS);
    renderPage(res, 'queries/detail', { title: `查詢紀錄 ${item.id}`, item: svc.logItem(item), revealed, subjectLabel: SUBJECT_LABELS[item.subject_type] ?? item.subject_type });
  });

  // ---- Pages: request forms ----
  const requestsPage = async (req: Request, res: Response, values: Record<string, string>, errors: Record<string, string>, status = 200) => {
    const me = person(req);
    const mine = await svc.listQueryRequests(db, cfg, me, { mine: true });
    const scopes = await db('user_permissions as p').join('scopes as s', 's.id', 'p.scope_id').where('p.user_id', me.id).andWhere('s.active', true).distinct('s.code', 's.clause', 's.title', 's.sort').orderBy('s.sort');
    renderPage(res, 'queries/requests', { title: '查詢申請單', mine: mine.items, scopes, values, errors, isClerk: me.roles.includes('clerk') }, status);
  };
  r.get('/query-requests', (req, res) => {
    const d = localDate(now());
    return requestsPage(req, res, { caseNo: '', purpose: '', scope: '', validFrom: d, validTo: addDays(d, 90), expected: '' }, {});
  });
  formChecksOwnText('/query-requests');
  r.post('/query-requests', async (req, res) => {
    const b = req.body ?? {};
    const s = (k: string) => (typeof b[k] === 'string' ? b[k] : '');
    const values = { caseNo: s('caseNo'), purpose: s('purpose'), scope: s('scope'), validFrom: s('validFrom'), validTo: s('validTo'), expected: s('expected') };
    // One expected subject per line: national IDs and resident certificates are recognised, other lines kept as text.
    const lines = values.expected.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    const expectedSubjects = lines.map((l) => ({ type: (/^[A-Za-z][12]\d{8}$/.test(l) ? 'national-id' : /^[A-Za-z][89A-Da-d]\d{8}$/.test(l) ? 'resident-certificate' : 'other') as any, value: l }));
    try {
      await svc.fileQueryRequest(db, cfg, person(req), { caseNo: values.caseNo, purpose: values.purpose, scope: values.scope, validFrom: values.validFrom, validTo: values.validTo, expectedSubjects });
      req.session.flash = { kind: 'ok', text: '申請單已送出，待單位主管核定。' };
      res.redirect(303, '/query-requests');
    } catch (e) {
      const fe = formErrors(e);
      if (!fe) throw e;
      if (fe.expectedSubjects) { fe.expected = fe.expectedSubjects; }
      await requestsPage(req, res, values, fe, 400);
    }
  });
  r.get('/query-requests/inbox', async (req, res) => {
    const inbox = await svc.listQueryRequests(db, cfg, person(req), { inbox: true });
    renderPage(res, 'queries/inbox', { title: '待核申請單', items: inbox.items, errors: {} });
  });
  r.post('/query-requests/:id/decision', async (req, res) => {
    const id = idParam(req);
    const decision = req.body?.decision === 'approve' ? 'approve' : req.body?.decision === 'reject' ? 'reject' : null;
    const note = typeof req.body?.note === 'string' ? req.body.note : '';
    try {
      if (!decision) throw validation([{ field: 'decision', message: '請選擇核准或駁回' }]);
      await svc.decideQueryRequest(db, person(req), id, { decision, note });
      req.session.flash = { kind: 'ok', text: `申請單 ${id} 已${decision === 'approve' ? '核准' : '駁回'}。` };
      res.redirect(303, '/query-requests/inbox');
    } catch (e) {
      const fe = formErrors(e);
      if (!fe) throw e;
      const inbox = await svc.listQueryRequests(db, cfg, person(req), { inbox: true });
      renderPage(res, 'queries/inbox', { title: '待核申請單', items: inbox.items, errors: { [id]: fe.note ?? fe.decision ?? fe.form ?? '輸入有誤' }, notes: { [id]: note } }, 400);
    }
  });

  // ---- Pages: service tokens ----
  const tokensPage = async (req: Request, res: Response, data: Record<string, unknown>, status = 200) => {
    const items = await svc.listTokens(db, person(req));
    renderPage(res, 'queries/tokens', { title: '服務權杖', items, values: { name: '', unit: '', account: '' }, errors: {}, created: null, ...data }, status);
  };
  r.get('/service-tokens', (req, res) => tokensPage(req, res, {}));
  r.post('/service-tokens', async (req, res) => {
    const b = req.body ?? {};
    const values = { name: String(b.name ?? ''), unit: String(b.unit ?? ''), account: String(b.account ?? '') };
    try {
      const t = await svc.createToken(db, person(req), values);
      res.setHeader('Cache-Control', 'no-store');
      await tokensPage(req, res, { created: t }, 201);
    } catch (e) {
      const fe = formErrors(e);
      if (!fe) throw e;
      await tokensPage(req, res, { values, errors: fe }, 400);
    }
  });
  r.post('/service-tokens/:id/revoke', async (req, res) => {
    await svc.revokeToken(db, person(req), idParam(req));
    req.session.flash = { kind: 'ok', text: '服務權杖已撤銷。' };
    res.redirect(303, '/service-tokens');
  });
}

export type { FieldError };

/** The home-page panels of this part (server/capability.ts `homePanels`). */
export const homePanels: HomePanel[] = [
  async (pctx, actor) => {
    if (!actor.roles.includes('clerk')) return null;
    const s = await svc.clerkSummary(pctx.db, actor);
    return { title: '我的查詢', items: [
      { label: '今日登錄筆數', value: s.today, href: '/query-logs' },
      { label: '有效申請單', value: s.openRequests, href: '/query-requests' },
      { label: '待核申請單', value: s.pending, href: '/query-requests' },
    ], html: '<p><a href="/query-logs/new">登錄健保查詢 →</a></p>' };
  },
  async (pctx, actor) => {
    if (!actor.roles.includes('supervisor')) return null;
    const n = await svc.pendingApprovals(pctx.db, actor);
    return { title: '申請單核定', items: [{ label: '待核定申請單', value: n, href: '/query-requests/inbox' }] };
  },
];
