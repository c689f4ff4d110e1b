// The monthly query record sheet (查詢紀錄單, clause 5(一)): an agency's entries for the month,
// the sampled ones marked, subjects masked; printed as A4 HTML or written as xlsx (streaming).
import type { Conn } from '../server/db.ts';
import { allUnits, subtreeOf, unitByCode, agencyIn, type UnitRow } from '../server/accounts/units.ts';
import { publishedKey, signHead, type CheckpointSettings } from '../server/queries/checkpoints.ts';
import { isMonth, localMonth, monthRange, now, rocDateTime, rocMonth } from '../server/time.ts';
import { basisLabel, VERDICT_LABELS, type Verdict } from '../server/checks/rules.ts';
import { sourceRecordsByIds } from '../server/checks/unlogged.ts';
import { BOLD_FONT, addInertRow, printSetup, setInert, streamingWorkbook, wrapCells, yieldToWriter, type WorkbookFormat } from './cells.ts';

export interface SheetRow {
  no: number;
  id: number;
  queriedAt: number;
  account: string;
  unit: string;
  opCode: string;
  scope: string;
  caseNo: string;
  reason: string;
  subject: string;
  mark: string; // '抽' random, '風' flagged only, '' not sampled
  basis: string;
  verdict: string;
}

export interface SheetHeader {
  agency: UnitRow;
  month: string;
  check: { id: number; generation: number; seed: string; populationDigest: string; population: number; sampleSize: number; status: string; checker: string | null; signedOffAt: number | null } | null;
  head: { seq: number; hash: string };
  /** The checkpoint signing key's public half as printed (null: checkpoints unsigned). */
  publicKey?: { spki: string; keyId: string } | null;
  printedAt: number;
}

export class SheetInputError extends Error {
  constructor(public readonly field: 'month' | 'unit', message: string) {
    super(message);
  }
}

/** Validates month and unit; the unit may be a subordinate unit — the sheet is its agency's. */
/** The head printed on the sheet is recorded as a checkpoint (signed with `checkpoints`' key when one is set). */
export async function sheetHeader(conn: Conn, unitCode: string, month: string, checkpoints: CheckpointSettings = {}): Promise<SheetHeader> {
  if (!isMonth(month)) throw new SheetInputError('month', `month ${month}: expected YYYY-MM`);
  if (month > localMonth(now())) throw new SheetInputError('month', `month ${month} is in the future`);
  const unit = await unitByCode(conn, unitCode);
  if (!unit) throw new SheetInputError('unit', `unknown unit ${unitCode}`);
  const units = await allUnits(conn);
  const agency = agencyIn(units, unit.id);
  if (!agency) throw new SheetInputError('unit', `unit ${unitCode} belongs to no agency`);
  const c = await conn('checks as c').leftJoin('users as k', 'k.id', 'c.checker_id').where({ 'c.unit_id': agency.id, 'c.period': month })
    .orderBy('c.generation', 'desc').first('c.*', 'k.account as checker_account');
  return {
    agency, month, head: await signHead(conn, checkpoints), publicKey: publishedKey(checkpoints), printedAt: now(),
    check: c ? { id: Number(c.id), generation: Number(c.generation), seed: c.seed, populationDigest: c.population_digest, population: Number(c.population), sampleSize: Number(c.sample_size), status: c.status, checker: c.checker_account ?? null, signedOffAt: c.signed_off_at == null ? null : Number(c.signed_off_at) } : null,
  };
}

