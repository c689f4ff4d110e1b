// Headless LibreOffice for tests: converts workbooks with soffice (Debian: libreoffice-calc-nogui,
// listed in .ci/apt-packages) and reads CSV back. A missing soffice is an error, never a skip.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Calc's CSV export: comma, double quote, UTF-8 (76), from line 1, no column formats, language
 * default, don't quote every text cell, (import only), raw values not "as shown", values not
 * formulas, (import only), and -1: every sheet to its own file `<name>-<sheet>.csv`.
 */
export const CSV_ALL_SHEETS = 'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1';

export interface Conversion { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number; files: string[] }

/**
 * Runs `soffice --headless --convert-to <format> --outdir <outDir> <inputs…>` in one process with
 * a fresh user profile of its own (so parallel runs don't share ~/.config/libreoffice). Rejects
 * when soffice cannot be started; kills the whole process group after timeoutMs.
 */
export function sofficeConvert(inputs: string[], format: string, outDir: string, timeoutMs = 120_000): Promise<Conversion> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-lo-profile-'));
  fs.mkdirSync(outDir, { recursive: true });
  const bin = process.env.SOFFICE ?? 'soffice';
  const args = ['--headless', '--norestore', '--nologo', '--nodefault', '--nolockcheck', `-env:UserInstallation=${pathToFileURL(profile).href}`, '--convert-to', format, '--outdir', outDir, ...inputs];
  const started = Date.now();
  return new Promise<Conversion>((resolve, reject) => {
    const child = spawn(bin, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      fs.rmSync(profile, { recursive: true, force: true });
      reject(e.code === 'ENOENT' ? new Error(`${bin} not found: install LibreOffice Calc (Debian package libreoffice-calc-nogui, listed in .ci/apt-packages)`) : e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      fs.rmSync(profile, { recursive: true, force: true });
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started, files: fs.readdirSync(outDir).sort() });
    });
  });
}

/** Parses RFC 4180 CSV (quoted fields may hold commas, quotes and line breaks) into rows of fields. */
export function parseCsv(text: string): string[][] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
