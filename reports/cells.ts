// Spreadsheet cells are inert: text that Excel or LibreOffice could read as a formula (starting
// with = + - @, tab or CR) is written as an inline rich-text string (t="inlineStr"), which no
// spreadsheet evaluates, and the value still shows exactly as typed.
//
// Also the print and style settings the workbooks share (A4, fit to one page wide, fonts named in
// full, wrapped text) and the streaming writer they are written with.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { OdsSheet, OdsWorkbook, cleanText } from './ods.ts';

const FORMULA_START = /^[=+\-@\t\r]/;

export const looksLikeFormula = (v: unknown): boolean => typeof v === 'string' && FORMULA_START.test(v);

/**
 * Sets a cell's value so it can never be evaluated: strings are stored as rich text (always a
 * string cell, never a formula), other values as they are.
 */
export function setInert(cell: ExcelJS.Cell, value: unknown): void {
  if (typeof value === 'string') value = cleanText(value);
  if (value === null || value === undefined) {
    cell.value = null;
  } else if (typeof value === 'string') {
    cell.value = looksLikeFormula(value) ? { richText: [{ text: value }] } : value;
  } else if (typeof value === 'number' || typeof value === 'boolean' || value instanceof Date) {
    cell.value = value;
  } else {
    cell.value = String(value);
  }
}

/** Adds a row of inert values to a worksheet (streaming or not) and returns it. */
export function addInertRow(ws: ExcelJS.Worksheet, values: unknown[]): ExcelJS.Row {
  const row = ws.addRow([]);
  values.forEach((v, i) => setInert(row.getCell(i + 1), v));
  return row;
}

/** Yields to the event loop: exceljs streaming writers grow memory in a tight loop (STACK.md). */
export const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Bytes of a streaming worksheet written but not yet taken by the zip (held in its pipes). */
export function pendingBytes(ws: ExcelJS.Worksheet): number {
  // The pipes are archiver's PassThroughs, from the readable-stream package (its own states).
  type State = { length?: number } | undefined;
  const pipes: Array<{ _writableState?: State; _readableState?: State }> = (ws as unknown as { _stream?: { pipes?: [] } })._stream?.pipes ?? [];
  let n = 0;
  for (const p of pipes) n += (p._writableState?.length ?? 0) + (p._readableState?.length ?? 0);
  return n;
}

export const PENDING_LIMIT = 8 * 1048576;

/**
 * Yields, then waits while the sheet has more than PENDING_LIMIT bytes the zip has not taken.
 * exceljs writes a sheet into a PassThrough without heeding backpressure: when rows come faster
 * than the compressor (or the file, or a slow HTTP client) takes them, they pile up in memory —
 * 900 MB for a million rows on an idle machine. Waiting here keeps memory flat. Only sheets the zip
 * has already reached or will reach (earlier sheets are ended) are waited on; a wait is bounded
 * (10 s at a time) so an unforeseen stall slows the export instead of hanging it.
 */
export async function yieldToWriter(ws: ExcelJS.Worksheet): Promise<void> {
  await yieldToLoop();
  if (ws instanceof OdsSheet) return ws.drain();
  const started = Date.now();
  while (pendingBytes(ws) > PENDING_LIMIT && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 2));
}

/** The text of a cell read back with exceljs (rich text joined), for checks and tests. */
export function cellText(value: unknown): string {
  if (value == null) return '';
  if (typeof value === 'object' && 'richText' in (value as object)) return (value as { richText: Array<{ text: string }> }).richText.map((r) => r.text).join('');
  return String(value);
}

// ---------------------------------------------------------------------------------------------
// Print setup and styles

/**
 * A4 (paperSize 9), scaled to one page wide and as many pages tall as it takes, the header row
 * (row 1) printed on every page unless `titles` is false, the sheet name and page number in the
 * footer. Narrow side margins: the wide sheets print at about half size as it is.
 */
