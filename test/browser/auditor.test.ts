// The auditor's and planning department's journey in a real browser: the dashboard scoped to the
// agency, the annual export started (bad input refused beside the field), its progress watched
// until done, the workbook downloaded and filed, the planning department acknowledging it, and the
// county dashboard showing the filing.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import type { Page } from 'playwright-core';
import { startBrowserApp, checkPage, signIn, clickAndLoad, ARTIFACTS, type BrowserApp } from '../support/browser.ts';

describe('browser: auditor annual export and filing', function () {
  this.timeout(480_000);
  let app: BrowserApp;
  let page: Page;
  const AUDITOR = 'tax.auditor';
  let year = 0;
  let exportId = 0;
  const exports = async () => Number((await app.db('export_jobs').count({ n: '*' }))[0].n);

  before(async () => {
    app = await startBrowserApp();
    page = await app.page();
    page.on('dialog', (d) => void d.accept());
  });
  after(async () => app?.close());

  it('the agency auditor sees the dashboard of their own agency', async () => {
    await signIn(page, AUDITOR);
    await page.getByRole('navigation', { name: '主選單' }).getByRole('link', { name: '統計儀表板' }).click();
    await page.waitForURL(/\/dashboard$/);
    expect(await page.locator('#t-volume tbody th[scope=row]').allTextContents()).to.deep.equal(['南投縣政府稅務局']);
    await page.locator('#chart-volume[data-drawn="true"]').waitFor();
    await checkPage(page, 'dashboard-agency-auditor');
  });

  it('starting an export with an empty or wrong year shows the message beside the field and starts nothing', async () => {
    await page.getByRole('navigation', { name: '主選單' }).getByRole('link', { name: '報府備查' }).click();
    await page.waitForURL(/\/audits\/annual$/);
    await checkPage(page, 'annual-filing');
    year = Number(await page.getByLabel('年度（民國年）').inputValue()) + 1911; // the form shows the ROC year
    expect(year).to.be.greaterThan(2000);
    const before = await exports();
    for (const wrong of ['', '一一四', '1899']) {
      await page.getByLabel('年度（民國年）').fill(wrong);
      await clickAndLoad(page, page.getByRole('button', { name: '產製' }));
      const err = page.locator('#f-year-error');
      expect(await err.textContent(), `year "${wrong}"`).to.match(/[\u4e00-\u9fff]/);
      expect(await page.getByLabel('年度（民國年）').getAttribute('aria-invalid')).to.equal('true');
    }
    await checkPage(page, 'annual-filing-errors');
    expect(await exports(), 'nothing started').to.equal(before);
  });

  it('the export form keeps the year that was typed when it is refused', async () => {
    await page.goto('/audits/annual');
    await page.getByLabel('年度（民國年）').fill('1899');
    await clickAndLoad(page, page.getByRole('button', { name: '產製' }));
    expect(await page.locator('#f-year-error').textContent()).to.match(/[\u4e00-\u9fff]/);
    expect(await page.getByLabel('年度（民國年）').inputValue(), 'what was typed is kept').to.equal('1899');
  });

  it('starts the annual export, watches its progress until done, and downloads the workbook', async () => {
    await page.getByLabel('年度（民國年）').fill(String(year - 1911));
    await clickAndLoad(page, page.getByRole('button', { name: '產製' }));
    expect(page.url()).to.match(/\/audits\/exports\/\d+$/);
    exportId = Number(page.url().split('/').pop());
    expect(await page.getByLabel('進度').count()).to.equal(1);
    await page.locator('#export-state', { hasText: '完成' }).waitFor({ timeout: 60_000 });
    expect(await page.locator('#export-progress').evaluate((p) => (p as HTMLProgressElement).value)).to.equal(100);
    expect(await page.locator('#export-download').isVisible()).to.equal(true);
    const sha = (await page.locator('#export-sha').textContent())!.trim();
    expect(sha).to.match(/^[0-9a-f]{64}$/);
    await checkPage(page, 'annual-export-done');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: '下載 Excel 檔' }).click()]);
    expect(download.suggestedFilename()).to.match(/\.xlsx$/);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, 'annual-workbook.xlsx');
    await download.saveAs(file);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(file);
    const names = wb.worksheets.map((w) => w.name);
    expect(names.length).to.be.greaterThan(1);
    expect(names.join(' ')).to.match(/清冊/);
  });

  it('files the workbook with the county; the planning department acknowledges it and the county dashboard shows it', async () => {
    await page.goto('/audits/annual');
    const row = page.locator('table tbody tr', { has: page.locator(`a[href="/audits/exports/${exportId}"]`) });
    await clickAndLoad(page, row.getByRole('button', { name: '報府備查' }));
    expect(await page.locator('.flash').textContent()).to.contain('已報府備查');
    const filing = await app.db('annual_filings as f').join('units as u', 'u.id', 'f.unit_id').where({ 'u.code': 'TAX', 'f.year': year }).first('f.id', 'f.acknowledged_at');
    expect(filing, 'the filing is stored').to.be.ok;
    const taxRow = page.locator('table tbody tr', { hasText: '南投縣政府稅務局' }).last();
    expect(await taxRow.textContent()).to.match(/二月前已報|逾期報送/);

    const planning = await app.page();
    planning.on('dialog', (d) => void d.accept());
    await signIn(planning, app.account('planning_admin'));
    await planning.goto(`/audits/annual?year=${year}`);
    const pending = planning.locator('table tbody tr', { hasText: '南投縣政府稅務局' }).last();
    await clickAndLoad(planning, pending.getByRole('button', { name: '確認收件' }));
    expect(await planning.locator('.flash').textContent()).to.contain('已確認收件');
    expect((await app.db('annual_filings').where({ id: filing.id }).first('acknowledged_at')).acknowledged_at).to.not.equal(null);

    await planning.goto(`/dashboard?year=${year}`);
    const dashRow = planning.locator('#t-filings tbody tr', { hasText: '南投縣政府稅務局' });
    expect(await dashRow.textContent()).to.match(/已報府並經計畫處確認|逾期報府/);
    expect(await dashRow.textContent()).to.match(/1\d\d\/\d\d\/\d\d \d\d:\d\d/);
    await checkPage(planning, 'dashboard-after-filing');
  });
});
