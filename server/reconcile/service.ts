// Reconciliation import (issue 16): sources and their versioned mappings, each account's
// identifier at each source, a preview of a file as parsed, and the import of a file for an agency
// and a period — all or nothing, subjects HMAC-ed and encrypted as the log does, every import,
// mapping change and link change recorded as an event (never an identifier). No Express here.
import { reconcileAfterImport, runReconciliation } from './results.ts';
import crypto from 'node:crypto';
import path from 'node:path';
import os from 'node:os';
import { z } from 'zod';
import type { Config } from '../config.ts';
import type { Conn, Db } from '../db.ts';
import { isUniqueViolation } from '../db.ts';
import { allUnits, agencyIn, subtreeOf, type UnitRow } from '../accounts/units.ts';
import { recordEvent, type EventActor } from '../events/service.ts';
import { encryptSubject, maskSubject, subjectHmac } from '../queries/subject.ts';
import { textProblem } from '../text.ts';
import { reasonProblem } from '../queries/rules.ts';
import { iso, localDate, now, rocDateTime, rocMonth, rocShort } from '../time.ts';
import { parseOr400, conflict, type FieldError, forbidden, notFound, Problem, validation } from '../problem.ts';
import * as repo from './repo.ts';
import { readTable } from './parse.ts';
import {
  COLUMN_KEYS, DATE_STYLES, ENCODINGS, MAX_ERRORS_LISTED, PREVIEW_ROWS, SOURCE_KINDS, cellForm, cleanColumns, managesSource, maskAccount, mappingProblems,
  parsePeriod, periodProblem, readRecords, readsSource, reconcileReach, sourceRecordAad, sourceServes,
  type DateStyle, type Encoding, type Mapping, type ParsedRecord, type ReconcileReach, type RowError, type SourceKind,
} from './rules.ts';
import { isOperator, type Actor, type Operator } from '../actor.ts';

const actorOf = (w: Actor | Operator): EventActor => ({ id: w.id, account: w.account, ip: w.ip ?? null });

// Answers that must not tell "does not exist" from "not yours".
const NO_SOURCE = '查無此對帳來源';
const NO_AGENCY = '查無此業務機關（或不在您的權責範圍內）';
const NO_IMPORT = '查無此匯入紀錄';
const NO_ACCOUNT = '查無此帳號（或不在您的權責範圍內）';

export interface Scope { units: UnitRow[]; reach: ReconcileReach }

export async function scopeOf(conn: Conn, who: Actor | Operator): Promise<Scope> {
  const units = await allUnits(conn);
  if (isOperator(who)) {
    const all = new Set(units.filter((u) => u.kind === 'agency').map((u) => Number(u.id)));
    return { units, reach: { countyRead: true, countyManage: true, read: all, manage: new Set(all) } };
  }
  return { units, reach: reconcileReach(units, who) };
}

/** Units under the agencies given (their people and entries). */
const underAgencies = (units: UnitRow[], agencyIds: Iterable<number>): number[] => [...agencyIds].flatMap((a) => subtreeOf(units, a));

// ---------------------------------------------------------------------------------------------
// Sources

export interface SourceView {
  id: number; code: string; name: string; kind: SourceKind; complete: boolean; unit: string | null; unitName: string | null;
  mappingVersion: number | null; canManage: boolean; createdAt: string | null;
}
const sourceView = (s: repo.SourceRow, scope: Scope, mappingVersion: number | null): SourceView => ({
  id: s.id, code: s.code, name: s.name, kind: s.kind, complete: s.complete, unit: s.unit_code ?? null, unitName: s.unit_name ?? null,
  mappingVersion, canManage: managesSource(scope.reach, s), createdAt: iso(s.created_at),
});

export async function listSourcesFor(conn: Conn, who: Actor | Operator): Promise<SourceView[]> {
  const scope = await scopeOf(conn, who);
  if (!scope.reach.read.size && !scope.reach.countyRead) return [];
  const rows = await repo.listSources(conn, [...scope.reach.read], true);
  const out: SourceView[] = [];
  for (const s of rows) out.push(sourceView(s, scope, (await repo.latestMapping(conn, s.id))?.version ?? null));
  return out;
}

/** A source the person reads, by id or code; otherwise 404 as for none. */
async function readableSource(conn: Conn, scope: Scope, ref: number | string): Promise<repo.SourceRow> {
  const s = typeof ref === 'number' ? await repo.sourceById(conn, ref) : /^\d+$/.test(ref) ? await repo.sourceById(conn, Number(ref)) : await repo.sourceByCode(conn, ref);
  if (!s || !readsSource(scope.reach, s)) throw notFound(NO_SOURCE);
  return s;
}
async function managedSource(conn: Conn, scope: Scope, id: number): Promise<repo.SourceRow> {
  const s = await readableSource(conn, scope, id);
  if (!managesSource(scope.reach, s)) throw forbidden(s.unit_id == null ? '全縣共用的對帳來源由計畫處維護。' : '您沒有維護此對帳來源的權限。');
  return s;
}

