// Batch queries (批次查詢, clause 2(一): the monthly media-file exchange with the NHI administration,
// not an online lookup; issue 16). A batch is one query log entry, chained and sampled like any:
//   subject_type  'batch'
//   subject_hmac  a keyed digest (subjectHmac, kind 'bt') over the batch's descriptor: the file's
//                 SHA-256, the covering document number (發文字號), the subject count and the SHA-256
//                 of the sorted subject HMACs — so the chain covers the whole set and its papers
//   subject_cipher the descriptor, encrypted bound to the entry (verify-log opens it like any)
//   subject_mask  「批次 N 人」
// Beside it, batch_queries (file SHA-256, count, document number, file name) and batch_subjects
// (each subject's HMAC: "who queried this person" finds the batch). verify-log recomputes the
// digest from those tables (verifyBatches); a row changed, added or removed there is a break.
// The chain's canonical fields are unchanged (chain.ts CANONICAL_FIELDS).
import crypto from 'node:crypto';
import type { Conn, Db } from '../db.ts';
import { insertChunked } from '../db.ts';
import { textProblem } from '../text.ts';
import { Problem, notFound, validation, type FieldError } from '../problem.ts';
import { appendEntries, type Appended } from './chain.ts';
import { encryptSubject, entryAad, subjectHmac, subjectProblem, type Subject, type SubjectType } from './subject.ts';
import { prepareEntries, visibleUnitsFor, type Recorder } from './service.ts';
import type { Actor } from '../actor.ts';
import * as repo from './repo.ts';
import type { Config } from '../config.ts';

export const BATCH_TYPE = 'batch';
/** Subjects in one batch at most (one month's media file of an agency; the JSON body limit is 2 MB). */
export const MAX_BATCH_SUBJECTS = 10_000;
/** Subject errors listed at most (each names its position, never its value). */
const MAX_SUBJECT_ERRORS = 100;

type Cfg = Pick<Config, 'SUBJECT_HMAC_KEY' | 'subjectEncKey' | 'subjectEncKeyPrevious' | 'REASON_MIN_LENGTH' | 'RETENTION_YEARS'>;

export interface BatchInput {
  caseNo: string;
  reason: string;
  opCode: string;
  scope: string;
  queryRequestId?: number | null;
  /** 發文字號 (函號) of the letter covering the exchange. */
  documentNo: string;
  /** SHA-256 of the media file exchanged (hex). */
  fileSha256: string;
  fileName?: string | null;
  /** National IDs or resident certificates (checked with the log's checksum validators). */
  subjects: Subject[];
  /** With a service token only: the clerk who made the exchange. */
  account?: string | null;
}

export interface BatchDescriptor { fileSha256: string; documentNo: string; count: number; subjectHmacs: string[] }

/**
 * The descriptor the entry's subject_hmac is the keyed digest of: JSON, no whitespace but the
 * document number's single spaces, so normalise() leaves it as it is (subject.ts).
 */
export function descriptorText(d: BatchDescriptor): string {
  const sorted = [...d.subjectHmacs].sort();
  const setHash = crypto.hash('sha256', sorted.join('\n'), 'hex');
  return JSON.stringify(['batch', d.fileSha256, d.documentNo, d.count, setHash]);
}

/** The chained digest of a batch (subject_hmac of its entry). */
export const batchDigest = (hmacKey: string | Buffer, d: BatchDescriptor): string => subjectHmac(hmacKey, { type: BATCH_TYPE as SubjectType, value: descriptorText(d) });

export const batchMask = (n: number): string => `批次 ${n} 人`;

/** A document number as kept: NFC, spaces collapsed (so the descriptor survives normalise()). */
const cleanDocumentNo = (s: string): string => s.normalize('NFC').trim().replace(/\s+/g, ' ');

