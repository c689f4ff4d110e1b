// A source file's bytes as a table of cells: CSV in UTF-8 (with or without BOM) or Big5/CP950,
// decoded by iconv-lite and split by csv-parse, or the first sheet of an xlsx read by exceljs.
// Each cell is decoded apart, so a byte sequence the mapping's encoding cannot read is named by its
// row and column. No keys, no database.
import { Readable } from 'node:stream';
import { isUtf8 } from 'node:buffer';
import { parse as parseCsv } from 'csv-parse/sync';
import iconv from 'iconv-lite';
import ExcelJS from 'exceljs';
import { cellForm, columnLetter, type Cell, type Encoding, type RowError, type TableRow } from './rules.ts';

export type FileFormat = 'csv' | 'xlsx';
export interface Table { format: FileFormat; rows: TableRow[]; errors: RowError[] }

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const startsWith = (b: Buffer, sig: number[]) => sig.every((x, i) => b[i] === x);
const hasHighByte = (b: Buffer) => b.some((x) => x >= 0x80);

/** How the file is stored, from its first bytes (not its name). */
export function formatOf(bytes: Buffer): FileFormat | 'xls' | 'utf-16' {
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return 'xlsx';
  if (startsWith(bytes, [0xd0, 0xcf, 0x11, 0xe0])) return 'xls';
  if (startsWith(bytes, [0xff, 0xfe]) || startsWith(bytes, [0xfe, 0xff])) return 'utf-16';
  return 'csv';
}

const fileError = (message: string): Table => ({ format: 'csv', rows: [], errors: [{ row: null, column: null, message }] });

/** Reads the file's cells. `headerRow` only names columns in decoding errors. */
export async function readTable(bytes: Buffer, encoding: Encoding, headerRow = 1): Promise<Table> {
  if (bytes.length === 0) return fileError('檔案是空的（0 位元組），沒有任何資料');
  const format = formatOf(bytes);
  if (format === 'xls') return fileError('不支援舊版 Excel 檔（.xls），請另存為 Excel 活頁簿（.xlsx）或 CSV 後再匯入');
  if (format === 'utf-16') return fileError('檔案是 UTF-16（Unicode 文字）編碼，請另存為 UTF-8 或 Big5 的 CSV 後再匯入');
  if (format === 'xlsx') return readXlsx(bytes);
  return readCsv(bytes, encoding, headerRow);
}

const CSV_ERRORS: Record<string, string> = {
  CSV_QUOTE_NOT_CLOSED: '雙引號沒有成對結束',
  CSV_INVALID_CLOSING_QUOTE: '雙引號之後緊接了其他字元',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: '雙引號之後緊接了其他字元',
  CSV_RECORD_INCONSISTENT_FIELDS_LENGTH: '欄數與標題列不同',
  CSV_MAX_RECORD_SIZE: '一列的內容過長',
};