export function printSetup(orientation: 'portrait' | 'landscape', titles = true): { pageSetup: Partial<ExcelJS.PageSetup>; headerFooter: Partial<ExcelJS.HeaderFooter> } {
  return {
    pageSetup: {
      paperSize: 9, orientation, fitToPage: true, fitToWidth: 1, fitToHeight: 0,
      margins: { left: 0.4, right: 0.4, top: 0.6, bottom: 0.6, header: 0.3, footer: 0.3 },
      ...(titles ? { printTitlesRow: '1:1' } : {}),
    },
    headerFooter: { oddFooter: '&L&A&R第 &P 頁／共 &N 頁' },
  };
}

/**
 * The font of every unstyled cell (exceljs' default font, styles.xml font 0), named in full.
 * A font that sets only `bold` names no family, and LibreOffice prints it in its default serif.
 */
export const BASE_FONT: Partial<ExcelJS.Font> = { name: 'Calibri', family: 2, scheme: 'minor', size: 11, color: { theme: 1 } };
export const BOLD_FONT: Partial<ExcelJS.Font> = { ...BASE_FONT, bold: true };
export const TITLE_FONT: Partial<ExcelJS.Font> = { ...BASE_FONT, size: 14, bold: true };
/** Wrapped text: every line of a multi-line or long value shows (with the row height below). */
export const WRAP: Partial<ExcelJS.Alignment> = { wrapText: true };
const WRAP_TOP: Partial<ExcelJS.Alignment> = { wrapText: true, vertical: 'top' };

const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/;
/** Lines of text a cell of the given width (in characters) shows when wrapped: a CJK or fullwidth character counts two, every line break starts a new line. An estimate, on the generous side. */
export function wrappedLines(text: string, width: number): number {
  let lines = 0;
  for (const para of text.split(/\r\n|\n|\r/)) {
    let units = 0;
    for (const ch of para) units += ch.codePointAt(0)! >= 0x20000 || WIDE.test(ch) ? 2 : 1;
    lines += Math.max(1, Math.ceil(units / Math.max(1, width - 1)));
  }
  return lines;
}
/**
 * The height (points) of a row showing `lines` lines of 11-point text, or undefined for one line
 * (the default height). Set explicitly because LibreOffice keeps the stored (default) height of
 * an xlsx row and does not grow it for wrapped text.
 */
export function rowHeight(lines: number): number | undefined {
  return lines > 1 ? lines * 16 + 2 : undefined;
}
/**
 * Wraps the given cells of a row and makes the row tall enough for the longest of them; when it
 * grows, every cell of the row is aligned to the top, so its first lines stay side by side.
 * Returns the number of lines.
 */
export function wrapCells(row: ExcelJS.Row, columns: Array<{ width: number }>, cells: number[]): number {
  let lines = 1;
  for (const c of cells) {
    const cell = row.getCell(c);
    if (typeof cell.value === 'string' || (cell.value && typeof cell.value === 'object')) lines = Math.max(lines, wrappedLines(cellText(cell.value), columns[c - 1].width));
  }
  const h = rowHeight(lines);
  for (const c of cells) row.getCell(c).alignment = h ? WRAP_TOP : WRAP;
  if (h) {
    row.height = h;
    for (let c = 1; c <= columns.length; c++) if (!cells.includes(c)) row.getCell(c).alignment = { ...row.getCell(c).alignment, vertical: 'top' };
  }
  return lines;
}

/**
 * A streaming workbook writer with styles, declared Traditional Chinese (docProps/core.xml
 * dc:language zh-TW), no shared strings.
 *
 * With useStyles exceljs gives every cell a fresh empty style object and serialises it to XML to
 * look its id up — which is always 0, the default — nearly doubling the time of a million-row
 * sheet. Here a style without any property goes straight to id 0 (except for dates, which get a
 * number format), so only the styled cells (covers, header rows) cost anything. The XML written is
 * the same as exceljs' own.
 */
