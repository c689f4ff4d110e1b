// bench/results.md is shared: each benchmark owns one section between <!-- bench:NAME --> markers
// and replaces only that section (or appends it the first time).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const RESULTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results.md');

/** The text with section NAME set to `body` (markers added here). */
export function upsertSection(text: string, name: string, body: string): string {
  const section = `<!-- bench:${name} -->\n${body.trim()}\n<!-- /bench:${name} -->`;
  const re = new RegExp(`<!-- bench:${name} -->[\\s\\S]*?<!-- /bench:${name} -->`);
  return re.test(text) ? text.replace(re, () => section) : `${text.trimEnd()}\n\n${section}\n`;
}

/** Writes section NAME of results.md; `body` may carry its own markers (they are replaced). */
export function writeSection(name: string, body: string): void {
  const inner = body.replace(new RegExp(`^\\s*<!-- bench:${name} -->\\n?`), '').replace(new RegExp(`\\n?<!-- /bench:${name} -->\\s*$`), '');
  const text = fs.existsSync(RESULTS) ? fs.readFileSync(RESULTS, 'utf8') : '# Benchmarks\n';
  fs.writeFileSync(RESULTS, upsertSection(text, name, inner));
}