/** The batch's own fields checked; the subjects' HMACs (distinct) when all are good. */
function checkBatch(hmacKey: string, input: BatchInput): { errors: FieldError[]; hmacs: string[]; duplicates: number } {
  const errors: FieldError[] = [];
  const doc = cleanDocumentNo(String(input.documentNo ?? ''));
  const dp = textProblem(doc);
  if (!doc) errors.push({ field: 'documentNo', message: '請輸入發文字號（函號）' });
  else if (dp) errors.push({ field: 'documentNo', message: `發文字號${dp}` });
  else if ([...doc].length > 100) errors.push({ field: 'documentNo', message: '發文字號最多 100 字' });
  if (!/^[0-9a-fA-F]{64}$/.test(String(input.fileSha256 ?? ''))) errors.push({ field: 'fileSha256', message: '請提供媒體檔的 SHA-256（64 位十六進位）' });
  const subjects = Array.isArray(input.subjects) ? input.subjects : [];
  if (!subjects.length) errors.push({ field: 'subjects', message: '請提供批次的查詢對象（身分證統一編號或居留證統一證號）' });
  else if (subjects.length > MAX_BATCH_SUBJECTS) errors.push({ field: 'subjects', message: `一個批次最多 ${MAX_BATCH_SUBJECTS} 人，請分批登錄` });
  const hmacs = new Set<string>();
  let bad = 0;
  if (subjects.length <= MAX_BATCH_SUBJECTS) {
    subjects.forEach((s, i) => {
      const ok = s && (s.type === 'national-id' || s.type === 'resident-certificate');
      const p = ok ? subjectProblem(s) : '批次查詢對象須為身分證統一編號 (national-id) 或居留證統一證號 (resident-certificate)';
      if (p) {
        if (bad++ < MAX_SUBJECT_ERRORS) errors.push({ field: `subjects.${i}.value`, message: p });
      } else hmacs.add(subjectHmac(hmacKey, s));
    });
    if (bad > MAX_SUBJECT_ERRORS) errors.push({ field: 'subjects', message: `共 ${bad} 筆查詢對象有誤（僅列出前 ${MAX_SUBJECT_ERRORS} 筆）` });
  }
  return { errors, hmacs: [...hmacs], duplicates: subjects.length - bad - hmacs.size };
}

export interface BatchRecorded extends Appended { subjects: number; duplicates: number; fileSha256: string; documentNo: string }

/**
 * Records a batch: the entry is validated as any entry (the clerk's permissions for the scope and
 * operation code, the agency's links, the request form, 案號 and 事由: prepareEntries), the batch's
 * own fields and every subject's checksum besides; all errors at once, nothing stored on any.
 * The entry, its batch row and its subjects are written in one transaction.
 */
export async function recordBatch(db: Db, cfg: Cfg, who: Recorder, input: BatchInput): Promise<BatchRecorded> {
  const own = checkBatch(cfg.SUBJECT_HMAC_KEY, input);
  let rows;
  try {
    // The subject is set below: a placeholder passes the shared subject check.
    rows = await prepareEntries(db, cfg, who, [{ caseNo: input.caseNo, reason: input.reason, opCode: input.opCode, scope: input.scope, queryRequestId: input.queryRequestId ?? null, account: input.account ?? null, subject: { type: 'other', value: '批次' } }], { batch: false });
  } catch (e) {
    if (!(e instanceof Problem) || e.status !== 400) throw e;
    throw validation([...e.errors, ...own.errors]);
  }
  if (own.errors.length) throw validation(own.errors);
  const [row] = rows;
  const d: BatchDescriptor = { fileSha256: input.fileSha256.toLowerCase(), documentNo: cleanDocumentNo(input.documentNo), count: own.hmacs.length, subjectHmacs: own.hmacs };
  const text = descriptorText(d);
  const subject_hmac = batchDigest(cfg.SUBJECT_HMAC_KEY, d);
  Object.assign(row, {
    subject_type: BATCH_TYPE, subject_hmac, subject_mask: batchMask(d.count),
    subject_cipher: encryptSubject(cfg.subjectEncKey, text, entryAad({ user_id: row.user_id, queried_at: row.queried_at, subject_type: BATCH_TYPE, subject_hmac })),
  });
  // Not group-committed (appendCommitted): the side rows must commit with the entry. The chain
  // head's lock orders this append with the group commits.
  const [done] = await db.transaction(async (trx) => {
    const appended = await appendEntries(trx, [row]);
    const entryId = appended[0].id;
    await trx('batch_queries').insert({ entry_id: entryId, file_sha256: d.fileSha256, subject_count: d.count, document_no: d.documentNo, file_name: input.fileName ? String(input.fileName).slice(0, 255) : null });
    await insertChunked(trx, 'batch_subjects', own.hmacs.map((h) => ({ entry_id: entryId, subject_hmac: h })));
    return appended;
  });
  return { ...done, subjects: d.count, duplicates: own.duplicates, fileSha256: d.fileSha256, documentNo: d.documentNo };
}

export interface BatchView { id: number; seq: number; account: string; unit: string; unitName: string; queriedAt: string; opCode: string; scope: string; caseNo: string; reason: string; queryRequestId: number | null; documentNo: string; fileSha256: string; fileName: string | null; subjects: number; subject: string; hash: string }

/** One batch, within the person's visibility (as its entry); 404 outside it and for an entry that is no batch. */
export async function getBatch(db: Db, person: Actor, id: number): Promise<BatchView> {
  const row = await repo.logById(db, id, await visibleUnitsFor(db, person));
  const b = row && row.subject_type === BATCH_TYPE ? await db('batch_queries').where({ entry_id: id }).first() : null;
  if (!row || !b) throw notFound('查無此批次查詢紀錄，或您沒有檢視權限');
  return {
    id: Number(row.id), seq: Number(row.seq), account: row.account, unit: row.unit_code, unitName: row.unit_name, queriedAt: new Date(Number(row.queried_at)).toISOString(),
    opCode: row.op_code, scope: row.scope_code, caseNo: row.case_no, reason: row.reason, queryRequestId: row.query_request_id == null ? null : Number(row.query_request_id),
    documentNo: b.document_no, fileSha256: b.file_sha256, fileName: b.file_name ?? null, subjects: Number(b.subject_count), subject: row.subject_mask, hash: row.hash,
  };
}