/** The month's entries of the agency and its units in seq order, paged by key, with marks. */
export async function* sheetRows(conn: Conn, h: SheetHeader, pageSize = 2000): AsyncGenerator<SheetRow[]> {
  const units = await allUnits(conn);
  const ids = subtreeOf(units, h.agency.id);
  const names = new Map(units.map((u) => [u.id, u.name]));
  const marks = new Map<number, { basis: string; verdict: string | null }>();
  if (h.check) {
    const items = await conn('check_items').where({ check_id: h.check.id }).select('entry_id', 'basis', 'verdict');
    for (const i of items) marks.set(Number(i.entry_id), { basis: i.basis, verdict: i.verdict });
  }
  const [start, end] = monthRange(h.month);
  let last = 0;
  let no = 0;
  for (;;) {
    const rows = await conn('query_logs').whereIn('unit_id', ids).andWhere('queried_at', '>=', start).andWhere('queried_at', '<', end).andWhere('seq', '>', last)
      .orderBy('seq').limit(pageSize).select('id', 'seq', 'account', 'unit_id', 'queried_at', 'op_code', 'scope_code', 'case_no', 'reason', 'subject_mask');
    if (!rows.length) return;
    yield rows.map((r: any) => {
      const m = marks.get(Number(r.id));
      return {
        no: ++no, id: Number(r.id), queriedAt: Number(r.queried_at), account: r.account, unit: names.get(Number(r.unit_id)) ?? '', opCode: r.op_code, scope: r.scope_code,
        caseNo: r.case_no, reason: r.reason, subject: r.subject_mask, mark: m ? (m.basis === 'random' ? '抽' : '風') : '', basis: m ? basisLabel(m.basis) : '',
        verdict: m?.verdict ? VERDICT_LABELS[m.verdict as Verdict] ?? m.verdict : '',
      };
    });
    last = Number(rows[rows.length - 1].seq);
    if (rows.length < pageSize) return;
  }
}

/** An unlogged query of the month's check (issue 16): the source recorded it, the log has no entry. */
export interface UnloggedRow { sourceRecordId: number; occurredAt: number; account: string; source: string; opCode: string; subject: string; verdict: string; lateEntryId: number | null }

/** The check's unlogged items with their source records (masked subjects), in record order. */
export async function unloggedRows(conn: Conn, h: SheetHeader): Promise<UnloggedRow[]> {
  if (!h.check) return [];
  const items: any[] = await conn('check_items').where({ check_id: h.check.id }).whereNull('entry_id').whereNotNull('source_record_id').orderBy('source_record_id').select('source_record_id', 'verdict');
  if (!items.length) return [];
  const records = await sourceRecordsByIds(conn, items.map((i) => Number(i.source_record_id)));
  return items.map((i) => {
    const r = records.get(Number(i.source_record_id)) ?? {};
    return {
      sourceRecordId: Number(i.source_record_id), occurredAt: Number(r.occurred_at ?? 0), account: r.account ?? r.source_account ?? '', source: r.source_name ?? '', opCode: r.op_code ?? '',
      subject: r.subject_mask ?? '', verdict: i.verdict ? VERDICT_LABELS[i.verdict as Verdict] ?? i.verdict : '', lateEntryId: r.late_entry_id == null ? null : Number(r.late_entry_id),
    };
  });
}
export const UNLOGGED_COLUMNS: Array<{ header: string; width: number }> = [
  { header: '來源紀錄編號', width: 12 }, { header: '來源系統查詢時間', width: 17 }, { header: '帳號', width: 14 }, { header: '來源', width: 20 },
  { header: '查詢作業代號', width: 12 }, { header: '被查詢者查詢條件（遮罩）', width: 22 }, { header: '查核結果', width: 10 }, { header: '補登之查詢日誌編號', width: 14 },
];
export const unloggedValues = (r: UnloggedRow): unknown[] => [r.sourceRecordId, rocDateTime(r.occurredAt), r.account, r.source, r.opCode, r.subject, r.verdict, r.lateEntryId ?? ''];

export const SHEET_COLUMNS: Array<{ header: string; width: number }> = [
  { header: '序號', width: 7 }, { header: '查詢日期時間', width: 17 }, { header: '帳號', width: 14 }, { header: '單位', width: 18 },
  { header: '查詢作業代號', width: 12 }, { header: '業務範圍', width: 10 }, { header: '案號', width: 18 }, { header: '查詢事由', width: 32 },
  { header: '被查詢者查詢條件（遮罩）', width: 22 }, { header: '抽查', width: 6 }, { header: '抽查依據', width: 26 }, { header: '查核結果', width: 10 },
  { header: '查詢日誌編號', width: 12 },
];
/** The 查詢事由 column: wrapped, so a reason with line breaks (or a long one) shows whole. */
export const REASON_COLUMN = SHEET_COLUMNS.findIndex((c) => c.header === '查詢事由') + 1;
export const rowValues = (r: SheetRow): unknown[] => [r.no, rocDateTime(r.queriedAt), r.account, r.unit, r.opCode, r.scope, r.caseNo, r.reason, r.subject, r.mark, r.basis, r.verdict, r.id];

/**
 * Writes the sheet as xlsx to a file or stream with exceljs's streaming writer: A4 landscape, one
 * page wide, the header row on every page, sampled rows bold (in the same font family as the
 * others), the reason wrapped.
 */