const code = z.string({ error: '請輸入來源代碼' }).trim().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{1,31}$/, '來源代碼為 2–32 個英數字（可含 . _ -），例：NHI-VPN');
const name = z.string({ error: '請輸入來源名稱' }).trim().min(2, '請輸入來源名稱（至少 2 字）').max(100, '最多 100 字');
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'on']).transform((v) => v === 'true' || v === '1' || v === 'on')]);
export const sourceSchema = z.object({
  code,
  name,
  kind: z.enum(SOURCE_KINDS, { error: '請選擇來源型態：records（逐筆紀錄）或 counts（每日筆數）' }),
  complete: bool.optional().default(false),
  unit: z.string().trim().max(32).optional().nullable(),
});
export const sourcePatchSchema = z.object({ name: name.optional(), complete: bool.optional() });

export async function createSource(conn: Db, who: Actor | Operator, input: unknown): Promise<SourceView> {
  const v = parseOr400(sourceSchema, input);
  const scope = await scopeOf(conn, who);
  let unitId: number | null = null;
  if (v.unit) {
    const u = scope.units.find((x) => x.code === v.unit);
    if (!u || !scope.reach.manage.has(Number(u.id))) throw validation([{ field: 'unit', message: NO_AGENCY }]);
    unitId = Number(u.id);
  } else if (!scope.reach.countyManage && !isOperator(who)) {
    // An agency admin's source is the agency's own.
    const own = agencyIn(scope.units, who.unitId);
    if (!own || !scope.reach.manage.has(Number(own.id))) throw forbidden('只有計畫處與業務機關的管理者可以設定對帳來源。');
    unitId = Number(own.id);
  }
  const t = now();
  try {
    const id = await conn.transaction(async (trx) => {
      const id = await repo.insertSource(trx, { code: v.code, name: v.name, kind: v.kind, complete: v.complete, unit_id: unitId, created_by: who.id, created_at: t });
      await recordEvent(trx, actorOf(who), { action: 'reconcile.source-created', targetType: 'reconcile_source', targetId: id, unitId, detail: { code: v.code, kind: v.kind, complete: v.complete } });
      return id;
    });
    return sourceView((await repo.sourceById(conn, id))!, scope, null);
  } catch (e) {
    if (isUniqueViolation(e)) throw validation([{ field: 'code', message: '此來源代碼已被使用，請換一個' }]);
    throw e;
  }
}

export async function updateSource(conn: Db, who: Actor | Operator, id: number, input: unknown): Promise<SourceView> {
  const v = parseOr400(sourcePatchSchema, input);
  const scope = await scopeOf(conn, who);
  const s = await managedSource(conn, scope, id);
  const patch: { name?: string; complete?: boolean } = {};
  if (v.name !== undefined && v.name !== s.name) patch.name = v.name;
  if (v.complete !== undefined && v.complete !== s.complete) patch.complete = v.complete;
  if (Object.keys(patch).length) {
    await conn.transaction(async (trx) => {
      await repo.updateSource(trx, id, patch);
      await recordEvent(trx, actorOf(who), { action: 'reconcile.source-changed', targetType: 'reconcile_source', targetId: id, unitId: s.unit_id, detail: { code: s.code, ...patch } });
    });
  }
  return sourceView((await repo.sourceById(conn, id))!, scope, (await repo.latestMapping(conn, id))?.version ?? null);
}

export interface MappingView { id: number; version: number; columns: Record<string, string>; encoding: Encoding; dateStyle: DateStyle; headerRow: number; createdBy: string | null; createdAt: string | null }
const mappingView = (m: repo.MappingRow): MappingView => ({ id: m.id, version: m.version, columns: { ...m.columns } as Record<string, string>, encoding: m.encoding, dateStyle: m.date_style, headerRow: m.header_row, createdBy: m.creator ?? null, createdAt: iso(m.created_at) });

export async function sourceDetail(conn: Conn, who: Actor | Operator, id: number): Promise<SourceView & { mappings: MappingView[] }> {
  const scope = await scopeOf(conn, who);
  const s = await readableSource(conn, scope, id);
  const mappings = (await repo.mappingsOf(conn, id)).map(mappingView);
  return { ...sourceView(s, scope, mappings[0]?.version ?? null), mappings };
}

// ---------------------------------------------------------------------------------------------
// Mappings

