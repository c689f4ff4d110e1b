// The annual filing workbook (報府備查, clause 5(五)): per agency a cover sheet, 管理者清冊,
// 使用者清冊, 查詢紀錄單, 查核紀錄 and 稽核紀錄; county-wide (no unit) a summary of every agency.
//
// Sheet content hash (printed on the cover, checked by verifyWorkbook):
//   SHA-256 over the sheet's canonical TSV: for every row from row 1 (the header) to the last,
//   the text of cells 1..C (C = the number of header columns), each cell's text escaped
//   (\ → \\, tab → \t, LF → \n, CR → \r), joined by a tab, each row followed by LF.
//   A cell's text is the string as written (rich text joined) or a number in JavaScript's
//   String(n) form; an empty cell is ''. The cover sheet itself is not hashed.
//
// Written with exceljs' streaming WorkbookWriter (no shared strings), paging the query log by id
// (where id > last order by id limit 5000) and yielding to the event loop every ~1000 rows.
// Every text cell goes through reports/cells.ts (setInert) so nothing can become a formula.
//
// Printing: every sheet A4 landscape, fit to one page wide; the data sheets' header row (bold)
// repeated on every page; the cover's long texts wrapped. Only the cover, the header rows and the
// rare query-log row whose reason has a line break carry styles: a style on every data row would
// cost a million-row sheet dearly (see streamingWorkbook in reports/cells.ts).
import crypto from 'node:crypto';
import fs from 'node:fs';
import ExcelJS from 'exceljs';
import type { Conn } from '../server/db.ts';
import { isMysql, pagesAhead } from '../server/db.ts';
import { allUnits, subtreeOf, type UnitRow } from '../server/accounts/units.ts';
import { ROLE_LABELS, RANK_LABELS, type Role } from '../server/accounts/roles.ts';
import { GENESIS } from '../server/queries/chain.ts';
import { publishedKey, signHead, type CheckpointSettings } from '../server/queries/checkpoints.ts';
import { fastLocal, localDate, now, rocDateTime, rocPeriod, rocShort, rocYear, yearRange } from '../server/time.ts';
import { AUDIT_KIND_LABELS, CHECK_STATUS_LABELS, SUBJECT_LABELS, USER_STATUS_LABELS, VERDICT_LABELS, basisLabel, labelOf } from '../server/labels.ts';
import { RECONCILE_COLUMNS, RECONCILE_SHEET, writeReconcileSheet } from '../server/reconcile/annual-sheet.ts';
import { ODS_MIME, cleanText, readOds } from './ods.ts';
import { BOLD_FONT, TITLE_FONT, discardWorkbookFile, type WorkbookFormat, addInertRow, cellText, closeWorkbookFile, openWorkbookFile, printSetup, wrapCells, yieldToWriter } from './cells.ts';

export const PAGE = 5000;
export const YIELD_EVERY = 1000;
export const COVER = '封面';
export const NO_DATA = '（本年度無資料）';
export const SHEETS = { admins: '管理者清冊', users: '使用者清冊', entries: '查詢紀錄單', checks: '查核紀錄', audits: '稽核紀錄', reconcile: RECONCILE_SHEET, summary: '各機關彙總' } as const;

// ---------------------------------------------------------------------------------------------
// Canonical TSV and the content hash

const NEEDS_ESCAPE = /[\\\t\n\r]/;
export function canonicalCell(v: unknown): string {
  const s = v == null ? '' : typeof v === 'string' ? v : String(v);
  // Most cells have nothing to escape: one test instead of four replacements (a million rows).
  return NEEDS_ESCAPE.test(s) ? s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : s;
}
export function canonicalRow(values: unknown[], columns: number): string {
  const out: string[] = [];
  for (let i = 0; i < columns; i++) out.push(canonicalCell(values[i]));
  return out.join('\t') + '\n';
}