export function streamingWorkbook(target: { filename: string } | { stream: NodeJS.WritableStream }, format: WorkbookFormat = 'xlsx'): ExcelJS.stream.xlsx.WorkbookWriter {
  // The ODS writer implements the part of exceljs' writer our workbooks use (reports/ods.ts).
  if (format === 'ods') return new OdsWorkbook(target) as unknown as ExcelJS.stream.xlsx.WorkbookWriter;
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ ...target, useSharedStrings: false, useStyles: true } as Partial<ExcelJS.stream.xlsx.WorkbookStreamWriterOptions>);
  (wb as unknown as { language: string }).language = 'zh-TW';
  const styles = (wb as unknown as { styles: { addStyleModel(model: object | undefined, cellType?: number): number } }).styles;
  const full = styles.addStyleModel.bind(styles);
  full({}); // the first style seen adds exceljs' default font (font 0)
  styles.addStyleModel = (model, cellType) => {
    if (model) for (const _ in model) return full(model, cellType);
    return cellType === ExcelJS.ValueType.Date ? full(model, cellType) : 0;
  };
  return wb;
}

// ---------------------------------------------------------------------------------------------
// Workbook files

/** The two workbook formats (issue 19): Office Open XML and OpenDocument (CNS 15251). */
export const WORKBOOK_FORMATS = ['xlsx', 'ods'] as const;
export type WorkbookFormat = (typeof WORKBOOK_FORMATS)[number];
export const WORKBOOK_MIME: Record<WorkbookFormat, string> = { xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', ods: 'application/vnd.oasis.opendocument.spreadsheet' };
export const isWorkbookFormat = (v: unknown): v is WorkbookFormat => typeof v === 'string' && (WORKBOOK_FORMATS as readonly string[]).includes(v);
/** The format a file name asks for: .ods is OpenDocument, anything else xlsx. */
export const formatOfFile = (file: string): WorkbookFormat => (/\.ods$/i.test(file) ? 'ods' : 'xlsx');

/**
 * A command's workbook format from `--format` and the `--out` extension (the extension alone is
 * enough): an unknown format, or an extension that is not the format's, is an error naming the flag.
 */
export function cliWorkbookFormat(format: unknown, out: string): { format: WorkbookFormat } | { error: string } {
  if (format !== undefined && !isWorkbookFormat(format)) return { error: `--format: unknown format ${String(format)} (xlsx or ods)` };
  const ext = /\.(xlsx|ods)$/i.exec(out)?.[1].toLowerCase() as WorkbookFormat | undefined;
  if (!ext) return { error: `--out: ${out} must end in .xlsx or .ods` };
  if (format !== undefined && format !== ext) return { error: `--out: ${out} must end in .${format} for --format ${format}` };
  return { format: ext };
}

const PARTIAL = /\.partial-\d+-[0-9a-f]+$/;
/** A half-written workbook (a crash left it): its name ends as openWorkbookFile names it. */
export const isPartialFile = (name: string): boolean => PARTIAL.test(name);

/**
 * A streaming workbook for the file `out`, written beside it under a partial name (`….partial-PID-RAND`)
 * until closeWorkbookFile renames it: no half file ever carries the real name. On failure, remove `tmp`.
 */
export function openWorkbookFile(out: string): { wb: ExcelJS.stream.xlsx.WorkbookWriter; tmp: string } {
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  const tmp = `${out}.partial-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  return { wb: streamingWorkbook({ filename: tmp }, formatOfFile(out)), tmp };
}

/** Finishes the workbook, then gives it its real name; answers the file's SHA-256 and size. */
export async function closeWorkbookFile(wb: ExcelJS.stream.xlsx.WorkbookWriter, tmp: string, out: string): Promise<{ sha256: string; bytes: number }> {
  await wb.commit();
  const sha256 = await fileSha256(tmp);
  fs.renameSync(tmp, out);
  return { sha256, bytes: fs.statSync(out).size };
}

/** A workbook whose writing failed: its partial file goes, and an .ods writer's temporary sheet files. */
export function discardWorkbookFile(wb: ExcelJS.stream.xlsx.WorkbookWriter, tmp: string): void {
  fs.rmSync(tmp, { force: true });
  if ((wb as unknown) instanceof OdsWorkbook) (wb as unknown as OdsWorkbook).discard();
}

export async function fileSha256(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}