const header = z.string().max(200, '最多 200 字').optional().nullable();
export const mappingSchema = z.object({
  columns: z.object(Object.fromEntries(COLUMN_KEYS.map((k) => [k, header])) as Record<(typeof COLUMN_KEYS)[number], typeof header>, { error: '請提供欄位對應 columns: {account, date, time, subject, opCode, count}' }),
  encoding: z.enum(ENCODINGS, { error: '編碼須為 utf-8 或 big5' }).default('utf-8'),
  dateStyle: z.enum(DATE_STYLES, { error: '日期格式須為 roc-compact、roc-slash 或 ad' }),
  headerRow: z.coerce.number({ error: '標題列須為數字' }).int('標題列須為整數').min(1, '標題列須為第 1 至 50 列').max(50, '標題列須為第 1 至 50 列').default(1),
});
export type MappingInput = z.infer<typeof mappingSchema>;

/** A mapping as typed, checked for the source's kind; throws a 400 naming each field. */
export function checkedMapping(input: unknown, kind: SourceKind): Mapping {
  const v = parseOr400(mappingSchema, input);
  const problems = mappingProblems({ columns: v.columns, encoding: v.encoding, dateStyle: v.dateStyle, headerRow: v.headerRow }, kind);
  if (problems.length) throw validation(problems);
  return { columns: cleanColumns(v.columns), encoding: v.encoding, dateStyle: v.dateStyle, headerRow: v.headerRow };
}

export async function createMapping(conn: Db, who: Actor | Operator, sourceId: number, input: unknown): Promise<MappingView> {
  const scope = await scopeOf(conn, who);
  const s = await managedSource(conn, scope, sourceId);
  const m = checkedMapping(input, s.kind);
  for (let attempt = 0; ; attempt++) {
    try {
      const made = await conn.transaction(async (trx) => {
        const r = await repo.insertMapping(trx, { source_id: s.id, columns: m.columns, encoding: m.encoding, date_style: m.dateStyle, header_row: m.headerRow, created_by: who.id, created_at: now() });
        await recordEvent(trx, actorOf(who), { action: 'reconcile.mapping-created', targetType: 'reconcile_source', targetId: s.id, unitId: s.unit_id, detail: { code: s.code, version: r.version, columns: m.columns, encoding: m.encoding, dateStyle: m.dateStyle, headerRow: m.headerRow } });
        return r;
      });
      return mappingView((await repo.mappingsOf(conn, s.id)).find((x) => x.id === made.id)!);
    } catch (e) {
      // Two people saving at once: the unique (source, version) refuses one; it takes the next number.
      if (isUniqueViolation(e) && attempt < 3) continue;
      throw e;
    }
  }
}

const mappingOf = (r: repo.MappingRow): Mapping => ({ columns: r.columns, encoding: r.encoding, dateStyle: r.date_style, headerRow: r.header_row });

// ---------------------------------------------------------------------------------------------
// Account links

export interface LinkView { id: number; account: string; name: string; unitName: string; sourceAccount: string; createdAt: string | null }

/** Units whose people's links the person sees (null: every unit). */
const linkUnits = (scope: Scope, manage = false): number[] | null =>
  (manage ? scope.reach.countyManage : scope.reach.countyRead) ? null : underAgencies(scope.units, manage ? scope.reach.manage : scope.reach.read);

export async function linksFor(conn: Conn, who: Actor | Operator, sourceId: number): Promise<LinkView[]> {
  const scope = await scopeOf(conn, who);
  await readableSource(conn, scope, sourceId);
  const rows = await repo.linksOf(conn, sourceId, linkUnits(scope));
  return rows.map((l) => ({ id: l.id, account: l.account!, name: l.name!, unitName: l.unit_name!, sourceAccount: l.source_account, createdAt: iso(l.created_at) }));
}

export const linkSchema = z.object({
  account: z.string({ error: '請輸入本系統帳號' }).trim().min(1, '請輸入本系統帳號').max(64, '最多 64 字'),
  sourceAccount: z.string({ error: '請輸入此人在來源系統的帳號' }).max(200, '最多 64 字').transform(cellForm).pipe(z.string().min(1, '請輸入此人在來源系統的帳號').max(64, '最多 64 字')),
});

/**
 * Sets the person's identifier at the source (one per person and source: an earlier one is
 * replaced). A second identifier of one person at one source would be a second account (clause
 * 3(二)1(4)): it stays unlinked and shows as an unknown account.
 */