/** One streamed sheet: writes inert rows, hashes their canonical text as it goes. */
export class HashedSheet {
  readonly ws: ExcelJS.Worksheet;
  private readonly hash = crypto.createHash('sha256');
  rows = 0; // data rows (below the header)
  constructor(wb: ExcelJS.stream.xlsx.WorkbookWriter, readonly name: string, readonly columns: Array<{ header: string; width: number }>) {
    this.ws = wb.addWorksheet(name, { views: [{ state: 'frozen', ySplit: 1, xSplit: 0 }], ...printSetup('landscape') });
    this.ws.columns = columns.map((c, i) => ({ key: `c${i}`, width: c.width }));
    const header = this.write(columns.map((c) => c.header));
    header.eachCell((cell) => (cell.font = BOLD_FONT));
    wrapCells(header, columns, columns.map((_c, i) => i + 1));
    header.commit();
  }
  private write(values: unknown[]): ExcelJS.Row {
    // Hashed as written: text as either format holds it (control characters out, CR LF as LF).
    for (let i = 0; i < values.length; i++) if (typeof values[i] === 'string') values[i] = cleanText(values[i] as string);
    this.hash.update(canonicalRow(values, this.columns.length));
    return addInertRow(this.ws, values);
  }
  /** Adds a data row; `wrap` (1-based columns, for the rare row that needs it) wraps those cells. */
  add(values: unknown[], wrap?: number[]): void {
    const row = this.write(values);
    if (wrap) wrapCells(row, this.columns, wrap);
    row.commit();
    this.rows++;
  }
  /** Ends the sheet: a note when it has no rows; returns its content hash. */
  finish(): { name: string; rows: number; sha256: string } {
    if (this.rows === 0) this.write([NO_DATA]).commit();
    this.ws.commit();
    return { name: this.name, rows: this.rows, sha256: this.hash.digest('hex') };
  }
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const LEFT: Partial<ExcelJS.Alignment> = { horizontal: 'left' };

/**
 * The cover sheet (A4 landscape, one page wide): a title row, label/value lines and the table of
 * sheet hashes. Text in columns B and C wraps, except hex hashes: the chain-head hash in B runs
 * on into the empty C, the sheet hashes fit C. `commit` ends it and moves it first in the tab order.
 * Shared with the audit package.
 */
export function addCoverSheet(wb: ExcelJS.stream.xlsx.WorkbookWriter): { line: (a: unknown, b?: unknown, c?: unknown) => void; heading: (a: unknown, b?: unknown, c?: unknown) => void; commit: () => void } {
  const cover = wb.addWorksheet(COVER, printSetup('landscape', false));
  const columns = [{ width: 24 }, { width: 50 }, { width: 70 }];
  cover.columns = columns;
  let first = true;
  const line = (a: unknown, b: unknown = '', c: unknown = '') => {
    const row = addInertRow(cover, [a, b, c]);
    if (first) {
      row.getCell(1).font = TITLE_FONT; // runs on over the empty B and C
      row.height = 22;
      first = false;
    } else {
      if (typeof b === 'number') row.getCell(2).alignment = LEFT; // figures under the labels, not against the hashes
      const long = ([[2, b], [3, c]] as const).filter(([, v]) => typeof v === 'string' && v !== '' && !SHA256_HEX.test(v)).map(([i]) => i);
      wrapCells(row, columns, long);
    }
    row.commit();
  };
  const heading = (a: unknown, b: unknown = '', c: unknown = '') => {
    const row = addInertRow(cover, [a, b, c]);
    row.eachCell((cell) => (cell.font = BOLD_FONT));
    row.commit();
  };
  // The cover is written last (it carries the other sheets' hashes) and shown first.
  const commit = () => {
    cover.commit();
    const sheets = (wb as unknown as { _worksheets: unknown[] })._worksheets; // 1-based
    sheets.splice(1, 0, sheets.pop());
  };
  return { line, heading, commit };
}

/** Reads back a workbook (.xlsx or .ods) and recomputes each sheet's hash against the cover. For tests and audits. */
export async function verifyWorkbook(file: string): Promise<{ ok: boolean; format: WorkbookFormat; sheets: Array<{ name: string; rows: number; expected: string; actual: string | null }> }> {
  if ((await sniffFormat(file)) === 'ods') return { format: 'ods', ...checkCover(await odsSheetHashes(file)) };
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(file);
  const cover = wb.getWorksheet(COVER);
  const rows: string[][] = [];
  cover?.eachRow((row) => rows.push([1, 2, 3].map((c) => cellText(row.getCell(c).value))));
  return { format: 'xlsx', ...checkCover({ cover: cover ? rows : null, hash: (name) => { const ws = wb.getWorksheet(name); return ws ? sheetHashOf(ws) : null; } }) };
}

/** The sheets the cover lists (工作表 | 資料列數 | SHA-256), each against the hash recomputed from the file. */
function checkCover(book: { cover: string[][] | null; hash: (name: string) => string | null }) {
  if (!book.cover) return { ok: false, sheets: [] };
  const listed: Array<{ name: string; rows: number; expected: string }> = [];
  let inTable = false;
  for (const [a = '', b = '', c = ''] of book.cover) {
    if (a === '工作表' && c === 'SHA-256') inTable = true;
    else if (inTable && a && SHA256_HEX.test(c)) listed.push({ name: a, rows: Number(b), expected: c });
    else if (inTable) inTable = false;
  }
  const sheets = listed.map((l) => ({ ...l, actual: book.hash(l.name) }));
  return { ok: sheets.length > 0 && sheets.every((s) => s.actual === s.expected), sheets };
}

/** Which format a workbook file is, from its bytes (an .ods zip starts with its stored mimetype). */
export async function sniffFormat(file: string): Promise<WorkbookFormat> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(128), 0, 128, 0);
    return buffer.subarray(0, bytesRead).toString('latin1').includes(`mimetype${ODS_MIME}`) ? 'ods' : 'xlsx';
  } finally {
    await fh.close();
  }
}

