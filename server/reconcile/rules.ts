// Reconciliation import rules as plain functions (no database, no Express): what a mapping must
// name, how a cell is read (ROC or AD dates, times with or without seconds, full-width digits, IDs
// with their checksum, counts), which cells are refused (formulas, control characters), which
// period may be imported, and who reaches which agency's sources and imports.
import { isIsoDate, isMonth, localMonth, parseRocMonth, startOfLocalDay } from '../time.ts';
import { textProblem } from '../text.ts';
import { subjectProblem, type Subject, type SubjectType } from '../queries/subject.ts';
import type { Role } from '../accounts/roles.ts';
import { agencyIn, type UnitRow } from '../accounts/units.ts';
import { reachOf } from '../accounts/reach.ts';

export const SOURCE_KINDS = ['records', 'counts'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];
export const ENCODINGS = ['utf-8', 'big5'] as const;
export type Encoding = (typeof ENCODINGS)[number];
export const DATE_STYLES = ['roc-compact', 'roc-slash', 'ad'] as const;
export type DateStyle = (typeof DATE_STYLES)[number];
export const COLUMN_KEYS = ['account', 'date', 'time', 'subject', 'opCode', 'count'] as const;
export type ColumnKey = (typeof COLUMN_KEYS)[number];

export const KIND_LABELS: Record<SourceKind, string> = { records: '逐筆紀錄', counts: '每日筆數（僅總數）' };
export const ENCODING_LABELS: Record<Encoding, string> = { 'utf-8': 'UTF-8（含或不含 BOM）', big5: 'Big5（CP950）' };
export const DATE_STYLE_LABELS: Record<DateStyle, string> = {
  'roc-compact': '民國年緊密格式（1131203）',
  'roc-slash': '民國年分隔格式（113/12/03）',
  ad: '西元年（2024-12-03、2024/12/03、20241203）',
};
export const COLUMN_LABELS: Record<ColumnKey, string> = { account: '帳號', date: '日期', time: '時間', subject: '被查詢者身分證號', opCode: '查詢作業代號', count: '查詢筆數' };

/** Who defines sources, mappings and links and imports files: the planning department and agency admins. */
export const MANAGERS: readonly Role[] = ['planning_admin', 'admin'];
/** Who reads sources and imports: the managers, and the auditors and ethics staff within their reach. */
export const READERS: readonly Role[] = ['planning_admin', 'admin', 'auditor', 'ethics'];

/** Refused cells listed in a report (every one is counted). */
export const MAX_ERRORS_LISTED = 1000;
export const PREVIEW_ROWS = 10;

export type MappingColumns = { account: string; date: string; time?: string | null; subject?: string | null; opCode?: string | null; count?: string | null };
export interface Mapping { columns: MappingColumns; encoding: Encoding; dateStyle: DateStyle; headerRow: number }

/** One refused cell, row or file: row and column as a person sees them in the file (row 1 = the first line). */
export interface RowError { row: number | null; column: string | null; message: string }

/** A cell as read: text (CSV, or xlsx text and numbers), a real date of an xlsx cell ('YYYY-MM-DD HH:MM:SS'), or a formula. */
export interface Cell { text: string; kind: 'text' | 'date' | 'formula' }
export interface TableRow { row: number; cells: Cell[] }

export interface ParsedRecord {
  row: number;
  account: string;
  /** Taipei calendar day 'YYYY-MM-DD'. */
  day: string;
  /** Epoch ms of the Taipei wall-clock time (counts: the day's start). */
  occurredAt: number;
  subject: Subject | null;
  opCode: string | null;
  count: number | null;
}

// ---------------------------------------------------------------------------------------------
// Text

/** The form cells are compared in: full-width digits, letters and punctuation made ASCII (NFKC), trimmed. */
export const cellForm = (s: string): string => s.normalize('NFKC').trim();

const PLAIN_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
/**
 * A cell a spreadsheet would evaluate: a real formula (xlsx), or text beginning with = + - @ that
 * is not a plain number (DESIGN.md: cells are inert; a source file carrying one is not trusted).
 */
export function formulaProblem(c: Cell): string | null {
  if (c.kind === 'formula') return '儲存格含公式，請以純文字或數值匯出後再匯入';
  if (c.kind === 'text' && /^[=+\-@]/.test(c.text) && !PLAIN_NUMBER.test(c.text.trim())) return '儲存格以 = + - @ 開頭（可被試算表當成公式），請移除後再匯入';
  return null;
}

