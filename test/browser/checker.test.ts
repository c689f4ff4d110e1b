// The section chief's monthly check in a real browser: the home page shows this month's check,
// the sample opens, bad input is shown beside the field, verdicts are given in place (no reload)
// by mouse and keyboard, "the remaining items are 適當" covers the untouched ones in one act, a
// clerk is asked for an explanation and answers it, the query record sheet prints on A4, and the
// check is signed off with one confirmation. The month's clicks and key presses are counted
// (issue 17: 31 items in at most 40). Without script the same forms still work.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { Locator, Page } from 'playwright-core';
import { startBrowserApp, checkPage, signIn, clickAndLoad, expectAccessible, expectNoPageErrors, ARTIFACTS, DESKTOP, TABLET, type BrowserApp } from '../support/browser.ts';
import { monthRange } from '../../server/time.ts';

describe('browser: section chief monthly check', function () {
  this.timeout(480_000);
  let app: BrowserApp;
  let page: Page;
  const CHIEF = 'tax.chief';
  const MONTH_ITEMS = 31; // the month the issue describes
  let checkId = 0;
  let chiefId = 0;
  let items: Array<{ entry_id: number; basis: string }> = [];
  let dialogs = 0;

  before(async () => {
    app = await startBrowserApp();
    chiefId = Number((await app.db('users').where({ account: CHIEF }).first('id')).id);
    const c = await app.db('checks').where({ checker_id: chiefId, status: 'open' }).orderBy('period', 'desc').first('id', 'period', 'unit_id');
    if (!c) throw new Error('the demo county has no open check for tax.chief: the checks capability seeds one for last month');
    checkId = Number(c.id);
    // The demo draws about 30 for tax.chief; the month the issue measures has 31: more of the
    // agency's entries of the period (not the chief's own) join the sample as drawn items.
    const have = await app.db('check_items').where({ check_id: checkId }).pluck('entry_id');
    const mine = await app.db('check_items').where({ check_id: checkId, checker_id: chiefId }).count({ n: '*' }).then((r: any) => Number(r[0].n));
    if (mine < MONTH_ITEMS) {
      const units = await app.db('units').where({ id: c.unit_id }).orWhere({ parent_id: c.unit_id }).pluck('id');
      const [from, to] = monthRange(c.period);
      const more = await app.db('query_logs').whereIn('unit_id', units).whereNot('user_id', chiefId).whereNotIn('id', have.filter((x: unknown) => x != null))
        .andWhere('queried_at', '>=', from).andWhere('queried_at', '<', to).orderBy('id').limit(MONTH_ITEMS - mine).pluck('id');
      expect(more.length, 'the demo agency has entries to add').to.equal(MONTH_ITEMS - mine);
      await app.db('check_items').insert(more.map((id: number) => ({ check_id: checkId, entry_id: id, basis: 'random', flags: '', sort_key: null, checker_id: chiefId })));
    }
    items = (await app.db('check_items').where({ check_id: checkId, checker_id: chiefId }).orderBy('id').select('entry_id', 'basis')).map((i: any) => ({ entry_id: Number(i.entry_id), basis: i.basis }));
    expect(items.length).to.be.at.least(MONTH_ITEMS);
    page = await app.page();
    // Sign-off asks once (its box); no dialog anywhere on this journey.
    page.on('dialog', (d) => { dialogs++; void d.dismiss(); });
  });
  after(async () => app?.close());

  const row = (entry: number) => page.locator(`#item-${entry}`);
  const verdictOf = async (entry: number) => (await app.db('check_items').where({ check_id: checkId, entry_id: entry }).first('verdict')).verdict;
  const saved = (entry: number, verdict: string) => page.locator(`#item-${entry}[data-verdict="${verdict}"]`).waitFor();

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
    expect(await page.getByRole('button', { name: /^其餘 \d+ 項判定為「適當」$/ }).textContent()).to.equal(`其餘 ${items.length} 項判定為「適當」`);
    await checkPage(page, 'check-sample');
  });

  it('a verdict with missing or incomplete input shows the message beside the field, in place, and stores nothing', async () => {
    const first = items[0].entry_id;
    const before = page.url();
    // 不當／請說明 fold under the row's 「適當」 until opened.
    expect(await row(first).getByLabel('查核結果').isVisible()).to.equal(false);
    await row(first).locator('summary').click();
    await row(first).getByRole('button', { name: /^儲存/ }).click();
    await row(first).locator(`#verdict-${first}-error`).waitFor();
    expect(await row(first).locator(`#verdict-${first}-error`).textContent()).to.match(/[\u4e00-\u9fff]/);
    expect(await row(first).getByLabel('查核結果').getAttribute('aria-invalid')).to.equal('true');
    await row(first).getByLabel('查核結果').selectOption('improper');
    await row(first).getByRole('button', { name: /^儲存/ }).click();
    await row(first).locator(`#note-${first}-error`).waitFor();
    expect(await row(first).locator(`#note-${first}-error`).textContent()).to.match(/[\u4e00-\u9fff]/);
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal(`note-${first}`);
    expect(await row(first).getByLabel('查核結果').inputValue(), 'the choice is kept').to.equal('improper');
    expect(page.url(), 'no reload').to.equal(before);
    expect(await verdictOf(first)).to.equal(null);
    await checkPage(page, 'check-verdict-errors');
  });

  it('sign-off is refused without its box ticked and while items are open; one confirmation, no dialog', async () => {
    await page.goto(`/checks/${checkId}`);
    await clickAndLoad(page, page.getByRole('button', { name: '簽核' }));
    expect(await page.locator('#sign-confirm-error').textContent()).to.match(/[\u4e00-\u9fff]/);
    await page.getByLabel('本人確認已逐筆完成查核').check();
    await clickAndLoad(page, page.getByRole('button', { name: '簽核' }));
    expect(await page.getByRole('alert').first().textContent()).to.match(/[\u4e00-\u9fff]/);
    expect((await app.db('checks').where({ id: checkId }).first('status')).status).to.equal('open');
    expect(dialogs).to.equal(0);
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

  it(`the month: ${MONTH_ITEMS} items decided and signed off in at most 40 clicks or key presses, without a reload per item`, async () => {
    // Every click and key press of the checker is counted; picking from a select counts two (open,
    // pick). The notes' characters are what the checker has to say, typed once: counted apart.
    let presses = 0;
    const typed: string[] = [];
    const click = async (l: Locator) => { presses++; await l.click(); };
    const key = async (k: string) => { presses++; await page.keyboard.press(k); };
    const choose = async (l: Locator, value: string) => { presses += 2; await l.selectOption(value); };
    const write = async (l: Locator, text: string) => { presses++; typed.push(text); await l.fill(text); };
    let loads = 0;
    page.on('load', () => { loads++; });
    const focusedRow = () => page.evaluate(() => document.activeElement?.closest('tr')?.getAttribute('data-key') ?? null);

    // From the home page to the check: two links.
    await page.goto('/');
    const panel = page.locator('section.panel', { has: page.getByRole('heading', { name: '每月查核' }) });
    const waiting = panel.locator('div', { has: page.locator('dt', { hasText: '待判定抽查項目' }) }).locator('dd');
    await Promise.all([page.waitForURL(/\/checks$/), click(waiting.getByRole('link'))]);
    await Promise.all([page.waitForURL(new RegExp(`/checks/${checkId}$`)), click(page.locator(`a[href="/checks/${checkId}"]`).first())]);
    loads = 0;
    const [e0, e1, e2, e3, e4] = items.map((i) => i.entry_id);

    // 1st item: 請說明, with its note, by mouse. Focus then moves on to the next item's 「適當」.
    await click(row(e0).locator('summary'));
    await choose(row(e0).getByLabel('查核結果'), 'explanation-needed');
    await write(row(e0).getByLabel(/^備註/), '請說明本筆查詢與案件之關聯');
    await click(row(e0).getByRole('button', { name: /^儲存/ }));
    await saved(e0, 'explanation-needed');
    expect(await page.locator('#verdict-status').textContent()).to.contain('請說明');
    expect(await focusedRow()).to.equal(String(e1));
    // 2nd: Enter on its 「適當」. 3rd is skipped with J; 4th gets Enter; focus goes back to the 3rd, the first untouched.
    await key('Enter');
    await saved(e1, 'proper');
    expect(await focusedRow()).to.equal(String(e2));
    await key('j');
    expect(await focusedRow()).to.equal(String(e3));
    await key('Enter');
    await saved(e3, 'proper');
    expect(await focusedRow(), 'the next untouched item').to.equal(String(e4));
    await key('k');
    expect(await focusedRow(), 'K moves back an item').to.equal(String(e3));
    await key('j');
    expect(await focusedRow()).to.equal(String(e4));
    // 5th: 不當, with its reason (opens an investigation).
    await click(row(e4).locator('summary'));
    await choose(row(e4).getByLabel('查核結果'), 'improper');
    await write(row(e4).getByLabel(/^備註/), '查詢事由與案號不符');
    await click(row(e4).getByRole('button', { name: /^儲存/ }));
    await saved(e4, 'improper');
    expect(await page.locator('#verdict-status').textContent()).to.match(/異常調查第 \d+ 號/);
    expect(await app.db('investigations').where({ check_id: checkId }).count({ n: '*' }).then((r: any) => Number(r[0].n))).to.equal(1);

    // The remaining untouched items in one act that names how many it covers.
    const untouched = items.length - 4;
    const bulk = page.getByRole('button', { name: `其餘 ${untouched} 項判定為「適當」` });
    expect(await bulk.count()).to.equal(1);
    await click(bulk);
    await page.locator('#verdict-status', { hasText: `已將其餘 ${untouched} 個項目判定為「適當」` }).waitFor();
    expect(await bulk.isHidden()).to.equal(true);
    const stored = await app.db('check_items').where({ check_id: checkId, checker_id: chiefId }).select('entry_id', 'verdict');
    expect(stored.filter((i: any) => i.verdict === 'proper').length).to.equal(untouched + 2);
    expect(stored.filter((i: any) => i.verdict == null)).to.deep.equal([]);
    const events = await app.db('system_events').where({ action: 'check-verdict-remaining', target_id: String(checkId) }).select('detail');
    expect(events).to.have.length(1);
    expect(loads, 'no reload for any verdict').to.equal(0);
    await expectAccessible(page, 'check-in-place');
    expectNoPageErrors(page);

    // The clerk answers the 請說明 (their clicks are theirs, not counted).
    const log = await app.db('query_logs').where({ id: e0 }).first('account');
    const clerk = await app.page(TABLET);
    await signIn(clerk, log.account);
    await clerk.getByRole('navigation', { name: '主選單' }).getByRole('link', { name: '查核說明' }).click();
    await clerk.waitForURL(/\/explanations$/);
    const card = clerk.locator('section.card', { hasText: `查詢日誌第 ${e0} 筆` });
    expect(await card.textContent()).to.contain('請說明本筆查詢與案件之關聯');
    await clickAndLoad(clerk, card.getByRole('button', { name: '送出說明' }));
    const again = clerk.locator('section.card', { hasText: `查詢日誌第 ${e0} 筆` });
    expect(await again.locator('.error').textContent()).to.match(/[\u4e00-\u9fff]/);
    expect((await app.db('check_items').where({ check_id: checkId, entry_id: e0 }).first('explanation')).explanation).to.equal(null);
    await checkPage(clerk, 'clerk-explanation-errors');
    await again.getByLabel('說明').fill('本筆為同案號欠稅人之配偶，依申請單核准範圍查詢投保單位。');
    await clickAndLoad(clerk, again.getByRole('button', { name: '送出說明' }));
    expect(await clerk.locator('.flash').textContent()).to.contain('已送出說明');

    // The checker comes back to the check (one press), reads the answer, decides it and signs off once.
    presses++;
    await page.reload();
    expect(await row(e0).textContent()).to.contain('本筆為同案號欠稅人之配偶');
    await click(row(e0).getByRole('button', { name: /^適當/ }));
    await saved(e0, 'proper');
    expect(await page.evaluate(() => document.activeElement?.id), 'nothing left: on to the sign-off').to.equal('sign-confirm');
    await key('Space');
    expect(await page.getByLabel('本人確認已逐筆完成查核').isChecked()).to.equal(true);
    await Promise.all([page.waitForEvent('load'), click(page.getByRole('button', { name: '簽核' }))]);
    expect(await page.locator('.flash').textContent()).to.contain('查核已完成並簽核');
    expect(await page.locator('.meta').textContent()).to.contain('已簽核');
    const c = await app.db('checks').where({ id: checkId }).first('status', 'signed_off_by');
    expect(c.status).to.equal('signed-off');
    expect(Number(c.signed_off_by)).to.equal(chiefId);
    expect(dialogs, 'one confirmation: the box, no dialog').to.equal(0);

    const report = { items: items.length, presses, typedNotes: typed.length, typedCharacters: typed.join('').length };
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    fs.writeFileSync(path.join(ARTIFACTS, 'checker-presses.json'), JSON.stringify(report, null, 2));
    console.log(`      checker's month: ${report.items} items in ${presses} clicks or key presses (+ ${report.typedNotes} notes typed)`);
    expect(presses, `clicks and key presses for ${items.length} items`).to.be.at.most(40);
    await checkPage(page, 'check-signed-off');
  });

  it('without script the same forms work: 「適當」 per item, the remaining items in one act, sign-off', async () => {
    // Another agency's chief in a browser with JavaScript off.
    const chief = 'civ.chief';
    const id = Number((await app.db('users').where({ account: chief }).first('id')).id);
    const c = await app.db('checks').where({ checker_id: id, status: 'open' }).orderBy('period', 'desc').first('id');
    const mine = await app.db('check_items').where({ check_id: c.id, checker_id: id }).orderBy('id').pluck('entry_id');
    const context = await app.browser.newContext({ viewport: DESKTOP, locale: 'zh-TW', timezoneId: 'Asia/Taipei', baseURL: app.base, javaScriptEnabled: false });
    const plain = await context.newPage();
    try {
      await signIn(plain, chief);
      await plain.goto(`/checks/${c.id}`);
      await clickAndLoad(plain, plain.locator(`#item-${mine[0]}`).getByRole('button', { name: /^適當/ }));
      expect(await plain.locator('.flash').textContent()).to.contain('已記錄判定');
      await clickAndLoad(plain, plain.getByRole('button', { name: `其餘 ${mine.length - 1} 項判定為「適當」` }));
      expect(await plain.locator('.flash').textContent()).to.contain(`已將其餘 ${mine.length - 1} 個項目判定為「適當」`);
      await plain.getByLabel('本人確認已逐筆完成查核').check();
      await clickAndLoad(plain, plain.getByRole('button', { name: '簽核' }));
      expect(await plain.locator('.flash').textContent()).to.contain('查核已完成並簽核');
      expect((await app.db('checks').where({ id: c.id }).first('status')).status).to.equal('signed-off');
    } finally {
      await context.close();
    }
  });
});
