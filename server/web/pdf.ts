// Pages people sign, as PDF (issue 19): the page's own HTML printed by headless Chromium (Debian's
// chromium through playwright-core, as the browser tests use it), A4, with the fonts it used
// embedded (Noto Sans CJK TC for the Chinese). The page's assets are answered from public/ by
// request interception; every other request is refused, so nothing leaves the machine.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Problem } from '../problem.ts';

const PUBLIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'public');

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const ORIGIN = 'http://print.invalid';

// One print at a time in this process: each launches a browser of a few hundred MB, so a burst of
// requests waits its turn rather than exhausting the server's memory.
let turn: Promise<unknown> = Promise.resolve();

/** The page's HTML as an A4 PDF (Chromium at `executablePath`, config CHROMIUM_PATH); 503 when it cannot start. */
export function pdfOfHtml(html: string, executablePath: string): Promise<Buffer> {
  const mine = turn.then(() => print(html, executablePath));
  turn = mine.catch(() => undefined);
  return mine;
}

async function print(html: string, executablePath: string): Promise<Buffer> {
  let browser;
  try {
    browser = await chromium.launch({ executablePath, args: ARGS });
  } catch {
    throw new Problem(503, 'pdf-unavailable', 'Service unavailable', '此伺服器無法產製 PDF（未安裝列印用之 Chromium，設定 CHROMIUM_PATH）；請以瀏覽器列印本頁，或洽資訊人員。');
  }
  try {
    const page = await browser.newPage();
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
    await browser.close();
  }
}