// ---------------------------------------------------------------------------------------------
// verify-log

export interface BatchBreak { id: number; seq: number | null; reason: string }

/** What verify-log's chain walk hands on about batches: the batch entries it read (as chained), the destroyed ones, the last id. */
export interface BatchSeen { entries: Array<{ id: number; seq: number; hmac: string }>; destroyed: Set<number>; maxId: number }

/** Collects BatchSeen from the walk's pages (rows as arrays, `cols` naming their positions). */
export function batchCollector(): { seen: BatchSeen; onPage: (rows: readonly unknown[][], cols: readonly string[]) => void } {
  const seen: BatchSeen = { entries: [], destroyed: new Set(), maxId: 0 };
  return {
    seen,
    onPage(rows, cols) {
      const [id, seq, type, hmac, destroyed] = ['id', 'seq', 'subject_type', 'subject_hmac', 'destruction_id'].map((c) => cols.indexOf(c));
      for (const r of rows) {
        const i = Number(r[id]);
        if (i > seen.maxId) seen.maxId = i;
        if (r[destroyed] != null) seen.destroyed.add(i);
        else if (r[type] === BATCH_TYPE) seen.entries.push({ id: i, seq: Number(r[seq]), hmac: String(r[hmac]) });
      }
    },
  };
}

/**
 * Rechecks each batch entry the chain walk saw (its subject_hmac as chained) against its side
 * tables: the digest recomputed from batch_queries and batch_subjects must be the chained
 * subject_hmac. Side rows naming an entry the walk read that is no batch are breaks too (entries
 * appended after the walk, beyond `maxId`, are left for the next run; destroyed ones are skipped).
 */
export async function verifyBatches(db: Db | Conn, hmacKey: string | Buffer, seen: BatchSeen, maxReported: number): Promise<{ count: number; breaks: BatchBreak[]; badCount: number }> {
  const breaks: BatchBreak[] = [];
  let badCount = 0;
  const fail = (id: number, seq: number | null, reason: string) => void (badCount++ < maxReported && breaks.push({ id, seq, reason }));
  if (!(await db.schema.hasTable('batch_queries'))) return { count: 0, breaks, badCount };
  const batchIds = new Set(seen.entries.map((s) => s.id));
  for (let i = 0; i < seen.entries.length; i += 500) {
    const chunk = seen.entries.slice(i, i + 500);
    const ids = chunk.map((s) => s.id);
    const heads = new Map((await db('batch_queries').whereIn('entry_id', ids).select('entry_id', 'file_sha256', 'subject_count', 'document_no')).map((r: any) => [Number(r.entry_id), r]));
    const subjects = new Map<number, string[]>();
    for (const r of await db('batch_subjects').whereIn('entry_id', ids).select('entry_id', 'subject_hmac')) {
      const k = Number(r.entry_id);
      if (!subjects.has(k)) subjects.set(k, []);
      subjects.get(k)!.push(String(r.subject_hmac));
    }
    for (const s of chunk) {
      const h = heads.get(s.id);
      if (!h) {
        fail(s.id, s.seq, 'it is a batch entry but its batch record (batch_queries) is missing');
        continue;
      }
      const hmacs = subjects.get(s.id) ?? [];
      const d = { fileSha256: String(h.file_sha256), documentNo: String(h.document_no), count: Number(h.subject_count), subjectHmacs: hmacs };
      if (hmacs.length !== d.count || batchDigest(hmacKey, d) !== s.hmac) fail(s.id, s.seq, 'its batch subjects or batch record (batch_subjects, batch_queries) do not match the chained digest: subjects were added, removed or changed');
    }
  }
  // Side rows whose entry the walk read as no batch: moved onto another entry, or left by a removed one.
  const orphan = (id: number) => id <= seen.maxId && !batchIds.has(id) && !seen.destroyed.has(id);
  for (const table of ['batch_queries', 'batch_subjects'] as const) {
    let after = 0;
    for (;;) {
      const ids = (await db(table).where('entry_id', '>', after).andWhere('entry_id', '<=', seen.maxId).distinct('entry_id').orderBy('entry_id').limit(2000).pluck('entry_id')).map(Number);
      if (!ids.length) break;
      for (const id of ids) if (orphan(id)) fail(id, null, `a batch row (${table}) names entry id ${id}, which is no batch entry of the log: batch rows were moved or left behind`);
      after = ids[ids.length - 1];
    }
  }
  return { count: seen.entries.length, breaks, badCount };
}
