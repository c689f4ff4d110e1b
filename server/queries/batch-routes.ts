// HTTP for batch queries (批次查詢, clause 2(一); queries/batch.ts): the API takes JSON with each
// subject's identifier and the media file's SHA-256; the page takes the media exchange's subject
// list as an uploaded file (its SHA-256 computed here). Parse, authorise, call the service, render.
import crypto from 'node:crypto';
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import type { AccessEntry, Routes } from '../web/access.ts';
import { parseOr400, Problem, validation } from '../problem.ts';
import { formChecksOwnText } from '../web/validate.ts';
import { renderPage } from '../web/views.ts';
import { declareUpload } from '../web/upload.ts';
import { MAX_BATCH_SUBJECTS, getBatch, recordBatch, type BatchInput } from './batch.ts';
import { openQueryRequestsOf, type Recorder } from './service.ts';
import { entryFields, str } from './schemas.ts';
import { idParam, person } from './routes.ts';
import type { Subject } from './subject.ts';

/** A subject list file is at most this large (10,000 lines of an identifier and a little more). */
const LIST_MAX_BYTES = 1024 * 1024;

export const batchAccess: AccessEntry[] = [
  { method: 'POST', path: '/api/v1/query-batches', who: 'signed-in-or-token', units: 'self', note: 'record a batch query (media-file exchange, clause 2(一)) {caseNo, reason, opCode, scope, queryRequestId, documentNo, fileSha256, fileName, subjects: [{type: national-id | resident-certificate, value}], account}: one chained entry, each subject HMAC kept for who-queried; within the recorder\'s NHI permissions as any entry' },
  { method: 'GET', path: '/api/v1/query-batches/:id', who: 'signed-in', units: 'subtree', note: 'one batch (document number, file SHA-256, subject count; never a subject) within visibility (visibleUnitsFor); 404 outside it' },
  { method: 'GET', path: '/query-batches/new', who: ['clerk'], units: 'self', note: 'batch recording page' },
  { method: 'POST', path: '/query-batches/new', who: ['clerk'], units: 'self', note: 'multipart: the subject list file (one identifier a line) and the entry fields; as POST /api/v1/query-batches' },
  { method: 'GET', path: '/query-batches/:id', who: 'signed-in', units: 'subtree', note: 'one batch within visibility; 404 outside it' },
];

const batchSchema = z.object({
  ...entryFields,
  documentNo: str(100, '請輸入發文字號（函號）'),
  fileSha256: str(64, '請提供媒體檔的 SHA-256'),
  fileName: z.string().max(255).nullable().optional(),
  subjects: z.array(z.object({ type: z.enum(['national-id', 'resident-certificate'], { error: '批次查詢對象須為 national-id 或 resident-certificate' }), value: str(20, '請輸入證號') }), { error: 'subjects 須為陣列 [{type, value}]' })
    .max(MAX_BATCH_SUBJECTS, `一個批次最多 ${MAX_BATCH_SUBJECTS} 人`),
});


/**
 * The subjects of a list file: UTF-8 (BOM or not), one identifier a line (the first cell of a CSV
 * line); blank lines skipped. The type follows the shape: a national ID's second character is 1 or
 * 2, anything else is taken as a resident certificate (the checksum validators decide). Returns the
 * line of each subject, for messages.
 */
export function readSubjectList(bytes: Buffer): { subjects: Subject[]; lines: number[] } {
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  const subjects: Subject[] = [];
  const lines: number[] = [];
  text.split(/\r\n|\n|\r/).forEach((line, i) => {
    const cell = line.split(/[,\t]/)[0].replace(/^"|"$/g, '').trim();
    if (!cell) return;
    const v = cell.normalize('NFKC').toUpperCase();
    subjects.push({ type: /^[A-Z][12]/.test(v) ? 'national-id' : 'resident-certificate', value: cell.slice(0, 20) });
    lines.push(i + 1);
  });
  return { subjects, lines };
}

interface FormValues { caseNo: string; reason: string; scope: string; opCode: string; queryRequestId: string; documentNo: string }

