// The county dashboard in a real browser: reached from the menu, charts drawn by the locally
// served Chart.js from the tables beside them, readable at 1366×768 and on a tablet, printable on A4.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { startBrowserApp, checkPage, signIn, ARTIFACTS, TABLET, type BrowserApp } from '../support/browser.ts';

describe('browser: county dashboard', function () {
  this.timeout(300_000);
  let app: BrowserApp;
  before(async () => {
    app = await startBrowserApp();
  });
  after(async () => app?.close());

  it('a planning-department auditor opens the dashboard from the menu and sees every agency, charts and tables', async () => {
    const page = await app.page();
    await signIn(page, app.account('auditor', 'PLAN'));
    await page.getByRole('navigation', { name: '主選單' }).getByRole('link', { name: '統計儀表板' }).click();
    await page.waitForURL(/\/dashboard$/);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('統計儀表板');
    expect(await page.locator('main').textContent()).to.contain('全縣各業務機關');
    for (const h of ['各機關每月查詢量', '風險標記比例', '月查核完成情形', '帳號清查']) {
      expect(await page.getByRole('heading', { level: 2, name: h }).count(), h).to.equal(1);
    }
    // Every agency of the demo county has a row; months are ROC year/month.
    const agencies = await app.db('units').where({ kind: 'agency' }).pluck('name');
    const rows = await page.locator('#t-volume tbody th[scope=row]').allTextContents();
    expect(rows.sort()).to.deep.equal([...agencies].sort());
    const heads = await page.locator('#t-volume thead th[data-label]').allTextContents();
    expect(heads).to.have.length(12);
    for (const h of heads) expect(h).to.match(/^1\d\d\/\d\d$/);
    // The charts were drawn (Chart.js loaded from /assets/vendor, no CSP violation).
    for (const id of ['volume', 'flags', 'checks']) {
      await page.locator(`#chart-${id}[data-drawn="true"]`).waitFor({ timeout: 10_000 });
      expect(await page.locator(`#chart-${id}`).getAttribute('role')).to.equal('img');
    }
    expect(await page.evaluate(() => typeof (window as any).Chart)).to.equal('function');
    // The figures in the chart come from the table: the canvas has non-blank pixels.
    const painted = await page.evaluate(() => {
      const c = document.getElementById('chart-volume') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n;
    });
    expect(painted).to.be.greaterThan(100);
    await checkPage(page, 'dashboard-county');
  });

  it('the filter form is usable by keyboard and narrows to one agency; an agency supervisor sees only their own', async () => {
    const page = await app.page();
    await signIn(page, app.account('planning_admin'));
    await page.goto('/dashboard');
    await page.getByLabel('機關', { exact: true }).focus();
    await page.getByLabel('機關', { exact: true }).selectOption('HLT');
    await page.keyboard.press('Tab'); // 套用
    await Promise.all([page.waitForURL(/unit=HLT/), page.keyboard.press('Enter')]);
    expect(await page.locator('#t-volume tbody th[scope=row]').allTextContents()).to.deep.equal(['南投縣政府衛生局']);
    expect(await page.getByLabel('機關', { exact: true }).inputValue()).to.equal('HLT');

    const chief = await app.page();
    await signIn(chief, app.account('supervisor', 'SOC'));
    await chief.goto('/dashboard');
    expect(await chief.locator('#t-volume tbody th[scope=row]').allTextContents()).to.deep.equal(['南投縣政府社會及勞動處']);
    expect(await chief.getByLabel('機關', { exact: true }).count(), 'no agency picker for a single agency').to.equal(0);
    const refused = await chief.goto('/dashboard?unit=TAX');
    expect(refused?.status()).to.equal(403);
  });

  it('keyboard: the first Tab reaches the skip link, and the home summary leads to the dashboard', async () => {
    const page = await app.page();
    await signIn(page, app.account('auditor', 'PLAN'));
    const panel = page.locator('section.panel', { has: page.getByRole('heading', { name: '全縣統計摘要' }) });
    expect(await panel.count()).to.equal(1);
    await checkPage(page, 'home-planning-auditor');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).to.equal('跳至主要內容');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal('main');
    // Tab from the main content reaches the summary's links; Enter follows one.
    const link = panel.getByRole('link').first();
    for (let i = 0; i < 40 && !(await link.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press('Tab');
    expect(await link.evaluate((el) => el === document.activeElement), 'the summary link is reachable by Tab').to.equal(true);
    await Promise.all([page.waitForURL(/\/dashboard/), page.keyboard.press('Enter')]);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('統計儀表板');
  });

  it('reads on a tablet and prints on A4', async () => {
    const page = await app.page(TABLET);
    await signIn(page, app.account('auditor', 'PLAN'));
    await page.goto('/dashboard');
    await page.locator('#chart-volume[data-drawn="true"]').waitFor();
    // Nothing wider than the screen except inside the scrolling table box.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).to.be.at.most(0);
    await checkPage(page, 'dashboard-tablet');
    await page.emulateMedia({ media: 'print' });
    expect(await page.locator('header.top').isVisible()).to.equal(false);
    expect(await page.locator('form.filters').isVisible()).to.equal(false);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const pdf = path.join(ARTIFACTS, 'dashboard-a4.pdf');
    await page.pdf({ path: pdf, format: 'A4', printBackground: true, preferCSSPageSize: true });
    expect(fs.statSync(pdf).size).to.be.greaterThan(10_000);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-print.png'), fullPage: true });
  });
});