export async function setLink(conn: Db, who: Actor | Operator, sourceId: number, input: unknown): Promise<LinkView> {
  const v = parseOr400(linkSchema, input);
  const tp = textProblem(v.sourceAccount);
  if (tp) throw validation([{ field: 'sourceAccount', message: `來源帳號${tp}` }]);
  const scope = await scopeOf(conn, who);
  const s = await readableSource(conn, scope, sourceId);
  if (s.unit_id != null && !scope.reach.manage.has(s.unit_id)) throw forbidden('您沒有維護此對帳來源的權限。');
  const user = await repo.userByAccount(conn, v.account);
  const within = linkUnits(scope, true);
  if (!user || (within && !within.includes(Number(user.unit_id))) || (s.unit_id != null && !subtreeOf(scope.units, s.unit_id).includes(Number(user.unit_id)))) {
    throw validation([{ field: 'account', message: NO_ACCOUNT }]);
  }
  const taken = await repo.linkByAccount(conn, sourceId, v.sourceAccount);
  if (taken && Number(taken.user_id) !== Number(user.id)) throw conflict('link-taken', '此來源帳號已對應到另一位人員；一個來源帳號只能屬於一人（一人一帳號，管理要點第三點第(二)款第 1 目之(4)）。');
  if (taken) return (await linksFor(conn, who, sourceId)).find((l) => l.id === Number(taken.id))!;
  const id = await conn.transaction(async (trx) => {
    const earlier = await repo.linksOfUser(trx, sourceId, Number(user.id));
    for (const e of earlier) await repo.deleteLink(trx, Number(e.id));
    const id = await repo.insertLink(trx, { source_id: sourceId, user_id: Number(user.id), source_account: v.sourceAccount, created_by: who.id, created_at: now() });
    await recordEvent(trx, actorOf(who), {
      action: 'reconcile.link-set', targetType: 'source_account_link', targetId: id, unitId: Number(user.unit_id),
      detail: { source: s.code, account: user.account, sourceAccount: maskAccount(v.sourceAccount), replaced: earlier.length },
    });
    return id;
  }).catch((e) => {
    if (isUniqueViolation(e)) throw conflict('link-taken', '此來源帳號已對應到另一位人員。');
    throw e;
  });
  return (await linksFor(conn, who, sourceId)).find((l) => l.id === id)!;
}

export async function removeLink(conn: Db, who: Actor | Operator, linkId: number): Promise<{ sourceId: number }> {
  const scope = await scopeOf(conn, who);
  const link = await repo.linkById(conn, linkId);
  const gone = () => notFound('查無此帳號對應');
  if (!link) throw gone();
  const s = await repo.sourceById(conn, Number(link.source_id));
  const user = await conn('users').where({ id: link.user_id }).first('id', 'account', 'unit_id');
  const within = linkUnits(scope, true);
  if (!s || !user || !readsSource(scope.reach, s) || (within && !within.includes(Number(user.unit_id)))) throw gone();
  await conn.transaction(async (trx) => {
    await repo.deleteLink(trx, linkId);
    await recordEvent(trx, actorOf(who), { action: 'reconcile.link-removed', targetType: 'source_account_link', targetId: linkId, unitId: Number(user.unit_id), detail: { source: s.code, account: user.account, sourceAccount: maskAccount(link.source_account) } });
  });
  return { sourceId: s.id };
}

/** Source accounts in the source's imports (within reach) that no link names now: the unknown accounts to link or explain. */
export async function unlinkedAccounts(conn: Conn, who: Actor | Operator, sourceId: number): Promise<Array<{ sourceAccount: string; records: number }>> {
  const scope = await scopeOf(conn, who);
  await readableSource(conn, scope, sourceId);
  const rows: any[] = await conn('source_records as r').join('reconcile_imports as i', 'i.id', 'r.import_id')
    .where('i.source_id', sourceId).whereIn('i.unit_id', scope.reach.read.size ? [...scope.reach.read] : [-1]).whereNull('i.withdrawn_at').whereNull('r.user_id')
    .whereNotExists(conn('source_account_links as l').where('l.source_id', sourceId).whereRaw('l.source_account = r.source_account').select(conn.raw('1')))
    .groupBy('r.source_account').orderBy('r.source_account').limit(200).select('r.source_account').count({ n: '*' });
  return rows.map((r) => ({ sourceAccount: String(r.source_account), records: Number(r.n) }));
}

// ---------------------------------------------------------------------------------------------
// Reading a file

export interface FileInput { fileName: string; bytes: Buffer }

const sizeLimit = (cfg: Pick<Config, 'RECONCILE_MAX_FILE_MB'>) => cfg.RECONCILE_MAX_FILE_MB * 1048576;
export const tooLarge = (cfg: Pick<Config, 'RECONCILE_MAX_FILE_MB'>) =>
  new Problem(413, 'file-too-large', 'Payload too large', `檔案超過上限 ${cfg.RECONCILE_MAX_FILE_MB} MB，未讀取、未儲存任何資料；請分割檔案（例如依月份或機關）後再匯入。`, [{ field: 'file', message: `檔案超過上限 ${cfg.RECONCILE_MAX_FILE_MB} MB` }]);

