// zod → field errors. One place turns a schema failure into a problem naming each field; and the
// checks every request body and query string passes at the boundary, before any route reads it.
import type { z } from 'zod';
import { fieldErrors, notFound, validation, type FieldError, type Problem } from '../problem.ts';
import { textProblem } from '../text.ts';
import { WORKBOOK_MIME, isWorkbookFormat, type WorkbookFormat } from '../../reports/cells.ts';

/**
 * A refusal as a re-shown form shows it: field → message, or, when the problem names no field,
 * its own words under `whole` (the form, or the one field the form has).
 */
export function formErrors(p: Problem, whole = 'form'): Record<string, string> {
  if (!p.errors.length) return { [whole]: p.detail ?? p.title };
  return Object.fromEntries(p.errors.map((e) => [e.field, e.message]));
}

/** For forms: the parsed value, or field messages keyed by field for re-showing the form. */
export function parseForm<S extends z.ZodType>(schema: S, input: unknown): { ok: true; value: z.infer<S> } | { ok: false; errors: Record<string, string> } {
  const r = schema.safeParse(input ?? {});
  if (r.success) return { ok: true, value: r.data };
  const errors: Record<string, string> = {};
  for (const e of fieldErrors(r.error)) errors[e.field] = e.message;
  return { ok: false, errors };
}

// ---------------------------------------------------------------------------------------------
// The request boundary: what every body and query string must be before any route reads it.

/** JSON nesting allowed in a request body; the deepest real body (a batch entry's subject) is 3. */
export const MAX_JSON_DEPTH = 32;

/**
 * Whether the raw JSON text nests deeper than `max` (brackets and braces outside strings). One
 * linear pass over the bytes, run before JSON.parse: a body nested a million deep costs a scan,
 * not a parse. Bytes, not characters: in UTF-8 every byte of a multi-byte character is ≥ 0x80, so
 * it is never taken for a quote or a bracket.
 */
export function jsonTooDeep(buf: Uint8Array, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c === 0x22) {
      // Skip the string: to the next quote not escaped by a backslash.
      for (i++; i < buf.length && buf[i] !== 0x22; i++) if (buf[i] === 0x5c) i++;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * express.json's `verify` hook: JSON must be UTF-8 (RFC 8259 §8.1; the depth scan reads bytes)
 * and nest at most MAX_JSON_DEPTH deep. Throws a problem naming `body`; the parser never runs.
 */
export function verifyJsonBody(_req: unknown, _res: unknown, buf: Buffer, encoding: string): void {
  // body-parser decorates what is thrown (status, type): plain errors, turned into problems by toProblem.
  if (encoding !== 'utf-8') throw Object.assign(new Error('JSON must be UTF-8'), { status: 415, type: 'charset.unsupported' });
  if (jsonTooDeep(buf, MAX_JSON_DEPTH)) throw Object.assign(new Error('JSON nested too deep'), { status: 400, type: JSON_TOO_DEEP });
}
export const JSON_TOO_DEEP = 'entity.too.deep';
export const tooDeepProblem = () => validation([{ field: 'body', message: `JSON 巢狀層數超過 ${MAX_JSON_DEPTH} 層` }], '請求內容的巢狀層數過深。');

/**
 * Field errors for every string (keys and values) in a parsed body or query string whose text
 * cannot be accepted (server/text.ts). Tab, LF and CR are allowed here (any field may be a text
 * area); single-line fields refuse them in their own rules. Fields are named by their path
 * (`entries.0.reason`), a bad key by the path of the object holding it.
 */
export function textFieldErrors(input: unknown, limit = 20): FieldError[] {
  const out: FieldError[] = [];
  const path: string[] = []; // joined only for a field that is named
  const name = () => (path.length ? path.join('.') : 'body');
  const visit = (v: unknown): void => {
    if (out.length >= limit) return;
    if (typeof v === 'string') {
      const tp = textProblem(v, MULTILINE);
      if (tp) out.push({ field: name(), message: tp });
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        path.push(String(i));
        visit(v[i]);
        path.pop();
      }
    } else if (v && typeof v === 'object') {
      for (const k of Object.keys(v)) {
        const kp = textProblem(k, MULTILINE);
        if (kp) {
          out.push({ field: name(), message: `欄位名稱${kp}` });
          continue;
        }
        path.push(k);
        visit((v as Record<string, unknown>)[k]);
        path.pop();
      }
    }
  };
  visit(input); // bounded: JSON bodies nest at most MAX_JSON_DEPTH deep, forms and query strings are flat
  return out;
}
const MULTILINE = { multiline: true };

const OWN_TEXT_RULES = new Set<string>();
/**
 * Declares a form (POST path) whose own rules refuse bad text field by field and re-show the form
 * with the message beside the field (e.g. the recording page: rules.caseNoProblem,
 * reasonProblem, subjectProblem): the boundary check leaves that form's body to them.
 */
export function formChecksOwnText(path: string): void {
  OWN_TEXT_RULES.add(path);
}
export const checksOwnText = (method: string, path: string): boolean => method === 'POST' && OWN_TEXT_RULES.has(path);

/**
 * The one parser of row ids in paths: a positive whole number, else -1, an id no row has, so that
 * a service answers a malformed id exactly as an id it does not find (its own 404 words).
 */
export function pathId(v: unknown): number {
  const n = typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : -1;
}
/** A row id from the path for routes whose service has no not-found answer of its own: else 404. */
export function idParam(v: unknown): number {
  const n = pathId(v);
  if (n < 0) throw notFound();
  return n;
}

/**
 * The workbook format a request asks for (issue 19): `format` (query or body) first, else an Accept
 * header preferring the OpenDocument type; xlsx by default. An unknown format is a 400 naming `format`.
 */
export function workbookFormatOf(req: { accepts(types: string[]): string | false }, value: unknown): WorkbookFormat {
  if (value !== undefined && value !== '') {
    if (isWorkbookFormat(value)) return value;
    throw validation([{ field: 'format', message: '檔案格式須為 xlsx 或 ods。' }]);
  }
  return req.accepts([WORKBOOK_MIME.xlsx, WORKBOOK_MIME.ods]) === WORKBOOK_MIME.ods ? 'ods' : 'xlsx';
}