/** Every table's content hash of an .ods file, streamed (a million rows stay out of memory), and the cover's rows. */
export async function odsSheetHashes(file: string): Promise<{ cover: string[][] | null; hash: (name: string) => string | null; order: string[] }> {
  const tables = new Map<string, { columns: number; hash: crypto.Hash; rows: number }>();
  let cover: string[][] | null = null;
  const order: string[] = [];
  await readOds(file, (t, cells) => {
    const s = tables.get(t.name)!;
    if (s.rows++ === 0) s.columns = cells.length;
    s.hash.update(canonicalRow(cells, s.columns));
    if (t.name === COVER) cover!.push(cells);
  }, (t) => {
    order.push(t.name);
    tables.set(t.name, { columns: 0, hash: crypto.createHash('sha256'), rows: 0 });
    if (t.name === COVER) cover = [];
  });
  const digests = new Map([...tables].map(([name, s]) => [name, s.hash.digest('hex')]));
  return { cover, hash: (name) => digests.get(name) ?? null, order };
}

/** The content hash of a worksheet read back with exceljs. */
export function sheetHashOf(ws: ExcelJS.Worksheet): string {
  const header = ws.getRow(1);
  let columns = 0;
  header.eachCell({ includeEmpty: false }, (_c, n) => (columns = Math.max(columns, n)));
  const h = crypto.createHash('sha256');
  for (let r = 1; r <= ws.rowCount; r++) {
    const row = ws.getRow(r);
    const values: string[] = [];
    for (let c = 1; c <= columns; c++) values.push(cellText(row.getCell(c).value));
    h.update(canonicalRow(values, columns));
  }
  return h.digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Data

export interface AnnualOptions {
  year: number;
  /** The agency (or unit) whose subtree the workbook covers; null for the county-wide summary. */
  unitId: number | null;
  out: string;
  countyName: string;
  progress?: (fraction: number, note?: string) => void;
  /** The signing key and witness: the year-end head printed on the cover is recorded as a checkpoint. */
  checkpoints?: CheckpointSettings;
}

export interface AnnualResult {
  year: number;
  unit: { id: number; code: string; name: string } | null;
  counts: { admins: number; users: number; entries: number; sampled: number; checks: number; checkItems: number; auditRecords: number };
  chainHead: { seq: number; hash: string };
  sheets: Array<{ name: string; rows: number; sha256: string }>;
  noData: boolean;
  sha256: string;
  bytes: number;
}

const ADMIN_ROLES: Role[] = ['admin', 'planning_admin'];


const day = (ms: unknown) => (ms == null ? '' : rocShort(localDate(Number(ms))));
const dt = (ms: unknown) => (ms == null ? '' : rocDateTime(Number(ms)));

async function hasTable(conn: Conn, name: string): Promise<boolean> {
  return conn.schema.hasTable(name);
}

/** The chain head at year end: the last entry (highest seq) recorded for an instant before it. */
export async function chainHeadAt(conn: Conn, before: number): Promise<{ seq: number; hash: string }> {
  const m = await conn('query_logs').where('queried_at', '<', before).max('seq as seq').first();
  if (m?.seq != null) {
    const row = await conn('query_logs').where({ seq: m.seq }).first('seq', 'hash');
    return { seq: Number(row.seq), hash: row.hash };
  }
  const cp = await conn('log_checkpoints').orderBy('id', 'desc').first('seq', 'hash');
  return cp ? { seq: Number(cp.seq), hash: cp.hash } : { seq: 0, hash: GENESIS };
}

/** Accounts of the units that existed during the year [start, end). */
function accountsQuery(conn: Conn, unitIds: number[], start: number, end: number) {
  return conn('users as u')
    .whereIn('u.unit_id', unitIds)
    .where('u.created_at', '<', end)
    .where((q) => q.whereNull('u.disabled_at').orWhere('u.disabled_at', '>=', start));
}

const adminIds = (conn: Conn) => conn('user_roles').whereIn('role', ADMIN_ROLES).select('user_id');

export async function countAccounts(conn: Conn, unitIds: number[], year: number): Promise<{ admins: number; users: number }> {
  const [start, end] = yearRange(year);
  const a = await accountsQuery(conn, unitIds, start, end).whereIn('u.id', adminIds(conn)).count({ n: '*' }).first();
  const u = await accountsQuery(conn, unitIds, start, end).whereNotIn('u.id', adminIds(conn)).count({ n: '*' }).first();
  return { admins: Number(a?.n ?? 0), users: Number(u?.n ?? 0) };
}

export async function countEntries(conn: Conn, unitIds: number[], year: number): Promise<number> {
  const [start, end] = yearRange(year);
  const r = await conn('query_logs').whereIn('unit_id', unitIds).where('queried_at', '>=', start).where('queried_at', '<', end).count({ n: '*' }).first();
  return Number(r?.n ?? 0);
}

const ROSTER_COLUMNS = [
  { header: '帳號', width: 18 }, { header: '姓名', width: 12 }, { header: '單位代碼', width: 12 }, { header: '單位名稱', width: 26 },
  { header: '職稱', width: 12 }, { header: '職級', width: 10 }, { header: '角色', width: 28 }, { header: '健保查詢權限（業務範圍/作業代號）', width: 40 },
  { header: '登入方式', width: 10 }, { header: '狀態', width: 8 }, { header: '建立日期', width: 12 }, { header: '最後登入', width: 16 },
  { header: '密碼變更日', width: 12 }, { header: '預定停用日', width: 12 }, { header: '停用日期', width: 12 }, { header: '停用原因', width: 24 },
];

/** Role labels and "scope/opCode" permissions of a page of accounts: two queries, not two per account. */
export async function rosterLabels(conn: Conn, ids: number[]): Promise<{ roles: Map<number, string[]>; perms: Map<number, string[]> }> {
  const roles = new Map<number, string[]>();
  for (const r of await conn('user_roles').whereIn('user_id', ids).orderBy('role').select('user_id', 'role')) roles.set(Number(r.user_id), [...(roles.get(Number(r.user_id)) ?? []), ROLE_LABELS[r.role as Role] ?? r.role]);
  const perms = new Map<number, string[]>();
  const permRows = await conn('user_permissions as p').join('scopes as s', 's.id', 'p.scope_id').join('op_codes as o', 'o.id', 'p.op_code_id')
    .whereIn('p.user_id', ids).orderBy(['p.user_id', 's.sort', 'o.code']).select('p.user_id', 's.code as scope', 'o.code as op');
  for (const p of permRows) perms.set(Number(p.user_id), [...(perms.get(Number(p.user_id)) ?? []), `${p.scope}/${p.op}`]);
  return { roles, perms };
}

async function writeRoster(conn: Conn, sheet: HashedSheet, unitIds: number[], year: number, admins: boolean, unitsById: Map<number, UnitRow>): Promise<void> {
  const [start, end] = yearRange(year);
  let last = 0;
  for (;;) {
    const q = accountsQuery(conn, unitIds, start, end).where('u.id', '>', last).orderBy('u.id').limit(PAGE)
      .select('u.id', 'u.account', 'u.name', 'u.unit_id', 'u.title', 'u.rank', 'u.auth_source', 'u.status', 'u.created_at', 'u.last_login_at', 'u.password_changed_at', 'u.disable_on', 'u.disabled_at', 'u.disabled_reason');
    const users: any[] = await (admins ? q.whereIn('u.id', adminIds(conn)) : q.whereNotIn('u.id', adminIds(conn)));
    if (!users.length) break;
    const { roles, perms } = await rosterLabels(conn, users.map((u) => u.id));
    for (const u of users) {
      const unit = unitsById.get(u.unit_id);
      sheet.add([
        u.account, u.name, unit?.code ?? '', unit?.name ?? '', u.title ?? '', (RANK_LABELS as Record<string, string>)[u.rank] ?? u.rank,
        (roles.get(u.id) ?? []).join('、'), (perms.get(u.id) ?? []).join('、'), u.auth_source === 'ldap' ? '目錄(LDAP)' : '本系統',
        labelOf(USER_STATUS_LABELS, u.status), day(u.created_at), dt(u.last_login_at), day(u.password_changed_at),
        u.disable_on ? rocShort(u.disable_on) : '', day(u.disabled_at), u.disabled_reason ?? '',
      ]);
    }
    last = users[users.length - 1].id;
    await yieldToWriter(sheet.ws);
  }
}

const ENTRY_COLUMNS = [
  { header: '序號', width: 10 }, { header: '查詢日期', width: 11 }, { header: '查詢時間', width: 9 }, { header: '查詢者帳號', width: 16 },
  { header: '單位', width: 22 }, { header: '業務範圍', width: 9 }, { header: '查詢作業代號', width: 12 }, { header: '案號', width: 18 },
  { header: '查詢事由', width: 36 }, { header: '被查詢者查詢條件（遮罩）', width: 22 }, { header: '條件類別', width: 14 },
  { header: '申請單編號', width: 10 }, { header: '來源', width: 6 }, { header: '抽查', width: 14 }, { header: '紀錄雜湊', width: 66 },
];

const MULTI_LINE = /[\n\r]/;
/** A reason with line breaks is wrapped (only that rare row is styled): unwrapped, it shows one line. */
const REASON_WRAP = [ENTRY_COLUMNS.findIndex((c) => c.header === '查詢事由') + 1];

async function writeEntries(conn: Conn, sheet: HashedSheet, unitIds: number[], year: number, unitsById: Map<number, UnitRow>, total: number, progress: (done: number) => void): Promise<number> {
  const [start, end] = yearRange(year);
  const checksExist = await hasTable(conn, 'check_items');
  // Start at the year's first entry and walk the primary key: on MariaDB the key is forced, or the
  // optimiser picks the (unit_id, queried_at) index and sorts the whole year for every page.
  const first = await conn('query_logs').where('queried_at', '>=', start).where('queried_at', '<', end).min('id as m').first();
  if (first?.m == null) return 0;
  let sampled = 0;
  let done = 0;
  const local = fastLocal();
  const from = isMysql(conn) ? conn.raw('?? FORCE INDEX (PRIMARY)', ['query_logs']) : 'query_logs';
  const page = (after: number): PromiseLike<any[]> => conn.from(from as any).whereIn('unit_id', unitIds).where('queried_at', '>=', start).where('queried_at', '<', end).where('id', '>', after)
    .orderBy('id').limit(PAGE)
    .select('id', 'seq', 'account', 'unit_id', 'queried_at', 'op_code', 'scope_code', 'query_request_id', 'case_no', 'reason', 'subject_type', 'subject_mask', 'source', 'hash');
  // The next page is read (by the database, on its own core) while this one is written.
  for await (const rows of pagesAhead(page, (r) => Number(r.id), Number(first.m) - 1, PAGE)) {
    const last = Number(rows[rows.length - 1].id);
    const marks = new Map<number, string>();
    if (checksExist) {
      // The page's entries are an id range: its sample marks are one indexed range read.
      const items = await conn('check_items as i').join('checks as c', 'c.id', 'i.check_id').whereBetween('i.entry_id', [Number(rows[0].id), last]).whereNot('c.status', 'superseded').select('i.entry_id', 'i.basis');
      for (const it of items) marks.set(Number(it.entry_id), `抽查（${basisLabel(String(it.basis))}）`);
    }
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      const when = local(Number(r.queried_at));
      const mark = marks.get(Number(r.id)) ?? '';
      if (mark) sampled++;
      sheet.add([
        Number(r.seq), when.date, when.time, r.account, unitsById.get(r.unit_id)?.name ?? String(r.unit_id), r.scope_code, r.op_code,
        r.case_no, r.reason, r.subject_mask, labelOf(SUBJECT_LABELS, r.subject_type),
        r.query_request_id == null ? '' : Number(r.query_request_id), r.source === 'api' ? 'API' : '網頁', mark, r.hash,
      ], MULTI_LINE.test(r.reason) ? REASON_WRAP : undefined);
      if (++done % YIELD_EVERY === 0) {
        progress(done / Math.max(1, total));
        await yieldToWriter(sheet.ws);
      }
    }
  }
  return sampled;
}