export function registerBatches(r: Routes, ctx: AppContext): void {
  const { db, cfg } = ctx;

  r.post('/api/v1/query-batches', async (req, res) => {
    const who: Recorder = req.serviceToken ? { kind: 'token', token: req.serviceToken, ip: req.ip ?? null } : { kind: 'session', person: person(req), ip: req.ip ?? null };
    const body = req.body;
    if (body == null || typeof body !== 'object' || Array.isArray(body)) throw validation([{ field: 'body', message: '請求內容須為 JSON 物件' }]);
    const input = parseOr400(batchSchema, body) as BatchInput;
    const done = await recordBatch(db, cfg, who, input);
    res.status(201).location(`/api/v1/query-batches/${done.id}`).json({ id: done.id, seq: done.seq, hash: done.hash, subjects: done.subjects, duplicates: done.duplicates, fileSha256: done.fileSha256, documentNo: done.documentNo });
  });
  r.get('/api/v1/query-batches/:id', async (req, res) => {
    res.json(await getBatch(db, person(req), idParam(req)));
  });

  // ---- pages ----
  declareUpload('POST', '/query-batches/new', () => LIST_MAX_BYTES);
  // The batch's rules (and the entry's: caseNoProblem, reasonProblem) refuse bad text beside the field.
  formChecksOwnText('/query-batches/new');

  const newPage = async (req: Request, res: Response, values: Partial<FormValues>, errors: Record<string, string>, status = 200) => {
    const me = person(req);
    const perms = await db('user_permissions as p').join('scopes as s', 's.id', 'p.scope_id').join('op_codes as o', 'o.id', 'p.op_code_id')
      .where('p.user_id', me.id).andWhere('s.active', true).orderBy(['s.sort', 'o.code']).select('s.code as scope', 's.clause', 's.title', 'o.code as opCode', 'o.name as opName');
    const scopes = [...new Map(perms.map((p: any) => [p.scope, { code: p.scope, label: `${p.clause} ${p.title}` }])).values()];
    const ops = [...new Map(perms.map((p: any) => [p.opCode, { code: p.opCode, label: `${p.opCode} ${p.opName}` }])).values()];
    const requests = await openQueryRequestsOf(db, cfg, me.id);
    renderPage(res, 'queries/batch-new', { title: '登錄批次查詢', values, errors, scopes, ops, requests, maxSubjects: MAX_BATCH_SUBJECTS }, status);
  };
  r.get('/query-batches/new', (req, res) => newPage(req, res, {}, {}));
  r.post('/query-batches/new', async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const s = (k: string) => (typeof b[k] === 'string' ? (b[k] as string) : '');
    const values: FormValues = { caseNo: s('caseNo'), reason: s('reason'), scope: s('scope'), opCode: s('opCode'), queryRequestId: s('queryRequestId'), documentNo: s('documentNo') };
    const errors: Record<string, string> = {};
    const reqId = values.queryRequestId.trim() ? Number(values.queryRequestId) : null;
    if (reqId !== null && (!Number.isSafeInteger(reqId) || reqId <= 0)) errors.queryRequestId = '申請單編號須為數字';
    for (const [k, max] of [['caseNo', 64], ['reason', 500], ['scope', 16], ['opCode', 16], ['documentNo', 100]] as const) if ([...values[k]].length > max) errors[k] = `最多 ${max} 字`;
    if (req.uploadProblem) errors.file = req.uploadProblem.detail ?? req.uploadProblem.title;
    else if (!req.upload || !req.upload.bytes.length) errors.file = '請選擇批次查詢對象清單檔（每列一個身分證統一編號或居留證統一證號）';
    if (Object.keys(errors).length) return newPage(req, res, values, errors, req.uploadProblem?.status ?? 400);
    const list = readSubjectList(req.upload!.bytes);
    try {
      const done = await recordBatch(db, cfg, { kind: 'session', person: person(req), ip: req.ip ?? null }, {
        caseNo: values.caseNo, reason: values.reason, scope: values.scope, opCode: values.opCode, queryRequestId: reqId, documentNo: values.documentNo,
        fileSha256: crypto.hash('sha256', req.upload!.bytes, 'hex'), fileName: req.upload!.fileName, subjects: list.subjects,
      });
      req.session.flash = { kind: 'ok', text: `已登錄批次查詢（編號 ${done.id}，${done.subjects} 人${done.duplicates ? `；清單中重複的 ${done.duplicates} 列已合併` : ''}）。` };
      res.redirect(303, `/query-batches/${done.id}`);
    } catch (e) {
      if (!(e instanceof Problem) || e.status !== 400) throw e;
      const out: Record<string, string> = {};
      const bad: string[] = [];
      for (const f of e.errors) {
        const m = /^subjects\.(\d+)\.value$/.exec(f.field);
        if (m) bad.push(`第 ${list.lines[Number(m[1])]} 列：${f.message}`);
        else out[f.field === 'fileSha256' || f.field === 'subjects' ? 'file' : f.field.split('.')[0]] ??= f.message;
      }
      if (bad.length) out.file = [out.file, ...bad].filter(Boolean).join('；');
      if (!Object.keys(out).length) out.form = e.detail ?? e.title;
      await newPage(req, res, values, out, 400);
    }
  });
  r.get('/query-batches/:id', async (req, res) => {
    const batch = await getBatch(db, person(req), idParam(req));
    renderPage(res, 'queries/batch', { title: `批次查詢第 ${batch.id} 號`, batch });
  });
}
