// What text the system accepts, in one rule for every field. A lone UTF-16 surrogate cannot be
// stored (the database driver writes U+FFFD instead), so what was hashed would differ from what is
// read back; control characters and bidirectional overrides make a stored text display other than
// it reads (a reason that looks harmless, a case number that sorts elsewhere).

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** C0 controls except tab, LF and CR (multi-line text), DEL and the C1 controls. */
const CONTROL_MULTILINE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;
/** The same, tab, LF and CR included: single-line fields. */
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/;
/** Bidirectional embeddings, overrides (U+202A–202E) and isolates (U+2066–2069). */
const BIDI = /[\u202A-\u202E\u2066-\u2069]/;
/** Any character one of the above could start with (surrogate pairs included). */
const SUSPECT = /[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069\uD800-\uDFFF]/;

/** False when the string holds a lone surrogate (String.prototype.isWellFormed, before ES2024). */
export const isWellFormed = (s: string): boolean => !LONE_SURROGATE.test(s);

/**
 * Why the text cannot be accepted (zh-TW, to follow the field's name), or null. `multiline`
 * allows tab, LF and CR (text areas); everything else refuses them too.
 */
export function textProblem(s: string, opts: { multiline?: boolean } = {}): string | null {
  if (!SUSPECT.test(s)) return null; // one scan for the common case: nothing to look at closer
  if (!isWellFormed(s)) return '含有無效的字元編碼（不成對的 UTF-16 代理字元）';
  if ((opts.multiline ? CONTROL_MULTILINE : CONTROL).test(s)) return '含有不可用的控制字元';
  if (BIDI.test(s)) return '含有改變文字方向的控制字元（U+202A–202E、U+2066–2069）';
  return null;
}