const CHECK_COLUMNS = [
  { header: '月份', width: 10 }, { header: '機關', width: 22 }, { header: '次別', width: 6 }, { header: '狀態', width: 10 },
  { header: '母體筆數', width: 9 }, { header: '隨機抽查筆數', width: 12 }, { header: '抽樣種子', width: 20 }, { header: '查核人員', width: 14 },
  { header: '簽核日期', width: 12 }, { header: '紀錄序號', width: 10 }, { header: '抽查依據', width: 18 }, { header: '判定', width: 8 },
  { header: '查核說明', width: 30 }, { header: '判定人', width: 14 }, { header: '判定時間', width: 16 },
];

async function writeChecks(conn: Conn, sheet: HashedSheet, unitIds: number[], year: number, unitsById: Map<number, UnitRow>): Promise<{ checks: number; items: number }> {
  if (!(await hasTable(conn, 'checks'))) return { checks: 0, items: 0 };
  const checks: any[] = await conn('checks as c').leftJoin('users as k', 'k.id', 'c.checker_id')
    .whereIn('c.unit_id', unitIds).where('c.period', '>=', `${year}-01`).where('c.period', '<=', `${year}-12`)
    .orderBy(['c.period', 'c.unit_id', 'c.generation'])
    .select('c.*', 'k.account as checker');
  let items = 0;
  for (const c of checks) {
    const head = [rocPeriod(c.period), unitsById.get(c.unit_id)?.name ?? '', Number(c.generation), labelOf(CHECK_STATUS_LABELS, c.status), Number(c.population), Number(c.sample_size), c.seed.slice(0, 16), c.checker ?? (c.assignment_problem ?? ''), day(c.signed_off_at)];
    let last = 0;
    let any = false;
    for (;;) {
      const rows: any[] = await conn('check_items as i').leftJoin('query_logs as q', 'q.id', 'i.entry_id').leftJoin('users as d', 'd.id', 'i.decided_by')
        .where('i.check_id', c.id).where('i.id', '>', last).orderBy('i.id').limit(PAGE)
        .select('i.id', 'q.seq', 'i.entry_id', 'i.source_record_id', 'i.basis', 'i.verdict', 'i.note', 'd.account as decider', 'i.decided_at');
      if (!rows.length) break;
      for (const i of rows) {
        // An unlogged query (issue 16) has no entry: its source record is named instead.
        const ref = i.entry_id == null ? `來源紀錄#${i.source_record_id}` : i.seq == null ? `#${i.entry_id}` : Number(i.seq);
        sheet.add([...head, ref, basisLabel(String(i.basis)), i.verdict ? labelOf(VERDICT_LABELS, i.verdict) : '未判定', i.note ?? '', i.decider ?? '', dt(i.decided_at)]);
        items++;
        any = true;
      }
      last = rows[rows.length - 1].id;
      await yieldToWriter(sheet.ws);
    }
    if (!any) sheet.add([...head, '', '（本月無查詢紀錄）', '', '', '', '']);
  }
  return { checks: checks.length, items };
}

