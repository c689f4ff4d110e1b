// Pages people sign, as PDF (issue 19): the page's own HTML printed by headless Chromium (Debian's
// chromium through playwright-core, as the browser tests use it), A4, with the fonts it used
// embedded (Noto Sans CJK TC for the Chinese). The page's assets are answered from public/ by
// request interception; every other request is refused, so nothing leaves the machine.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { Problem } from '../problem.ts';

const PUBLIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'public');

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const ORIGIN = 'http://print.invalid';

// One print at a time in this process, in one browser kept while prints keep coming: launching
// Chromium costs about a second and a few hundred MB, so a burst of requests waits its turn in the
// running browser rather than starting one each; the browser closes after IDLE_MS without prints.
let turn: Promise<unknown> = Promise.resolve();
const IDLE_MS = 60_000;
let running: { browser: Browser; executablePath: string } | null = null;
let idle: NodeJS.Timeout | undefined;

// The same HTML prints to the same PDF: the last few are kept (a sheet printed again, or asked for
// twice by a double click, costs no print). Keyed by the HTML's digest; bounded in count and bytes.
const CACHE_MAX = 8;
const CACHE_MAX_BYTES = 32 * 1024 * 1024;
const printed = new Map<string, Buffer>();
function remember(key: string, pdf: Buffer): void {
  printed.delete(key);
  printed.set(key, pdf);
  let bytes = [...printed.values()].reduce((n, b) => n + b.length, 0);
  for (const k of printed.keys()) {
    if (printed.size <= CACHE_MAX && bytes <= CACHE_MAX_BYTES) break;
    bytes -= printed.get(k)!.length;
    printed.delete(k);
  }
}

/** The page's HTML as an A4 PDF (Chromium at `executablePath`, config CHROMIUM_PATH); 503 when it cannot start. */
export function pdfOfHtml(html: string, executablePath: string): Promise<Buffer> {
  const key = crypto.createHash('sha256').update(executablePath).update('\0').update(html).digest('hex');
  const hit = printed.get(key);
  if (hit) {
    remember(key, hit);
    return Promise.resolve(hit);
  }
  const mine = turn.then(() => print(html, executablePath)).then((pdf) => (remember(key, pdf), pdf));
  turn = mine.catch(() => undefined);
  return mine;
}

/** Closes the printing browser now (at shutdown; it closes by itself when idle). */
export async function closePdfBrowser(): Promise<void> {
  clearTimeout(idle);
  const r = running;
  running = null;
  await r?.browser.close().catch(() => undefined);
}

async function browserAt(executablePath: string): Promise<Browser> {
  if (running && running.executablePath === executablePath && running.browser.isConnected()) return running.browser;
  await closePdfBrowser();
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath, args: ARGS });
  } catch {
    throw new Problem(503, 'pdf-unavailable', 'Service unavailable', '此伺服器無法產製 PDF（未安裝列印用之 Chromium，設定 CHROMIUM_PATH）；請以瀏覽器列印本頁，或洽資訊人員。');
  }
  running = { browser, executablePath };
  browser.on('disconnected', () => { if (running?.browser === browser) running = null; });
  return browser;
}

async function print(html: string, executablePath: string): Promise<Buffer> {
  clearTimeout(idle);
  const browser = await browserAt(executablePath);
  // A context of its own per print: no cookie, cache or storage is shared between two prints.
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.route('**/*', async (route) => {
      const url = new URL(route.request().url());
      if (url.origin !== ORIGIN) return route.abort();
      if (url.pathname === '/print') return route.fulfill({ body: html, contentType: 'text/html; charset=utf-8' });
      const file = path.resolve(PUBLIC_DIR, '.' + decodeURIComponent(url.pathname.replace(/^\/assets/, '')));
      if (url.pathname.startsWith('/assets/') && file.startsWith(PUBLIC_DIR + path.sep) && fs.existsSync(file)) return route.fulfill({ path: file });
      return route.abort();
    });
    await page.goto(`${ORIGIN}/print`, { waitUntil: 'load' });
    await page.emulateMedia({ media: 'print' });
    return await page.pdf({ format: 'A4', printBackground: true, preferCSSPageSize: true });
  } finally {
    await context.close().catch(() => undefined);
    idle = setTimeout(() => void closePdfBrowser(), IDLE_MS);
    idle.unref();
  }
}