// ---------------------------------------------------------------------------------------------
// Dates and times

const pad = (n: number) => String(n).padStart(2, '0');

/** 'YYYY-MM-DD' from year, month, day when it is a real day; else null. */
function day(y: number, m: number, d: number): string | null {
  const iso = `${String(y).padStart(4, '0')}-${pad(m)}-${pad(d)}`;
  return isIsoDate(iso) ? iso : null;
}

/** A date in the given style (full-width digits accepted); null when it does not read. */
export function parseDay(text: string, style: DateStyle): string | null {
  const s = cellForm(text);
  let m: RegExpExecArray | null;
  if (style === 'roc-compact') {
    m = /^(\d{2,3})(\d{2})(\d{2})$/.exec(s);
    return m ? day(Number(m[1]) + 1911, Number(m[2]), Number(m[3])) : null;
  }
  if (style === 'roc-slash') {
    m = /^(?:民國\s*)?(\d{2,3})\s*[/.\-年]\s*(\d{1,2})\s*[/.\-月]\s*(\d{1,2})\s*日?$/.exec(s);
    return m ? day(Number(m[1]) + 1911, Number(m[2]), Number(m[3])) : null;
  }
  m = /^(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})$/.exec(s) ?? /^(\d{4})(\d{2})(\d{2})$/.exec(s);
  return m ? day(Number(m[1]), Number(m[2]), Number(m[3])) : null;
}

/** Seconds after midnight of 'HH:MM', 'HH:MM:SS', 'HHMM', 'HHMMSS', '14時05分', '下午 02:05:22'; null when it does not read. */
export function parseTime(text: string): number | null {
  let s = cellForm(text);
  let shift = 0;
  const ampm = /^(上午|下午|AM|PM)\s*/i.exec(s) ?? null;
  const ampmAfter = /\s*(AM|PM)$/i.exec(s);
  if (ampm) {
    shift = /下午|PM/i.test(ampm[1]) ? 12 : 0;
    s = s.slice(ampm[0].length);
  } else if (ampmAfter) {
    shift = /PM/i.test(ampmAfter[1]) ? 12 : 0;
    s = s.slice(0, -ampmAfter[0].length);
  }
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/.exec(s) ?? /^(\d{2})(\d{2})(\d{2})?$/.exec(s) ?? /^(\d{1,2})時(\d{1,2})分(?:(\d{1,2})秒)?$/.exec(s);
  if (!m) return null;
  let h = Number(m[1]);
  const min = Number(m[2]);
  const sec = m[3] ? Number(m[3]) : 0;
  if (ampm || ampmAfter) {
    if (h < 1 || h > 12) return null;
    h = (h % 12) + shift;
  }
  if (h > 23 || min > 59 || sec > 59) return null;
  return h * 3600 + min * 60 + sec;
}

/** A date cell read: its day and, when the cell carries one, its time (seconds after midnight). */
export function parseDateCell(c: Cell, style: DateStyle): { day: string; seconds: number | null } | null {
  if (c.kind === 'date') {
    // A real date from a spreadsheet: its wall-clock parts, whatever the mapping's style.
    const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(c.text);
    if (!m || !isIsoDate(m[1])) return null;
    const secs = Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
    return { day: m[1], seconds: secs === 0 ? null : secs };
  }
  const s = cellForm(c.text);
  const whole = parseDay(s, style);
  if (whole) return { day: whole, seconds: null };
  // A date and a time in one cell: '1131203 140522', '113/12/03 14:05', '2024-12-03T14:05:22'.
  const split = /^(\S+?)(?:\s+|T)(.+)$/.exec(s);
  if (!split) return null;
  const d = parseDay(split[1], style);
  const t = parseTime(split[2]);
  return d && t != null ? { day: d, seconds: t } : null;
}

/** A time cell read: seconds after midnight (an xlsx time is a date on 1899-12-30). */
export function parseTimeCell(c: Cell): number | null {
  if (c.kind === 'date') {
    const m = /^\d{4}-\d{2}-\d{2} (\d{2}):(\d{2}):(\d{2})$/.exec(c.text);
    return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : null;
  }
  const s = cellForm(c.text);
  // A bare day fraction, as a spreadsheet time without its format (0.5868… = 14:05:00).
  if (/^0?\.\d+$/.test(s)) {
    const secs = Math.round(Number(s) * 86400);
    return secs < 86400 ? secs : null;
  }
  return parseTime(s);
}