const AUDIT_COLUMNS = [
  { header: '編號', width: 8 }, { header: '類別', width: 10 }, { header: '單位', width: 22 }, { header: '標題', width: 30 }, { header: '期間', width: 10 },
  { header: '摘要', width: 30 }, { header: '發現', width: 40 }, { header: '結論', width: 40 }, { header: '簽核人', width: 14 }, { header: '簽核日期', width: 12 }, { header: '更正編號', width: 10 },
];

/** Audit records of the year: their period is in the year, or (no period) they were made in it. */
export function auditRecordsQuery(conn: Conn, unitIds: number[], year: number) {
  const [start, end] = yearRange(year);
  return conn('audit_records as a').whereIn('a.unit_id', unitIds)
    .where((q) => q.where('a.period', 'like', `${year}%`).orWhere((q2) => q2.whereNull('a.period').where('a.created_at', '>=', start).where('a.created_at', '<', end)));
}

async function writeAudits(conn: Conn, sheet: HashedSheet, unitIds: number[], year: number, unitsById: Map<number, UnitRow>): Promise<number> {
  if (!(await hasTable(conn, 'audit_records'))) return 0;
  const rows: any[] = await auditRecordsQuery(conn, unitIds, year).leftJoin('users as s', 's.id', 'a.signed_by').orderBy('a.id')
    .select('a.*', 's.account as signer');
  for (const a of rows) {
    sheet.add([Number(a.id), labelOf(AUDIT_KIND_LABELS, a.kind), unitsById.get(a.unit_id)?.name ?? '', a.title, a.period ? rocPeriod(a.period) : '', a.summary ?? '', a.findings ?? '', a.conclusion ?? '', a.signer ?? '', day(a.signed_at), a.supersedes_id == null ? '' : Number(a.supersedes_id)]);
  }
  return rows.length;
}

