// Spreadsheet cells are inert: text that Excel or LibreOffice could read as a formula (starting
// with = + - @, tab or CR) is written as an inline rich-text string (t="inlineStr"), which no
// spreadsheet evaluates, and the value still shows exactly as typed.
import type ExcelJS from 'exceljs';

const FORMULA_START = /^[=+\-@\t\r]/;

export const looksLikeFormula = (v: unknown): boolean => typeof v === 'string' && FORMULA_START.test(v);

/**
 * Sets a cell's value so it can never be evaluated: strings are stored as rich text (always a
 * string cell, never a formula), other values as they are.
 */
export function setInert(cell: ExcelJS.Cell, value: unknown): void {
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

/** The text of a cell read back with exceljs (rich text joined), for checks and tests. */
export function cellText(value: unknown): string {
  if (value == null) return '';
  if (typeof value === 'object' && 'richText' in (value as object)) return (value as { richText: Array<{ text: string }> }).richText.map((r) => r.text).join('');
  return String(value);
}