export async function writeMonthlySheetXlsx(conn: Conn, h: SheetHeader, target: { filename: string } | { stream: NodeJS.WritableStream }, format: WorkbookFormat = 'xlsx'): Promise<{ rows: number }> {
  const wb = streamingWorkbook(target, format);
  wb.creator = 'NHI Query Audit';
  const ws = wb.addWorksheet('查詢紀錄單', { views: [{ state: 'frozen', ySplit: 1 }], ...printSetup('landscape') });
  ws.columns = SHEET_COLUMNS.map((c) => ({ width: c.width }));
  const header = addInertRow(ws, SHEET_COLUMNS.map((c) => c.header));
  header.font = BOLD_FONT;
  wrapCells(header, SHEET_COLUMNS, SHEET_COLUMNS.map((_c, i) => i + 1));
  header.commit();
  let n = 0;
  for await (const page of sheetRows(conn, h)) {
    for (const r of page) {
      const row = addInertRow(ws, rowValues(r));
      if (r.mark) row.font = BOLD_FONT;
      wrapCells(row, SHEET_COLUMNS, [REASON_COLUMN]); // a row it grows is aligned to the top
      row.commit();
      if (++n % 1000 === 0) await yieldToWriter(ws);
    }
  }
  ws.commit();
  // Unlogged queries found by reconciliation: in the check, not in the log (so not rows above).
  const unlogged = await unloggedRows(conn, h);
  if (unlogged.length) {
    const us = wb.addWorksheet('未登錄查詢', { views: [{ state: 'frozen', ySplit: 1 }], ...printSetup('landscape') });
    us.columns = UNLOGGED_COLUMNS.map((c) => ({ width: c.width }));
    const uh = addInertRow(us, UNLOGGED_COLUMNS.map((c) => c.header));
    uh.font = BOLD_FONT;
    uh.commit();
    for (const r of unlogged) addInertRow(us, unloggedValues(r)).commit();
    us.commit();
  }
  const info = wb.addWorksheet('說明', printSetup('portrait', false));
  info.columns = [{ width: 22 }, { width: 80 }];
  const meta: Array<[string, unknown]> = [
    ['機關', `${h.agency.name}（${h.agency.code}）`], ['月份', rocMonth(h.month)], ['查詢筆數', n],
    ['抽查筆數（隨機）', h.check?.sampleSize ?? 0], ['抽樣種子', h.check?.seed ?? '尚未抽樣'], ['母體摘要 SHA-256', h.check?.populationDigest ?? ''],
    ['查核狀態', h.check ? (h.check.status === 'signed-off' ? '已簽核' : h.check.status === 'open' ? '查核中' : '已取代') : '尚未抽樣'],
    ['查核人員', h.check?.checker ?? ''], ['日誌鏈首（列印時）', `seq ${h.head.seq} · ${h.head.hash}`],
    ['檢查點簽章公鑰（Ed25519，SPKI Base64）', h.publicKey ? `${h.publicKey.spki}（指紋 SHA-256 ${h.publicKey.keyId}）` : '未設定：檢查點未簽章'], ['列印時間', rocDateTime(h.printedAt)],
    ['未登錄查詢（對帳）', unlogged.length],
    ['標記說明', '抽＝隨機抽樣；風＝風險註記加抽（不取代隨機抽樣）；未登錄查詢另列於「未登錄查詢」工作表'],
  ];
  for (const [k, v] of meta) addInertRow(info, [k, v]).commit();
  const sign = addInertRow(info, ['查核人員簽章', '']);
  sign.commit();
  addInertRow(info, ['單位主管簽章', '']).commit();
  info.commit();
  await wb.commit();
  return { rows: n };
}

/** Rows grouped into printed A4 pages, each page numbered (第 x 頁／共 y 頁). */
export async function sheetPages(conn: Conn, h: SheetHeader, perPage = 22): Promise<{ pages: SheetRow[][]; total: number; sampled: number }> {
  const all: SheetRow[] = [];
  for await (const page of sheetRows(conn, h)) all.push(...page);
  const pages: SheetRow[][] = [];
  for (let i = 0; i < all.length; i += perPage) pages.push(all.slice(i, i + perPage));
  if (!pages.length) pages.push([]);
  return { pages, total: all.length, sampled: all.filter((r) => r.mark).length };
}

export { setInert };