const DATE_EXAMPLES: Record<DateStyle, string> = { 'roc-compact': '1131203', 'roc-slash': '113/12/03', ad: '2024-12-03' };

// ---------------------------------------------------------------------------------------------
// Subjects and counts

/**
 * A subject identifier from a source file: a national ID or a resident certificate number (the
 * type read from its shape), with its checksum. The value is never echoed in a message.
 */
export function idSubject(text: string): { subject: Subject } | { problem: string } {
  const v = cellForm(text).toUpperCase();
  if (!v) return { problem: '未填被查詢者身分證號' };
  let type: SubjectType;
  if (/^[A-Z][12]\d{8}$/.test(v)) type = 'national-id';
  else if (/^[A-Z][89A-D]\d{8}$/.test(v)) type = 'resident-certificate';
  else return { problem: '不是身分證統一編號或居留證統一證號的格式（1 個英文字母加 9 位數字，或舊式居留證 2 個英文字母加 8 位數字）' };
  const p = subjectProblem({ type, value: v });
  return p ? { problem: p } : { subject: { type, value: v } };
}

export function parseCount(text: string): number | null {
  const s = cellForm(text).replace(/,/g, '');
  if (!/^\d{1,9}$/.test(s)) return null;
  return Number(s);
}

// ---------------------------------------------------------------------------------------------
// Mappings

export interface FieldProblem { field: string; message: string }

/** What is wrong with a mapping for a source of this kind (field names as in the API: columns.account …). */
export function mappingProblems(m: { columns: Partial<Record<ColumnKey, string | null | undefined>>; encoding: string; dateStyle: string; headerRow: number }, kind: SourceKind): FieldProblem[] {
  const out: FieldProblem[] = [];
  const name = (k: ColumnKey): string => (m.columns[k] ?? '').trim();
  for (const k of COLUMN_KEYS) {
    const v = name(k);
    if (!v) continue;
    if ([...v].length > 64) out.push({ field: `columns.${k}`, message: `${COLUMN_LABELS[k]}欄的欄名最多 64 字` });
    const tp = textProblem(v);
    if (tp) out.push({ field: `columns.${k}`, message: `${COLUMN_LABELS[k]}欄的欄名${tp}` });
  }
  if (!name('account')) out.push({ field: 'columns.account', message: '請填帳號欄的欄名（檔案標題列上的名稱）' });
  if (!name('date')) out.push({ field: 'columns.date', message: '請填日期欄的欄名' });
  if (kind === 'records') {
    if (!name('subject')) out.push({ field: 'columns.subject', message: '逐筆紀錄須有被查詢者身分證號欄' });
    if (name('count')) out.push({ field: 'columns.count', message: '逐筆紀錄不取筆數欄，請留空' });
  } else {
    if (!name('count')) out.push({ field: 'columns.count', message: '每日筆數來源須有查詢筆數欄' });
    if (name('subject')) out.push({ field: 'columns.subject', message: '每日筆數來源沒有被查詢者，請留空' });
  }
  // One file column per meaning; the date and the time may share one ("113/12/03 14:05:22").
  const seen = new Map<string, ColumnKey>();
  for (const k of COLUMN_KEYS) {
    const v = cellForm(name(k));
    if (!v) continue;
    const other = seen.get(v);
    if (other && !(other === 'date' && k === 'time')) out.push({ field: `columns.${k}`, message: `與${COLUMN_LABELS[other]}欄同名，一欄只能對應一種資料` });
    else seen.set(v, k);
  }
  if (!(ENCODINGS as readonly string[]).includes(m.encoding)) out.push({ field: 'encoding', message: '編碼須為 utf-8 或 big5' });
  if (!(DATE_STYLES as readonly string[]).includes(m.dateStyle)) out.push({ field: 'dateStyle', message: '日期格式須為 roc-compact、roc-slash 或 ad' });
  if (!Number.isInteger(m.headerRow) || m.headerRow < 1 || m.headerRow > 50) out.push({ field: 'headerRow', message: '標題列須為第 1 至 50 列' });
  return out;
}

