// The clerk's day in a real browser: sign in with an expiring password and change it, file a query
// request form, have it approved, record queries one after another by keyboard (the case stays
// selected), see errors beside the field, and find their own entries.
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { startBrowserApp, checkPage, signIn, pressAndLoad, clickAndLoad, DEMO_PASSWORD, type BrowserApp } from '../support/browser.ts';
import { nationalId } from '../support/server-process.ts';

describe('browser: clerk journey', function () {
  this.timeout(300_000);
  let app: BrowserApp;
  let page: Page;
  let account: string;
  let userId: number;
  const NEW_PASSWORD = 'Tax-Clerk-Quarter4';
  const CASE = '115稅查字第0421號';
  let requestId = 0;
  const count = async (table: string) => Number((await app.db(table).where(table === 'query_logs' ? { user_id: userId } : { requester_id: userId }).count({ n: '*' }))[0].n);

  before(async () => {
    app = await startBrowserApp();
    account = 'tax.clerk2';
    userId = (await app.db('users').where({ account }).first('id')).id;
    // An expiring password: changed 91 days ago (the demo data's are fresh).
    await app.db('users').where({ id: userId }).update({ password_changed_at: Date.now() - 91 * 86_400_000 });
    page = await app.page();
  });
  after(async () => app?.close());

  it('signs in, is asked to change the expired password, and does so', async () => {
    await page.goto('/login');
    await page.getByLabel('帳號').fill(account);
    await page.getByLabel('密碼', { exact: true }).fill(DEMO_PASSWORD);
    await Promise.all([page.waitForURL(/\/password\?account=/), page.keyboard.press('Enter')]);
    expect(await page.locator('.flash').textContent()).to.contain('密碼已逾期');
    // Sign-in just proved the password: only the new one is asked (issue 17).
    expect(await page.locator('#current').count()).to.equal(0);
    await page.getByLabel('新密碼', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('再次輸入新密碼').fill(NEW_PASSWORD);
    await Promise.all([page.waitForURL(/\/login$/), page.keyboard.press('Enter')]);
    await signIn(page, account, NEW_PASSWORD);
    expect(new URL(page.url()).pathname).to.equal('/');
  });

  it('files a query request form: empty and wrong input get Chinese messages beside the fields and store nothing', async () => {
    await page.getByRole('navigation', { name: '主選單' }).getByRole('link', { name: '申請單', exact: true }).click();
    await page.waitForURL(/\/query-requests$/);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('查詢申請單');
    await checkPage(page, 'clerk-request-form');
    const before = await count('query_requests');

    await page.getByLabel('生效日').fill('');
    await page.getByLabel('到期日').fill('');
    await clickAndLoad(page, page.getByRole('button', { name: '送出申請' }));
    for (const f of ['caseNo', 'scope', 'purpose']) {
      const msg = await page.locator(`#f-${f}-error`).textContent();
      expect(msg, f).to.match(/[\u4e00-\u9fff]/);
      expect(await page.locator(`#f-${f}`).getAttribute('aria-invalid'), f).to.equal('true');
    }
    await checkPage(page, 'clerk-request-form-empty');

    // Wrong values: the end before the start; what was typed stays.
    await page.getByLabel('案號').fill(CASE);
    await page.getByLabel('業務範圍').selectOption({ index: 1 });
    await page.getByLabel('查詢目的').fill('查核欠稅人投保單位以辦理強制執行');
    await page.getByLabel('生效日').fill('2026-12-01');
    await page.getByLabel('到期日').fill('2026-11-01');
    await clickAndLoad(page, page.getByRole('button', { name: '送出申請' }));
    const errors = await page.locator('.error').allTextContents();
    expect(errors.join(' ')).to.match(/[\u4e00-\u9fff]/);
    expect(await page.locator('[aria-invalid="true"]').count()).to.be.greaterThan(0);
    expect(await page.getByLabel('案號').inputValue()).to.equal(CASE);
    expect(await page.getByLabel('查詢目的').inputValue()).to.equal('查核欠稅人投保單位以辦理強制執行');
    expect(await count('query_requests'), 'nothing stored').to.equal(before);

    // Right values.
    const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    await page.getByLabel('生效日').fill(today);
    await page.getByLabel('到期日').fill(new Date(Date.now() + 60 * 86_400_000).toISOString().slice(0, 10));
    await Promise.all([page.waitForURL(/\/query-requests$/), page.getByRole('button', { name: '送出申請' }).click()]);
    expect(await page.locator('.flash').textContent()).to.contain('待單位主管核定');
    const row = page.locator('table tbody tr', { hasText: CASE });
    expect(await row.textContent()).to.contain('待核定');
    requestId = Number((await app.db('query_requests').where({ requester_id: userId, case_no: CASE }).first('id')).id);
    expect(requestId).to.be.greaterThan(0);
  });

  it('the unit supervisor approves it from the inbox', async () => {
    const chief = await app.page();
    await signIn(chief, 'tax.chief');
    await chief.goto('/query-requests/inbox');
    const card = chief.locator('section.card', { hasText: CASE });
    expect(await card.textContent()).to.contain(account);
    await checkPage(chief, 'supervisor-request-inbox');
    // Rejecting needs a reason: the message is beside the field and nothing is decided.
    await clickAndLoad(chief, card.getByRole('button', { name: '駁回' }));
    expect(await chief.locator(`#note-${requestId}-error`).textContent()).to.match(/[\u4e00-\u9fff]/);
    expect(await chief.locator(`#note-${requestId}`).getAttribute('aria-invalid')).to.equal('true');
    expect((await app.db('query_requests').where({ id: requestId }).first('status')).status).to.equal('pending');
    await Promise.all([chief.waitForURL(/\/query-requests\/inbox$/), card.getByRole('button', { name: '核准' }).click()]);
    expect(await chief.locator('.flash').textContent()).to.contain(`申請單 ${requestId} 已核准`);
    await page.reload();
    expect(await page.locator('table tbody tr', { hasText: CASE }).textContent()).to.contain('有效');
  });

  it('records queries one after another by keyboard only; the case stays selected; errors show beside the field', async () => {
    await page.getByRole('navigation', { name: '主選單' }).getByRole('link', { name: '登錄查詢' }).click();
    await page.waitForURL(/\/query-logs\/new$/);
    await checkPage(page, 'clerk-record');
    // Nothing filled yet: the page puts the focus on the request form picker.
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal('f-queryRequestId');
    const reqLabel = await page.locator(`#f-queryRequestId option[value="${requestId}"]`).textContent();
    expect(reqLabel).to.contain(CASE);
    // Pick the request with the arrow key: its case number and scope are filled in.
    const options = await page.locator('#f-queryRequestId option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    for (let i = 0; i < options.indexOf(String(requestId)); i++) await page.keyboard.press('ArrowDown');
    expect(await page.locator('#f-queryRequestId').inputValue()).to.equal(String(requestId));
    expect(await page.locator('#f-caseNo').inputValue()).to.equal(CASE);
    expect(await page.locator('#f-scope').inputValue()).to.not.equal('');
    await page.keyboard.press('Tab'); // 案號 (filled)
    await page.keyboard.press('Tab'); // 業務範圍 (filled)
    await page.keyboard.press('Tab'); // 查詢作業代號
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal('f-opCode');
    await page.keyboard.press('ArrowDown');
    expect(await page.locator('#f-opCode').inputValue()).to.not.equal('');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal('f-reason');
    await page.keyboard.type('查調欠稅人投保資料');
    await page.keyboard.press('Tab'); // 類型: 身分證
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal('f-subjectValue');
    const ids = [nationalId(101), nationalId(202), nationalId(303)];
    await page.keyboard.type(ids[0]);
    await pressAndLoad(page);
    expect(await page.locator('.flash').textContent()).to.contain('已登錄查詢紀錄');
    // The case stays: request, case number, scope, op code and reason are kept, the focus is on the subject.
    expect(await page.locator('#f-queryRequestId').inputValue()).to.equal(String(requestId));
    expect(await page.locator('#f-caseNo').inputValue()).to.equal(CASE);
    expect(await page.locator('#f-reason').inputValue()).to.equal('查調欠稅人投保資料');
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal('f-subjectValue');

    // A wrong ID (bad check digit): the message is beside the field, what was typed is kept, nothing stored.
    const before = await count('query_logs');
    const wrong = ids[1].slice(0, 9) + String((Number(ids[1][9]) + 1) % 10);
    await page.keyboard.type(wrong);
    await pressAndLoad(page);
    await page.locator('#f-subjectValue-error').waitFor();
    expect(await page.locator('#f-subjectValue-error').textContent()).to.match(/[\u4e00-\u9fff]/);
    expect(await page.locator('#f-subjectValue').inputValue()).to.equal(wrong);
    expect(await page.locator('#f-caseNo').inputValue()).to.equal(CASE);
    expect(await page.evaluate(() => document.activeElement?.id), 'the focus lands on the bad field').to.equal('f-subjectValue');
    expect(await count('query_logs')).to.equal(before);
    await checkPage(page, 'clerk-record-error');

    // Fix it and go on: two more entries, keyboard only.
    await page.keyboard.press('Control+A');
    await page.keyboard.type(ids[1]);
    await pressAndLoad(page);
    await page.keyboard.type(ids[2]);
    await pressAndLoad(page);
    expect(await count('query_logs')).to.equal(before + 2);
    const recent = page.getByRole('heading', { name: /今日已登錄/ });
    expect(await recent.count()).to.equal(1);
    expect(await page.locator('table tbody tr', { hasText: CASE }).count()).to.equal(3);
    // Subjects are masked on the page.
    const html = await page.content();
    for (const id of ids) expect(html).not.to.contain(id);
    await checkPage(page, 'clerk-record-after');
  });

  it('sees their own entries in the query log, with the case and the request', async () => {
    await page.getByRole('navigation', { name: '主選單' }).getByRole('link', { name: '查詢日誌' }).click();
    await page.waitForURL(/\/query-logs$/);
    await page.getByLabel('案號').fill(CASE);
    await Promise.all([page.waitForURL(/caseNo=/), page.getByLabel('案號').press('Enter')]);
    const rows = page.locator('table tbody tr');
    expect(await rows.count()).to.equal(3);
    for (const t of await rows.allTextContents()) {
      expect(t).to.contain(account).and.contain(CASE).and.contain(String(requestId));
      expect(t).to.match(/1\d\d\/\d\d\/\d\d \d\d:\d\d/); // ROC date and time
    }
    await checkPage(page, 'clerk-query-log');
  });
});