/** The refusal of a file: every refused row, column and reason, nothing stored. */
export class ImportRefused extends Problem {
  constructor(readonly rowErrors: RowError[], readonly errorCount: number, readonly context: { fileName: string; source: string; unit: string | null; period: string | null }) {
    super(400, 'import-refused', 'Import refused', `檔案有 ${errorCount} 處錯誤，未匯入任何資料；請依列、欄修正後再匯入。`,
      rowErrors.map((e) => ({ field: 'file', message: errorText(e), row: e.row, column: e.column, reason: e.message }) as FieldError), { errorCount });
  }
}
/** One refused cell as a sentence: 第 12 列「身分證號」欄：… */
export const errorText = (e: RowError): string => `${e.row != null ? `第 ${e.row} 列` : '檔案'}${e.column ? `「${e.column}」欄` : ''}：${e.message}`;

/** The file's records with the mapping, or an ImportRefused naming each bad cell. */
async function parsedFile(file: FileInput, m: Mapping, kind: SourceKind, period: string | null, ctx: { fileName: string; source: string; unit: string | null }, limit?: number) {
  const table = await readTable(file.bytes, m.encoding, m.headerRow);
  if (table.errors.length) throw new ImportRefused(table.errors, table.errors.length, { ...ctx, period });
  const r = readRecords(table.rows, m, kind, { period, now: now(), limit });
  return { ...r, format: table.format };
}

export interface PreviewRow { row: number; account: string; person: string | null; at: string; atText: string; subject: string | null; opCode: string | null; count: number | null }
export interface Preview { format: string; header: string[]; rows: PreviewRow[]; errors: Array<RowError & { text: string }>; errorCount: number; mapping: Mapping }

/**
 * The first rows of a file as the source's mapping (or a draft one) reads them: accounts with the
 * person linked, times in Taipei, subjects masked. Nothing is stored and no period is checked.
 */
export async function preview(conn: Conn, cfg: Config, who: Actor | Operator, sourceId: number, file: FileInput, draft?: unknown): Promise<Preview> {
  const scope = await scopeOf(conn, who);
  const s = await readableSource(conn, scope, sourceId);
  if (file.bytes.length > sizeLimit(cfg)) throw tooLarge(cfg);
  let m: Mapping;
  if (draft !== undefined) m = checkedMapping(draft, s.kind);
  else {
    const latest = await repo.latestMapping(conn, s.id);
    if (!latest) throw validation([{ field: 'columns', message: '此來源尚未設定欄位對應：請填寫對應後再預覽' }]);
    m = mappingOf(latest);
  }
  let r: Awaited<ReturnType<typeof parsedFile>>;
  try {
    r = await parsedFile(file, m, s.kind, null, { fileName: file.fileName, source: s.code, unit: null }, PREVIEW_ROWS);
  } catch (e) {
    if (!(e instanceof ImportRefused)) throw e;
    return { format: '', header: [], rows: [], errors: e.rowErrors.map((x) => ({ ...x, text: errorText(x) })), errorCount: e.errorCount, mapping: m };
  }
  const links = await repo.linkMap(conn, s.id);
  const people = new Map<number, string>();
  const ids = [...new Set([...links.values()])];
  if (ids.length) for (const u of await conn('users').whereIn('id', ids).select('id', 'account')) people.set(Number(u.id), u.account);
  const rows = r.records.map((x) => {
    const uid = links.get(x.account);
    return {
      row: x.row, account: x.account, person: uid != null ? people.get(uid) ?? null : null, at: iso(x.occurredAt)!, atText: s.kind === 'records' ? rocDateTime(x.occurredAt) : rocShort(x.day),
      subject: x.subject ? maskSubject(x.subject) : null, opCode: x.opCode, count: x.count,
    };
  });
  return { format: r.format, header: r.header, rows, errors: r.errors.map((x) => ({ ...x, text: errorText(x) })), errorCount: r.errorCount, mapping: m };
}

// ---------------------------------------------------------------------------------------------
// Import

export interface ImportInput { source: string; unit: string; period: string; file: FileInput; via: 'web' | 'api' | 'cli' | 'demo' }
export interface ImportView {
  id: number; source: string; sourceName: string; kind: SourceKind; unit: string; unitName: string; period: string; fileName: string; sha256: string; rows: number;
  mappingVersion: number; importedBy: string | null; via: string; importedAt: string | null;
  /** Withdrawn imports keep their records but leave matching: when, by whom (null: the command line), why. */
  withdrawn: boolean; withdrawnAt: string | null; withdrawnBy: string | null; withdrawReason: string | null;
}
export interface ImportResult extends ImportView { records: number; unknownAccounts: number; unknownRecords: number; counted: number }