/** The mapping's columns as stored: trimmed names, blanks left out. */
export function cleanColumns(columns: Partial<Record<ColumnKey, string | null | undefined>>): MappingColumns {
  const out: Record<string, string> = {};
  for (const k of COLUMN_KEYS) {
    const v = (columns[k] ?? '').trim();
    if (v) out[k] = v;
  }
  return out as MappingColumns;
}

// ---------------------------------------------------------------------------------------------
// Periods

/** 'YYYY-MM' from '2024-12', '113/12', '113-12', '民國113年12月' (full-width digits too); null when it does not read. */
export const parsePeriod = (input: string): string | null => parseRocMonth(cellForm(input));

/** Why a period cannot be imported (a month not yet begun), or null. */
export function periodProblem(period: string, at: number): string | null {
  if (!isMonth(period)) return '期間格式應為 YYYY-MM（或民國年/月，如 113/12）';
  if (period > localMonth(at)) return '匯入期間不可晚於本月';
  return null;
}

const rocMonthText = (period: string) => `民國 ${Number(period.slice(0, 4)) - 1911} 年 ${Number(period.slice(5, 7))} 月`;
const rocDayText = (d: string) => `${Number(d.slice(0, 4)) - 1911}/${d.slice(5, 7)}/${d.slice(8, 10)}`;

// ---------------------------------------------------------------------------------------------
// Reading a table into records

export interface ReadOptions {
  /** The import's period 'YYYY-MM'; null for a preview without one. */
  period: string | null;
  now: number;
  /** Rows to read (a preview stops early); default all. */
  limit?: number;
  maxErrors?: number;
}

export interface ReadResult {
  records: ParsedRecord[];
  /** Data rows in the file (blank rows left out). */
  rows: number;
  errors: RowError[];
  /** Every error found, including those beyond the listed ones. */
  errorCount: number;
  /** The header's column names as read. */
  header: string[];
}