function readCsv(bytes: Buffer, encoding: Encoding, headerRow: number): Table {
  const bom = startsWith(bytes, [...UTF8_BOM]);
  const body = bom ? bytes.subarray(3) : bytes;
  if (!body.some((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d)) return fileError('檔案是空的（只有空白或換行），沒有任何資料');
  let raw: Array<{ record: Buffer[]; info: { records: number } }>;
  try {
    // Split on bytes: the CSV delimiters (comma, quote, CR, LF) never occur inside a Big5 or UTF-8 character.
    raw = parseCsv(body, { encoding: null as unknown as BufferEncoding, relax_column_count: true, skip_empty_lines: false, info: true, max_record_size: 1 << 20 }) as never;
  } catch (e) {
    const err = e as { code?: string; lines?: number; records?: number };
    const row = err.records != null ? err.records + 1 : err.lines ?? null;
    return { format: 'csv', rows: [], errors: [{ row, column: null, message: `CSV 格式錯誤：${CSV_ERRORS[err.code ?? ''] ?? '無法解析'}（約在第 ${err.lines ?? '?'} 行）` }] };
  }
  const errors: RowError[] = [];
  let undecodable = 0;
  const MAX_DECODE_ERRORS = 5;

  // A Big5 mapping given a UTF-8 file: every byte reads, as the wrong characters. A UTF-8 BOM, or a
  // whole file that is valid UTF-8 with characters beyond ASCII, says so (Big5 text almost never is).
  if (encoding === 'big5' && (bom || (isUtf8(body) && hasHighByte(body)))) {
    const at = firstHighField(raw);
    return { format: 'csv', rows: [], errors: [{ row: bom ? 1 : at?.row ?? 1, column: at ? `第 ${at.col + 1} 欄（${columnLetter(at.col)}）` : null, message: '這是 UTF-8 編碼的文字，但對應設定的編碼為 Big5（CP950）；請將對應設定改為 UTF-8，或將檔案另存為 Big5 後再匯入' }] };
  }
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const decode = (b: Buffer): string | null => {
    if (!hasHighByte(b)) return b.toString('latin1');
    if (encoding === 'utf-8') {
      try {
        return utf8.decode(b);
      } catch {
        return null;
      }
    }
    const s = iconv.decode(b, 'cp950');
    return s.includes('\ufffd') ? null : s;
  };
  let header: string[] = [];
  const rows: TableRow[] = [];
  for (const { record, info } of raw) {
    const row = info.records;
    const cells: Cell[] = record.map((b, i) => {
      const text = decode(b);
      if (text == null) {
        undecodable++;
        if (undecodable <= MAX_DECODE_ERRORS) {
          const name = header[i] ? `${header[i]}` : `第 ${i + 1} 欄（${columnLetter(i)}）`;
          errors.push({ row, column: name, message: encoding === 'utf-8' ? '不是有效的 UTF-8 文字（檔案可能是 Big5 編碼；請確認對應設定的編碼）' : '含 Big5（CP950）無法解讀的位元組（檔案可能是其他編碼；請確認對應設定的編碼）' });
        }
        return { text: '', kind: 'text' as const };
      }
      return { text, kind: 'text' as const };
    });
    if (row === headerRow) header = cells.map((c) => cellForm(c.text));
    rows.push({ row, cells });
  }
  if (undecodable > MAX_DECODE_ERRORS) errors.push({ row: null, column: null, message: `共有 ${undecodable} 格無法以對應設定的編碼（${encoding === 'utf-8' ? 'UTF-8' : 'Big5'}）解讀：整個檔案可能是另一種編碼` });
  return { format: 'csv', rows, errors };
}

function firstHighField(raw: Array<{ record: Buffer[]; info: { records: number } }>): { row: number; col: number } | null {
  for (const { record, info } of raw) {
    const col = record.findIndex(hasHighByte);
    if (col >= 0) return { row: info.records, col };
  }
  return null;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** An xlsx cell value as a Cell: real dates keep their wall-clock parts; formulas are marked. */
export function xlsxCell(v: unknown): Cell {
  if (v == null) return { text: '', kind: 'text' };
  if (v instanceof Date) {
    // exceljs gives a spreadsheet date as UTC carrying the wall-clock time; round away float noise.
    const t = new Date(Math.round(v.getTime() / 1000) * 1000);
    if (Number.isNaN(t.getTime())) return { text: '', kind: 'text' };
    return { kind: 'date', text: `${pad(t.getUTCFullYear(), 4)}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())} ${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}` };
  }
  if (typeof v === 'string') return { text: v, kind: 'text' };
  if (typeof v === 'number') return { text: Number.isInteger(v) ? v.toFixed(0) : String(v), kind: 'text' };
  if (typeof v === 'boolean') return { text: v ? 'TRUE' : 'FALSE', kind: 'text' };
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('formula' in o || 'sharedFormula' in o) return { text: String(o.formula ?? o.sharedFormula ?? ''), kind: 'formula' };
    if (Array.isArray(o.richText)) return { text: (o.richText as Array<{ text?: string }>).map((r) => r.text ?? '').join(''), kind: 'text' };
    if ('text' in o) return xlsxCell(o.text);
    if ('error' in o) return { text: String(o.error), kind: 'text' };
  }
  return { text: String(v), kind: 'text' };
}

async function readXlsx(bytes: Buffer): Promise<Table> {
  const rows: TableRow[] = [];
  try {
    const reader = new ExcelJS.stream.xlsx.WorkbookReader(Readable.from([bytes]), { sharedStrings: 'cache', hyperlinks: 'ignore', styles: 'cache', worksheets: 'emit', entries: 'emit' });
    for await (const ws of reader) {
      for await (const row of ws) {
        const values = (row.values ?? []) as unknown[];
        const cells: Cell[] = [];
        for (let i = 1; i < values.length; i++) cells.push(xlsxCell(values[i]));
        rows.push({ row: row.number, cells });
      }
      break; // the first sheet only
    }
  } catch {
    return { format: 'xlsx', rows: [], errors: [{ row: null, column: null, message: '無法讀取 xlsx 檔：檔案損毀，或不是 Excel 活頁簿' }] };
  }
  if (!rows.length) return { format: 'xlsx', rows: [], errors: [{ row: null, column: null, message: '檔案是空的：第一個工作表沒有任何資料' }] };
  return { format: 'xlsx', rows, errors: [] };
}
