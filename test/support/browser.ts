// Browser tests: the real server (`node bin/nhi-audit.js serve`) on a fresh SQLite database seeded
// with the demo county, driven by playwright-core with Debian's Chromium. A missing browser is a
// failure, not a skip. Helpers: sign in, axe-core scan (no serious/critical violations), screenshots
// under test/artifacts/, and a watch for console errors and CSP violations on every page.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'chai';
import { BIN, startServerProcess, type ServerProcess } from './server-process.ts';
import { parseConfig } from '../../server/config.ts';
import { createDb, type Db } from '../../server/db.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(root, 'test', 'artifacts');
export const DEMO_PASSWORD = 'Demo-Passw0rd-2026';
export const DESKTOP = { width: 1366, height: 768 };
export const TABLET = { width: 820, height: 1180 };
const AXE_SOURCE = fs.readFileSync(path.join(root, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

export interface DemoAccount { account: string; roles: string[]; unit: string }

export interface BrowserApp {
  base: string;
  server: ServerProcess;
  browser: Browser;
  /** The same database as the server, for preparing what a journey needs and checking what it stored. */
  db: Db;
  accounts: DemoAccount[];
  /** A demo account with the role (optionally in the unit). */
  account(role: string, unit?: string): string;
  /** A new browser context (own cookies) and page at the viewport, zh-TW, Taipei time. */
  page(viewport?: { width: number; height: number }): Promise<Page>;
  close(): Promise<void>;
}

const BASE_ENV = { DB_CLIENT: 'sqlite', NODE_ENV: 'test', JOBS_ENABLED: 'false', LOG_LEVEL: 'silent', LOGIN_RATE_PER_MINUTE: '1000' };
let template: Promise<{ file: string; accounts: DemoAccount[] }> | undefined;

/** The demo county is seeded once per test process into a template file; each app gets a copy. */
function seededTemplate(): Promise<{ file: string; accounts: DemoAccount[] }> {
  template ??= (async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-browser-template-'));
    const file = path.join(dir, 'demo.sqlite');
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    const seeded = spawnSync(process.execPath, [BIN, 'seed-demo', '--password', DEMO_PASSWORD, '--json'], { cwd: root, env: { ...process.env, ...BASE_ENV, DATABASE_URL: file }, encoding: 'utf8', timeout: 300_000 });
    if (seeded.status !== 0) throw new Error(`seed-demo failed (${seeded.status}): ${seeded.stderr}`);
    const line = seeded.stdout.trim().split('\n').reverse().find((l) => l.startsWith('{"accounts"'));
    if (!line) throw new Error(`seed-demo printed no accounts: ${seeded.stdout.slice(0, 500)}`);
    return { file, accounts: JSON.parse(line).accounts as DemoAccount[] };
  })();
  return template;
}

/** Starts the server on a fresh copy of the seeded demo county, on a free port, and launches Chromium. */
export async function startBrowserApp(): Promise<BrowserApp> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium is missing at ${CHROMIUM}: install the Debian package 'chromium' (see .ci/apt-packages)`);
  const { file, accounts } = await seededTemplate();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-browser-'));
  const env = { ...BASE_ENV, DATABASE_URL: path.join(dir, 'app.sqlite'), EXPORT_DIR: path.join(dir, 'exports') };
  for (const suffix of ['', '-wal', '-shm']) if (fs.existsSync(file + suffix)) fs.copyFileSync(file + suffix, env.DATABASE_URL + suffix);
  const server = await startServerProcess({ env });
  const db = createDb(parseConfig({ ...env }));
  let browser: Browser;
  try {
    // playwright gives every launch a fresh temporary profile (its own --user-data-dir).
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--font-render-hinting=none'],
    });
  } catch (e) {
    await server.kill();
    await db.destroy();
    throw e;
  }
  const contexts: BrowserContext[] = [];
  return {
    base: server.base,
    server,
    browser,
    db,
    accounts,
    account(role: string, unit?: string): string {
      const a = accounts.find((x) => x.roles.includes(role) && (!unit || x.unit === unit));
      if (!a) throw new Error(`no demo account with role ${role}${unit ? ` in ${unit}` : ''}`);
      return a.account;
    },
    async page(viewport = DESKTOP): Promise<Page> {
      const context = await browser.newContext({ viewport, locale: 'zh-TW', timezoneId: 'Asia/Taipei', baseURL: server.base, acceptDownloads: true });
      // A loaded CI machine can be slow: give each action and navigation a minute.
      context.setDefaultTimeout(60_000);
      contexts.push(context);
      const page = await context.newPage();
      watchPage(page);
      return page;
    },
    async close(): Promise<void> {
      for (const c of contexts) await c.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
      await server.kill('SIGTERM');
      await db.destroy().catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const problems = new WeakMap<Page, string[]>();
/** Console errors, uncaught exceptions and CSP violations are collected per page. */
function watchPage(page: Page): void {
  const list: string[] = [];
  problems.set(page, list);
  page.on('console', (m) => {
    // A 4xx answer to a form post is how a form is re-shown with its messages: not a page error.
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) list.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => list.push(`page error: ${e.message}`));
}
/** Fails when the page logged an error, threw, or had something blocked by the CSP. */
export function expectNoPageErrors(page: Page): void {
  const list = problems.get(page) ?? [];
  expect(list, list.join('\n')).to.deep.equal([]);
}

/** Fills the login form and submits it with Enter; waits for the next page. */
export async function signIn(page: Page, account: string, password = DEMO_PASSWORD): Promise<void> {
  await page.goto('/login');
  await page.getByLabel('帳號').fill(account);
  await page.getByLabel('密碼', { exact: true }).fill(password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login') || u.search.includes('next=')), page.getByLabel('密碼', { exact: true }).press('Enter')]);
}

export async function signOut(page: Page): Promise<void> {
  await Promise.all([page.waitForURL(/\/login/), page.getByRole('button', { name: '登出' }).click()]);
}

export interface AxeViolation { id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }

/**
 * Runs axe-core in the page (evaluated through the DevTools protocol, which the page's CSP does
 * not block) and fails on any serious or critical violation of WCAG 2.1 A/AA.
 */
export async function expectAccessible(page: Page, label = page.url()): Promise<void> {
  await page.evaluate(AXE_SOURCE);
  const violations: AxeViolation[] = await page.evaluate(async () => {
    const axe = (window as any).axe;
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return r.violations.map((v: any) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n: any) => ({ target: n.target })) }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => JSON.stringify(n.target)).slice(0, 3).join(', ')}`), `axe on ${label}`).to.deep.equal([]);
}