const importView = (i: repo.ImportRow): ImportView => ({
  id: i.id, source: i.source_code!, sourceName: i.source_name!, kind: i.source_kind!, unit: i.unit_code!, unitName: i.unit_name!, period: i.period, fileName: i.file_name,
  sha256: i.file_sha256, rows: i.row_count, mappingVersion: i.mapping_version!, importedBy: i.importer ?? null, via: i.via, importedAt: iso(i.imported_at),
  withdrawn: i.withdrawn_at != null, withdrawnAt: i.withdrawn_at != null ? iso(i.withdrawn_at) : null, withdrawnBy: i.withdrawn_at != null ? (i.withdrawer ?? null) : null, withdrawReason: i.withdraw_reason ?? null,
});

/** A file name as kept: its last path part, without control characters, at most 255 characters. */
export function cleanFileName(name: string): string {
  const base = path.basename(String(name ?? '').replace(/\\/g, '/')).normalize('NFC').replace(/[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g, '').trim();
  return [...(base || 'upload')].slice(0, 255).join('');
}

/**
 * Imports a file for an agency and a period with the source's latest mapping, all or nothing.
 * Refused: an agency outside the person's reach (as for none), a period not yet begun, the same
 * file twice (per source), a file over RECONCILE_MAX_FILE_MB, and any bad row (ImportRefused).
 */
export async function importFile(db: Db, cfg: Config, who: Actor | Operator, input: ImportInput): Promise<ImportResult> {
  const scope = await scopeOf(db, who);
  const errors: FieldError[] = [];
  const sourceRef = String(input.source ?? '').trim();
  const unitCode = String(input.unit ?? '').trim();
  const periodText = String(input.period ?? '').trim();
  if (!sourceRef) errors.push({ field: 'source', message: '請選擇對帳來源' });
  if (!unitCode) errors.push({ field: 'unit', message: '請選擇業務機關' });
  const period = periodText ? parsePeriod(periodText) : null;
  if (!periodText) errors.push({ field: 'period', message: '請輸入匯入期間（年月）' });
  else {
    const p = period ? periodProblem(period, now()) : '期間格式應為 YYYY-MM（或民國年/月，如 113/12）';
    if (p) errors.push({ field: 'period', message: p });
  }
  let agency: UnitRow | undefined;
  if (unitCode) {
    const u = scope.units.find((x) => x.code === unitCode);
    const reachable = u && underAgencies(scope.units, scope.reach.manage).includes(Number(u.id));
    if (!u || !reachable) errors.push({ field: 'unit', message: NO_AGENCY });
    else if (u.kind !== 'agency') errors.push({ field: 'unit', message: `對帳以業務機關為單位：「${u.name}」屬於「${agencyIn(scope.units, Number(u.id))?.name ?? ''}」，請選該機關` });
    else agency = u;
  }
  let source: repo.SourceRow | undefined;
  if (sourceRef) {
    source = await readableSource(db, scope, sourceRef).catch(() => undefined);
    if (!source) errors.push({ field: 'source', message: NO_SOURCE });
    else if (agency && !sourceServes(source, agency.id)) errors.push({ field: 'source', message: `此來源屬於「${source.unit_name}」，不能用於「${agency.name}」的匯入` });
  }
  const mapping = source ? await repo.latestMapping(db, source.id) : undefined;
  if (source && !mapping) errors.push({ field: 'source', message: '此來源尚未設定欄位對應，請先設定後再匯入' });
  const fileName = cleanFileName(input.file.fileName);
  if (errors.length) throw validation(errors);
  if (input.file.bytes.length > sizeLimit(cfg)) throw tooLarge(cfg);

  const sha256 = crypto.createHash('sha256').update(input.file.bytes).digest('hex');
  const duplicate = async () => {
    const had = await repo.importBySha(db, source!.id, sha256);
    if (!had) return null;
    const yours = scope.reach.read.has(Number(had.unit_id));
    return conflict('duplicate-import', `此檔案已匯入過${yours ? `（第 ${had.id} 號匯入）` : ''}：同一來源不重複匯入相同內容的檔案（SHA-256 ${sha256.slice(0, 12)}…）。`);
  };
  // One live import per source, agency and month: a corrected re-export replaces the first only
  // after it is withdrawn, so no query is counted twice (the unique live_slot key, migration 0080,
  // closes the race between two imports at once). Checked once the file has been read (below).
  const liveOne = async () => {
    const had = await repo.liveImport(db, source!.id, agency!.id, period!);
    return had ? conflict('live-import', `「${agency!.name}」${rocMonth(period!)}已有此來源的匯入（第 ${had.id} 號，「${had.file_name}」）：同一來源、機關與月份只能有一筆有效匯入；要改用更正後的檔案，請先撤回第 ${had.id} 號匯入（須說明理由），再重新匯入。`) : null;
  };
  const dup = await duplicate();
  if (dup) throw dup;

  const ctx = { fileName, source: source!.code, unit: agency!.code };
  const read = await parsedFile(input.file, mappingOf(mapping!), source!.kind, period, ctx);
  if (read.errorCount) throw new ImportRefused(read.errors, read.errorCount, { ...ctx, period });
  // After the file is read: a refused file's every row error is told first, then this.
  const live = await liveOne();
  if (live) throw live;

  const links = await repo.linkMap(db, source!.id);
  const keys = { enc: cfg.subjectEncKey, hmac: cfg.SUBJECT_HMAC_KEY };
  let id: number;
  try {
    id = await db.transaction(async (trx) => {
      const id = await repo.insertImport(trx, {
        source_id: source!.id, mapping_id: mapping!.id, unit_id: agency!.id, period: period!, file_name: fileName, file_sha256: sha256, row_count: read.rows,
        imported_by: who.id, via: input.via, imported_at: now(), live_slot: 0,
      });
      await repo.insertRecords(trx, read.records.map((r) => recordRow(keys, id, r, links)));
      const unknown = new Set(read.records.filter((r) => !links.has(r.account)).map((r) => r.account)).size;
      await recordEvent(trx, actorOf(who), {
        action: 'reconcile.import', targetType: 'reconcile_import', targetId: id, unitId: agency!.id,
        detail: { source: source!.code, period, fileName, sha256, rows: read.rows, records: read.records.length, mappingVersion: mapping!.version, unknownAccounts: unknown, via: input.via, ...(input.via === 'cli' ? { osUser: osUser() } : {}) },
      });
      return id;
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw (await duplicate()) ?? (await liveOne()) ?? e;
    throw e;
  }
  // Matching runs after each import (results.ts), once the import has committed: a failure there
  // leaves the import standing, and the run can be repeated (POST /api/v1/reconciliations).
  await reconcileAfterImport(db, cfg, id, who.id == null ? null : { id: who.id, account: who.account, ip: who.ip ?? null });
  const row = (await repo.importById(db, id))!;
  return { ...importView(row), ...(await repo.importFigures(db, id)) };
}

const osUser = (): string | null => {
  try {
    return os.userInfo().username;
  } catch {
    return null;
  }
};

/** A parsed row as stored: the subject HMAC-ed, encrypted bound to its record, masked. */
function recordRow(keys: { enc: Buffer; hmac: string }, importId: number, r: ParsedRecord, links: Map<string, number>): repo.SourceRecordInsert {
  let subject: Pick<repo.SourceRecordInsert, 'subject_type' | 'subject_hmac' | 'subject_cipher' | 'subject_mask'> = { subject_type: null, subject_hmac: null, subject_cipher: null, subject_mask: null };
  if (r.subject) {
    const hmac = subjectHmac(keys.hmac, r.subject);
    const plain = cellForm(r.subject.value).toUpperCase();
    subject = {
      subject_type: r.subject.type, subject_hmac: hmac, subject_mask: maskSubject(r.subject),
      subject_cipher: encryptSubject(keys.enc, plain, sourceRecordAad({ import_id: importId, row_no: r.row, subject_type: r.subject.type, subject_hmac: hmac })),
    };
  }
  return { import_id: importId, row_no: r.row, source_account: r.account, user_id: links.get(r.account) ?? null, occurred_at: r.occurredAt, ...subject, op_code: r.opCode, count: r.count };
}

/**
 * Withdraws an import (a wrong or superseded file): who may import for its agency may withdraw
 * it, with a reason. Its records are kept (evidence) but leave matching, the agency's month is
 * reconciled again at once, and a corrected file for the same source and month may then be
 * imported. Outside the person's reach the import answers as none; a second withdrawal is a 409.
 */
export async function withdrawImport(db: Db, cfg: Config, who: Actor | Operator, id: number, input: { reason?: unknown }): Promise<ImportView & { rerun: { runId: number; generation: number } | null }> {
  const scope = await scopeOf(db, who);
  const row = await repo.importById(db, id);
  if (!row || !scope.reach.read.has(row.unit_id)) throw notFound(NO_IMPORT);
  if (!scope.reach.manage.has(row.unit_id)) throw forbidden('僅能匯入此機關資料的管理者可撤回匯入');
  const reason = typeof input.reason === 'string' ? input.reason : '';
  const rp = textProblem(reason) ?? reasonProblem(reason, cfg.REASON_MIN_LENGTH, '撤回理由');
  if (rp) throw validation([{ field: 'reason', message: rp }]);
  const already = () => conflict('already-withdrawn', `第 ${id} 號匯入已於先前撤回。`);
  if (row.withdrawn_at != null) throw already();
  await db.transaction(async (trx) => {
    const changed = await repo.withdrawImportRow(trx, id, { withdrawn_at: now(), withdrawn_by: who.id, withdraw_reason: reason.trim() });
    if (!changed) throw already();
    await recordEvent(trx, actorOf(who), {
      action: 'reconcile.import-withdrawn', targetType: 'reconcile_import', targetId: id, unitId: row.unit_id,
      detail: { source: row.source_code, period: row.period, fileName: row.file_name, sha256: row.file_sha256, reason: reason.trim(), ...(isOperator(who) ? { osUser: osUser() } : {}) },
    });
  });
  // The month is reconciled again without the withdrawn records (after the commit: a failure
  // there leaves the withdrawal standing, and the run can be repeated).
  const agency = agencyIn(scope.units, row.unit_id);
  const run = agency ? await runReconciliation(db, cfg, { agency, period: row.period, trigger: 'withdrawal', importId: id, actor: who.id == null ? undefined : { id: who.id, account: who.account, ip: who.ip ?? null } }) : null;
  return { ...importView((await repo.importById(db, id))!), rerun: run ? { runId: run.runId, generation: run.generation } : null };
}

export async function listImportsFor(conn: Conn, who: Actor | Operator, q: { unit?: string; period?: string; source?: string } = {}): Promise<ImportView[]> {
  const scope = await scopeOf(conn, who);
  const f: { period?: string; sourceId?: number; unitId?: number } = {};
  const errors: FieldError[] = [];
  if (q.period) {
    const p = parsePeriod(q.period);
    if (!p) errors.push({ field: 'period', message: '期間格式應為 YYYY-MM' });
    else f.period = p;
  }
  if (errors.length) throw validation(errors);
  let agencies = [...scope.reach.read];
  if (q.unit) {
    // Another agency's code lists nothing, as an unknown one would.
    const u = scope.units.find((x) => x.code === q.unit);
    agencies = u ? agencies.filter((a) => a === Number(u.id)) : [];
  }
  if (q.source) {
    const s = /^\d+$/.test(q.source) ? await repo.sourceById(conn, Number(q.source)) : await repo.sourceByCode(conn, q.source);
    if (!s || !readsSource(scope.reach, s)) return [];
    f.sourceId = s.id;
  }
  return (await repo.listImports(conn, agencies, f)).map(importView);
}

export async function importDetail(conn: Conn, who: Actor | Operator, id: number): Promise<ImportResult & { sample: Array<{ row: number; sourceAccount: string; person: string | null; at: string; atText: string; subject: string | null; opCode: string | null; count: number | null }>; canWithdraw: boolean }> {
  const scope = await scopeOf(conn, who);
  const row = await repo.importById(conn, id);
  if (!row || !scope.reach.read.has(row.unit_id)) throw notFound(NO_IMPORT);
  const sample = (await repo.recordsOf(conn, id)).map((r: any) => ({
    row: Number(r.row_no), sourceAccount: r.source_account, person: r.account ?? null, at: iso(Number(r.occurred_at))!, atText: r.count == null ? rocDateTime(Number(r.occurred_at)) : rocShort(localDate(Number(r.occurred_at))),
    subject: r.subject_mask ?? null, opCode: r.op_code ?? null, count: r.count == null ? null : Number(r.count),
  }));
  return { ...importView(row), ...(await repo.importFigures(conn, id)), sample, canWithdraw: row.withdrawn_at == null && scope.reach.manage.has(row.unit_id) };
}

/** Agencies the person may import for, and the sources each may use, for the import form. */
export async function importChoices(conn: Conn, who: Actor | Operator): Promise<{ agencies: UnitRow[]; sources: SourceView[] }> {
  const scope = await scopeOf(conn, who);
  const agencies = scope.units.filter((u) => u.kind === 'agency' && scope.reach.manage.has(Number(u.id)));
  const sources = (await listSourcesFor(conn, who)).filter((s) => s.mappingVersion != null && (s.unit == null || agencies.some((a) => a.code === s.unit)));
  return { agencies, sources };
}

export const periodText = (p: string): string => rocMonth(p);
export { MAX_ERRORS_LISTED };