// ---------------------------------------------------------------------------------------------
// The workbook

export async function writeAnnualWorkbook(conn: Conn, opts: AnnualOptions): Promise<AnnualResult> {
  const { year } = opts;
  const progress = opts.progress ?? (() => undefined);
  const units = await allUnits(conn);
  const unitsById = new Map(units.map((u) => [u.id, u]));
  const root = opts.unitId == null ? null : unitsById.get(opts.unitId);
  if (opts.unitId != null && !root) throw new Error(`unit ${opts.unitId} not found`);
  const unitIds = root ? subtreeOf(units, root.id) : units.map((u) => u.id);
  const [, yearEnd] = yearRange(year);

  const { wb, tmp } = openWorkbookFile(opts.out);
  wb.creator = opts.countyName;
  wb.created = new Date(now());
  try {
    const accounts = await countAccounts(conn, unitIds, year);
    const entries = root ? await countEntries(conn, unitIds, year) : 0;
    progress(0.01, '清冊');
    const sheets: AnnualResult['sheets'] = [];
    let sampled = 0;
    let checks = { checks: 0, items: 0 };
    let auditRecords = 0;
    let countyEntries = 0;

    if (!root) {
      // County-wide: one row per agency with its figures and filing status.
      const s = new HashedSheet(wb, SHEETS.summary, [
        { header: '機關代碼', width: 12 }, { header: '機關名稱', width: 28 }, { header: '管理者數', width: 9 }, { header: '使用者數', width: 9 },
        { header: '查詢筆數', width: 10 }, { header: '查核次數', width: 9 }, { header: '稽核紀錄數', width: 10 }, { header: '報府備查', width: 12 }, { header: '府方確認', width: 12 },
      ]);
      const filingsExist = await hasTable(conn, 'annual_filings');
      for (const a of units.filter((u) => u.kind === 'agency').sort((x, y) => x.code.localeCompare(y.code))) {
        const ids = subtreeOf(units, a.id);
        const acc = await countAccounts(conn, ids, year);
        const n = await countEntries(conn, ids, year);
        countyEntries += n;
        const c = (await hasTable(conn, 'checks')) ? Number((await conn('checks').whereIn('unit_id', ids).where('period', 'like', `${year}-%`).whereNot('status', 'superseded').count({ n: '*' }).first())?.n ?? 0) : 0;
        const ar = (await hasTable(conn, 'audit_records')) ? Number((await auditRecordsQuery(conn, ids, year).count({ n: '*' }).first())?.n ?? 0) : 0;
        const f = filingsExist ? await conn('annual_filings').where({ unit_id: a.id, year }).first() : undefined;
        s.add([a.code, a.name, acc.admins, acc.users, n, c, ar, f ? day(f.submitted_at) : '未報送', f?.acknowledged_at ? day(f.acknowledged_at) : '']);
      }
      sheets.push(s.finish());
    }

    const admins = new HashedSheet(wb, SHEETS.admins, ROSTER_COLUMNS);
    await writeRoster(conn, admins, unitIds, year, true, unitsById);
    sheets.push(admins.finish());
    const users = new HashedSheet(wb, SHEETS.users, ROSTER_COLUMNS);
    await writeRoster(conn, users, unitIds, year, false, unitsById);
    sheets.push(users.finish());
    progress(0.05, '查詢紀錄單');

    if (root) {
      const es = new HashedSheet(wb, SHEETS.entries, ENTRY_COLUMNS);
      sampled = await writeEntries(conn, es, unitIds, year, unitsById, entries, (f) => progress(0.05 + 0.85 * f, '查詢紀錄單'));
      sheets.push(es.finish());
    }
    progress(0.9, '查核紀錄');
    const cs = new HashedSheet(wb, SHEETS.checks, CHECK_COLUMNS);
    checks = await writeChecks(conn, cs, unitIds, year, unitsById);
    sheets.push(cs.finish());
    const as = new HashedSheet(wb, SHEETS.audits, AUDIT_COLUMNS);
    auditRecords = await writeAudits(conn, as, unitIds, year, unitsById);
    sheets.push(as.finish());
    // Reconciliation with the source systems (issue 16): figures and result hashes per month and source.
    const rs = new HashedSheet(wb, RECONCILE_SHEET, RECONCILE_COLUMNS);
    const reconciliations = await writeReconcileSheet(conn, rs, unitIds, year, unitsById);
    sheets.push(rs.finish());

    const head = await signHead(conn, opts.checkpoints ?? {}, await chainHeadAt(conn, yearEnd));
    const totalEntries = root ? entries : countyEntries;
    const noData = totalEntries === 0 && checks.checks === 0 && auditRecords === 0;
    const counts = { ...accounts, entries: totalEntries, sampled, checks: checks.checks, checkItems: checks.items, auditRecords };

    const { line, heading, commit } = addCoverSheet(wb);
    line(`${opts.countyName} 應用健保資料 ${root ? '年度報府備查資料' : '全縣年度彙總'}`);
    line('依據', '南投縣政府應用衛生福利部中央健康保險署資訊作業管理要點 第五點第(五)款');
    line('機關', root ? `${root.name}（${root.code}）` : '全縣各業務機關');
    line('年度', `民國 ${rocYear(year)} 年（${year}）`);
    line('產製時間', rocDateTime(now()));
    line('管理者帳號數', counts.admins);
    line('使用者帳號數', counts.users);
    line('查詢紀錄筆數', counts.entries);
    if (root) line('抽查筆數', counts.sampled);
    line('查核次數', counts.checks);
    line('稽核紀錄數', counts.auditRecords);
    line('對帳紀錄數（機關月份）', reconciliations);
    line('年底查詢日誌鏈頭序號', head.seq);
    line('年底查詢日誌鏈頭雜湊', head.hash);
    // The key a verifier needs to check the signed checkpoints (issue 15: published on every filing).
    const key = publishedKey(opts.checkpoints ?? {});
    line('檢查點簽章公鑰（Ed25519，SPKI Base64）', key ? key.spki : '未設定：檢查點未簽章');
    if (key) line('公鑰指紋（SHA-256）', key.keyId);
    if (noData) line('說明', '本年度無查詢紀錄、查核紀錄及稽核紀錄。');
    line('');
    heading('工作表', '資料列數', 'SHA-256');
    for (const s of sheets) line(s.name, s.rows, s.sha256);
    line('');
    line('雜湊計算方式', '各工作表自第 1 列（標題列）至最後一列，每列取第 1 欄至標題欄數之儲存格文字，以 \\ 跳脫 \\、Tab、換行，欄以 Tab 分隔、列以換行結尾，取 UTF-8 之 SHA-256。');
    commit();
    const file = await closeWorkbookFile(wb, tmp, opts.out);
    progress(1, '完成');
    return { year, unit: root ? { id: root.id, code: root.code, name: root.name } : null, counts, chainHead: head, sheets, noData, ...file };
  } catch (e) {
    discardWorkbookFile(wb, tmp);
    throw e;
  }
}
