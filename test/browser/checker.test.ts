// The section chief's monthly check in a real browser: the home page shows this month's check,
// the sample opens, verdicts are given (bad input shown beside the field), a clerk is asked for an
// explanation and answers it, the query record sheet prints on A4, and the check is signed off.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { startBrowserApp, checkPage, signIn, clickAndLoad, ARTIFACTS, TABLET, type BrowserApp } from '../support/browser.ts';

describe('browser: section chief monthly check', function () {
  this.timeout(480_000);
  let app: BrowserApp;
  let page: Page;
  const CHIEF = 'tax.chief';
  let checkId = 0;
  let chiefId = 0;
  let items: Array<{ entry_id: number; basis: string }> = [];
  let asked: { entry_id: number; account: string } | null = null;

  before(async () => {
    app = await startBrowserApp();
    chiefId = Number((await app.db('users').where({ account: CHIEF }).first('id')).id);
    const c = await app.db('checks').where({ checker_id: chiefId, status: 'open' }).orderBy('period', 'desc').first('id', 'period');
    if (!c) throw new Error('the demo county has no open check for tax.chief: the checks capability seeds one for last month');
    checkId = Number(c.id);
    items = (await app.db('check_items').where({ check_id: checkId, checker_id: chiefId }).orderBy('id').select('entry_id', 'basis')).map((i: any) => ({ entry_id: Number(i.entry_id), basis: i.basis }));
    expect(items.length).to.be.greaterThan(1);
    page = await app.page();
  });
  after(async () => app?.close());

  const row = (entry: number) => page.locator(`#item-${entry}`);
  const verdict = async (entry: number, value: string, note = '') => {
    await row(entry).getByLabel('查核結果').selectOption(value);
    await row(entry).getByLabel(/^備註/).fill(note);
    await clickAndLoad(page, row(entry).getByRole('button', { name: '儲存' }));
  };

  it('sees this month\'s check on the home page and opens the sample', async () => {
    await signIn(page, CHIEF);
    const panel = page.locator('section.panel', { has: page.getByRole('heading', { name: '每月查核' }) });
    expect(await panel.count()).to.equal(1);
    const waiting = panel.locator('div', { has: page.locator('dt', { hasText: '待判定抽查項目' }) }).locator('dd');
    expect(Number((await waiting.textContent())!.trim())).to.equal(items.length);
    await checkPage(page, 'home-section-chief');
    await clickAndLoad(page, waiting.getByRole('link'));
    expect(new URL(page.url()).pathname).to.equal('/checks');
    await checkPage(page, 'checks-list');
    await clickAndLoad(page, page.locator(`a[href="/checks/${checkId}"]`).first());
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.match(/^查核：.+民國 \d+ 年 \d+ 月$/);
    expect(await page.locator('table.check-items tbody tr').count()).to.be.at.least(items.length);
    expect(await page.locator('table.check-items').textContent()).to.contain('隨機抽樣');
    await checkPage(page, 'check-sample');
  });

  it('a verdict with missing or incomplete input shows the message beside the field and stores nothing', async () => {
    const first = items[0].entry_id;
    await clickAndLoad(page, row(first).getByRole('button', { name: '儲存' }));
    expect(await row(first).locator(`#verdict-${first}-error`).textContent()).to.match(/[\u4e00-\u9fff]/);
    await row(first).getByLabel('查核結果').selectOption('improper');
    await clickAndLoad(page, row(first).getByRole('button', { name: '儲存' }));
    expect(await row(first).locator(`#note-${first}-error`).textContent()).to.match(/[\u4e00-\u9fff]/);
    expect(await row(first).getByLabel('查核結果').inputValue(), 'the choice is kept').to.equal('improper');
    const stored = await app.db('check_items').where({ check_id: checkId, entry_id: first }).first('verdict');
    expect(stored.verdict).to.equal(null);
    await checkPage(page, 'check-verdict-errors');
  });

  it('asks the clerk for an explanation; the clerk answers on their own page', async () => {
    const entry = items[0].entry_id;
    await verdict(entry, 'explanation-needed', '請說明本筆查詢與案件之關聯');
    expect(await page.locator('.flash').textContent()).to.contain('已記錄判定');
    const log = await app.db('query_logs').where({ id: entry }).first('account');
    asked = { entry_id: entry, account: log.account };

    const clerk = await app.page(TABLET);
    await signIn(clerk, asked.account);
    await clerk.getByRole('navigation', { name: '主選單' }).getByRole('link', { name: '查核說明' }).click();
    await clerk.waitForURL(/\/explanations$/);
    const card = clerk.locator('section.card', { hasText: `查詢日誌第 ${entry} 筆` });
    expect(await card.textContent()).to.contain('請說明本筆查詢與案件之關聯');
    // Empty answer: message beside the field, nothing stored.
    await clickAndLoad(clerk, card.getByRole('button', { name: '送出說明' }));
    const again = clerk.locator('section.card', { hasText: `查詢日誌第 ${entry} 筆` });
    expect(await again.locator('.error').textContent()).to.match(/[\u4e00-\u9fff]/);
    expect((await app.db('check_items').where({ check_id: checkId, entry_id: entry }).first('explanation')).explanation).to.equal(null);
    await checkPage(clerk, 'clerk-explanation-errors');
    await again.getByLabel('說明').fill('本筆為同案號欠稅人之配偶，依申請單核准範圍查詢投保單位。');
    await clickAndLoad(clerk, again.getByRole('button', { name: '送出說明' }));
    expect(await clerk.locator('.flash').textContent()).to.contain('已送出說明');
    await page.reload();
    expect(await row(entry).textContent()).to.contain('本筆為同案號欠稅人之配偶');
  });

  it('gives the remaining verdicts; sign-off is refused while an item is open', async () => {
    page.on('dialog', (d) => void d.accept());
    // Without the confirmation box ticked: the message is beside the box.
    await clickAndLoad(page, page.getByRole('button', { name: '簽核' }));
    expect(await page.locator('#sign-confirm-error').textContent()).to.match(/[\u4e00-\u9fff]/);
    // Ticked, but an item still has no final verdict: refused with the reason.
    await page.getByLabel('本人確認已逐筆完成查核').check();
    await clickAndLoad(page, page.getByRole('button', { name: '簽核' }));
    expect(await page.getByRole('alert').first().textContent()).to.match(/[\u4e00-\u9fff]/);
    expect((await app.db('checks').where({ id: checkId }).first('status')).status).to.equal('open');
    for (const i of items) await verdict(i.entry_id, 'proper');
    expect(await app.db('check_items').where({ check_id: checkId, checker_id: chiefId }).whereNull('verdict').count({ n: '*' }).then((r: any) => Number(r[0].n))).to.equal(0);
  });

  it('prints the query record sheet on A4', async () => {
    await page.goto(`/checks/${checkId}`);
    await clickAndLoad(page, page.getByRole('link', { name: '列印查詢紀錄單' }));
    expect(await page.locator('.sheet-head h1').first().textContent()).to.contain('健保資料查詢紀錄單');
    expect(await page.locator('.sheet-head').first().textContent()).to.contain('日誌鏈首');
    await checkPage(page, 'monthly-sheet');
    await page.emulateMedia({ media: 'print' });
    expect(await page.locator('header.top').isVisible()).to.equal(false);
    expect(await page.locator('.sheet-tools').isVisible()).to.equal(false);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const pdf = path.join(ARTIFACTS, 'monthly-sheet-a4.pdf');
    await page.pdf({ path: pdf, format: 'A4', preferCSSPageSize: true });
    const head = fs.readFileSync(pdf).subarray(0, 5).toString();
    expect(head).to.equal('%PDF-');
    await page.emulateMedia({ media: 'screen' });
  });

  it('signs the check off', async () => {
    await page.goto(`/checks/${checkId}`);
    await page.getByLabel('本人確認已逐筆完成查核').check();
    await clickAndLoad(page, page.getByRole('button', { name: '簽核' }));
    expect(await page.locator('.flash').textContent()).to.contain('查核已完成並簽核');
    expect(await page.locator('.meta').textContent()).to.contain('已簽核');
    const c = await app.db('checks').where({ id: checkId }).first('status', 'signed_off_by');
    expect(c.status).to.equal('signed-off');
    expect(Number(c.signed_off_by)).to.equal(chiefId);
    await checkPage(page, 'check-signed-off');
  });
});