/** Excel's column letters for a 0-based index (A, B, … Z, AA …), for cells beyond the header. */
export function columnLetter(i: number): string {
  let s = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

/**
 * Reads a table (file rows with their cells) with a mapping: finds the mapped columns on the header
 * row, then reads each data row, naming row, column and reason for every refused cell. Counts are
 * summed per account and day (one record each). Nothing here touches keys or the database.
 */
export function readRecords(table: TableRow[], m: Mapping, kind: SourceKind, opts: ReadOptions): ReadResult {
  const maxErrors = opts.maxErrors ?? MAX_ERRORS_LISTED;
  const errors: RowError[] = [];
  let errorCount = 0;
  const fail = (row: number | null, column: string | null, message: string) => {
    errorCount++;
    if (errors.length < maxErrors) errors.push({ row, column, message });
  };
  const result = (records: ParsedRecord[], rows: number, header: string[]): ReadResult => ({ records, rows, errors, errorCount, header });

  const headerRow = table.find((r) => r.row === m.headerRow);
  if (!headerRow) {
    fail(m.headerRow, null, table.length ? `找不到標題列：對應設定的標題列是第 ${m.headerRow} 列，檔案沒有這一列` : '檔案沒有任何資料');
    return result([], 0, []);
  }
  const header = headerRow.cells.map((c) => cellForm(c.text));
  headerRow.cells.forEach((c, i) => {
    const fp = formulaProblem(c);
    if (fp) fail(m.headerRow, header[i] || columnLetter(i), fp);
  });
  const index: Partial<Record<ColumnKey, number>> = {};
  for (const k of COLUMN_KEYS) {
    const name = m.columns[k];
    if (!name) continue;
    const want = cellForm(name);
    const at = header.flatMap((h, i) => (h === want ? [i] : []));
    if (!at.length) fail(m.headerRow, name, `找不到「${name}」欄（對應設定的${COLUMN_LABELS[k]}欄）；標題列的欄位是：${header.filter(Boolean).join('、') || '（空白）'}`);
    else if (at.length > 1) fail(m.headerRow, name, `標題列有 ${at.length} 個「${name}」欄，無法判斷${COLUMN_LABELS[k]}是哪一欄`);
    else index[k] = at[0];
  }
  if (errorCount) return result([], 0, header);

  const nameOf = (i: number) => header[i] || columnLetter(i);
  const cell = (r: TableRow, k: ColumnKey): Cell | null => (index[k] === undefined ? null : r.cells[index[k]!] ?? { text: '', kind: 'text' });
  const records: ParsedRecord[] = [];
  let rows = 0;
  const combined = m.columns.time != null && cellForm(m.columns.time) === cellForm(m.columns.date);
  for (const r of table) {
    if (r.row <= m.headerRow) continue;
    if (r.cells.every((c) => c.kind === 'text' && cellForm(c.text) === '')) continue;
    if (opts.limit !== undefined && rows >= opts.limit) break;
    rows++;
    let bad = false;
    const refuse = (column: string, message: string) => {
      bad = true;
      fail(r.row, column, message);
    };
    r.cells.forEach((c, i) => {
      const fp = formulaProblem(c);
      if (fp) refuse(nameOf(i), fp);
    });
    for (const k of COLUMN_KEYS) {
      const c = cell(r, k);
      if (!c || c.kind !== 'text') continue;
      const tp = textProblem(c.text);
      if (tp) refuse(nameOf(index[k]!), `內容${tp}`);
    }
    if (bad) continue;

    const accountCell = cell(r, 'account')!;
    const account = cellForm(accountCell.text);
    if (!account) refuse(nameOf(index.account!), '未填帳號');
    else if ([...account].length > 64) refuse(nameOf(index.account!), '帳號超過 64 字');

    const dateCell = cell(r, 'date')!;
    const dated = cellForm(dateCell.text) === '' ? null : parseDateCell(dateCell, m.dateStyle);
    let seconds: number | null = dated?.seconds ?? null;
    if (cellForm(dateCell.text) === '') refuse(nameOf(index.date!), '未填日期');
    else if (!dated) refuse(nameOf(index.date!), `日期無法辨識（對應設定為${DATE_STYLE_LABELS[m.dateStyle]}，例：${DATE_EXAMPLES[m.dateStyle]}）`);
    else if (opts.period && dated.day.slice(0, 7) !== opts.period) refuse(nameOf(index.date!), `日期 ${rocDayText(dated.day)} 不在匯入期間（${rocMonthText(opts.period)}）內`);

    if (kind === 'records' && index.time !== undefined && !combined) {
      const tc = cell(r, 'time')!;
      if (cellForm(tc.text) === '') refuse(nameOf(index.time), '未填時間');
      else {
        const t = parseTimeCell(tc);
        if (t == null) refuse(nameOf(index.time), '時間無法辨識（例：14:05、14:05:22 或 140522）');
        else seconds = t;
      }
    } else if (kind === 'records' && dated && seconds == null && (combined || index.time === undefined)) {
      // Without a time column the date cell must carry the time; midnight exactly reads as none.
      if (!(dateCell.kind === 'date' && combined)) refuse(nameOf(index.date!), '缺少查詢時間：對應設定沒有時間欄，日期欄須含時間（例：113/12/03 14:05:22）');
      else seconds = 0;
    }

    let subject: Subject | null = null;
    if (kind === 'records') {
      const sc = cell(r, 'subject')!;
      const s = idSubject(sc.text);
      if ('problem' in s) refuse(nameOf(index.subject!), s.problem);
      else subject = s.subject;
    }

    let opCode: string | null = null;
    const oc = cell(r, 'opCode');
    if (oc) {
      const v = cellForm(oc.text).toUpperCase();
      if ([...v].length > 16) refuse(nameOf(index.opCode!), '查詢作業代號超過 16 字');
      else opCode = v || null;
    }

    let count: number | null = null;
    if (kind === 'counts') {
      const cc = cell(r, 'count')!;
      count = parseCount(cc.text);
      if (count == null) refuse(nameOf(index.count!), cellForm(cc.text) === '' ? '未填查詢筆數' : '查詢筆數須為 0 以上的整數');
    }

    if (bad || !dated) continue;
    const occurredAt = startOfLocalDay(dated.day) + (kind === 'records' ? (seconds ?? 0) * 1000 : 0);
    if (occurredAt > opts.now) {
      fail(r.row, nameOf(index.date!), `日期時間 ${rocDayText(dated.day)} 晚於現在`);
      continue;
    }
    records.push({ row: r.row, account, day: dated.day, occurredAt, subject, opCode, count });
  }
  if (!rows && !errorCount) fail(m.headerRow + 1, null, '檔案只有標題列，沒有資料列');
  return result(kind === 'counts' ? sumCounts(records) : records, rows, header);
}

/** Counts per account and Taipei day: one record each (the first row's number), op code kept when all agree. */
export function sumCounts(records: ParsedRecord[]): ParsedRecord[] {
  const out = new Map<string, ParsedRecord>();
  for (const r of records) {
    const k = `${r.account}\u0000${r.day}`;
    const had = out.get(k);
    if (!had) out.set(k, { ...r });
    else {
      had.count = (had.count ?? 0) + (r.count ?? 0);
      if (had.opCode !== r.opCode) had.opCode = null;
    }
  }
  return [...out.values()];
}

// ---------------------------------------------------------------------------------------------
// Protection at rest

/**
 * The associated data of a source record's subject ciphertext: its import, its row and whom (the
 * HMAC). A ciphertext copied to another record no longer opens (as entryAad does for the log).
 */
export const sourceRecordAad = (r: { import_id: number | string; row_no: number | string; subject_type: string; subject_hmac: string }): string =>
  JSON.stringify(['source_records', Number(r.import_id), Number(r.row_no), r.subject_type, r.subject_hmac]);

/** A source account as it may appear in an event (it may be a person's ID at some sources): first two characters. */
export const maskAccount = (a: string): string => {
  const chars = [...a];
  return chars.length <= 2 ? '**' : `${chars.slice(0, 2).join('')}${'*'.repeat(Math.min(6, chars.length - 2))}`;
};

// ---------------------------------------------------------------------------------------------
// Reach

export interface ReconcileReach {
  /** The whole county, to read (the planning department's admins, auditors and ethics). */
  countyRead: boolean;
  /** The whole county, to manage (the planning department's admins). */
  countyManage: boolean;
  /** Agencies whose sources and imports the person reads. */
  read: Set<number>;
  /** Agencies whose sources, links and imports the person manages. */
  manage: Set<number>;
}

/**
 * Need to know (accounts/reach.ts), applied to reconciliation: the planning department's admins
 * manage every agency's sources and imports and the county-wide sources; an admin of an agency (not
 * of a subordinate unit: it has no source of its own) manages its own agency; auditors and ethics
 * staff read what their office reaches.
 */
export function reconcileReach(units: UnitRow[], actor: { unitId: number; roles: readonly string[] }): ReconcileReach {
  const agencies = units.filter((u) => u.kind === 'agency').map((u) => Number(u.id));
  const out: ReconcileReach = { countyRead: false, countyManage: false, read: new Set(), manage: new Set() };
  const own = units.find((u) => Number(u.id) === Number(actor.unitId));
  const r = reachOf(units, { unitId: actor.unitId, roles: actor.roles.filter((x) => x === 'planning_admin') });
  if (actor.roles.includes('planning_admin') && r.countyWide) {
    out.countyManage = out.countyRead = true;
    for (const a of agencies) {
      out.manage.add(a);
      out.read.add(a);
    }
  }
  if (actor.roles.includes('admin') && own?.kind === 'agency') {
    out.manage.add(Number(own.id));
    out.read.add(Number(own.id));
  }
  const oversight = actor.roles.filter((x) => x === 'auditor' || x === 'ethics');
  if (oversight.length) {
    const o = reachOf(units, { unitId: actor.unitId, roles: oversight });
    if (o.countyWide) out.countyRead = true;
    for (const id of o.unitIds) if (agencies.includes(id)) out.read.add(id);
    const a = agencyIn(units, Number(actor.unitId));
    if (a && o.unitIds.includes(Number(a.id))) out.read.add(Number(a.id));
  }
  return out;
}

/** Whether the person reads a source (county-wide: anyone who reads anything; else its agency). */
export const readsSource = (r: ReconcileReach, s: { unit_id: number | null }): boolean =>
  s.unit_id == null ? r.read.size > 0 || r.countyRead : r.read.has(Number(s.unit_id));
/** Whether the person defines a source's mapping and settings (county-wide: the planning department only). */
export const managesSource = (r: ReconcileReach, s: { unit_id: number | null }): boolean =>
  s.unit_id == null ? r.countyManage : r.manage.has(Number(s.unit_id));
/** Whether a source may be used for an import into the agency: county-wide, or the agency's own. */
export const sourceServes = (s: { unit_id: number | null }, agencyId: number): boolean => s.unit_id == null || Number(s.unit_id) === Number(agencyId);