/** Saves a full-page screenshot to test/artifacts/<name>.png (ignored by git) for a reviewer. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Scan and screenshot in one go: every main page of a journey gets both. */
export async function checkPage(page: Page, name: string): Promise<void> {
  await screenshot(page, name);
  await expectAccessible(page, name);
  expectNoPageErrors(page);
}

/** Presses Tab until the focused element matches the accessible name (keyboard-only use). */
export async function tabTo(page: Page, name: string | RegExp, max = 60): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el) return '';
      const id = el.id;
      const label = id ? document.querySelector(`label[for="${id}"]`)?.textContent ?? '' : '';
      return (el.getAttribute('aria-label') ?? '') + '|' + label.trim() + '|' + (el.textContent ?? '').trim() + '|' + ((el as HTMLInputElement).value ?? '');
    });
    const parts = focused.split('|');
    if (parts.some((p) => (typeof name === 'string' ? p === name : name.test(p)))) return;
  }
  throw new Error(`Tab did not reach ${String(name)} within ${max} presses`);
}

/** Presses a key that submits a form and waits until the next document has loaded (even at the same URL). */
export async function pressAndLoad(page: Page, key = 'Enter'): Promise<void> {
  await Promise.all([page.waitForEvent('load'), page.keyboard.press(key)]);
}
/** Clicks a submit button and waits until the next document has loaded (even at the same URL). */
export async function clickAndLoad(page: Page, target: { click(): Promise<void> }): Promise<void> {
  await Promise.all([page.waitForEvent('load'), target.click()]);
}
