// The agency admin's journey in a real browser: a new clerk account requested (empty and wrong
// input refused beside the fields), approved by the responsible supervisor, provisioned by the
// admin with a one-time activation code, activated by the person; then the account review run and
// a finding decided.
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { startBrowserApp, checkPage, signIn, clickAndLoad, type BrowserApp } from '../support/browser.ts';

describe('browser: admin provisioning and account review', function () {
  this.timeout(480_000);
  let app: BrowserApp;
  let admin: Page;
  const ADMIN = 'tax.admin';
  const NEW = 'tax.linhua.new';
  let requestId = 0;
  let code = '';
  const requests = async () => Number((await app.db('account_requests').count({ n: '*' }))[0].n);

  before(async () => {
    app = await startBrowserApp();
    admin = await app.page();
    admin.on('dialog', (d) => void d.accept());
  });
  after(async () => app?.close());

  it('the request form refuses empty and wrong input beside the fields, keeps what was typed and stores nothing', async () => {
    await signIn(admin, ADMIN);
    await admin.getByRole('navigation', { name: '主選單' }).getByRole('link', { name: '帳號申請', exact: true }).click();
    await admin.waitForURL(/\/accounts\/requests$/);
    await admin.goto('/accounts/requests/new');
    expect(await admin.getByRole('heading', { level: 1 }).textContent()).to.equal('帳號申請');
    await checkPage(admin, 'account-request-form');
    const before = await requests();

    await clickAndLoad(admin, admin.getByRole('button', { name: '送出申請' }));
    const errors = await admin.locator('.error').allTextContents();
    expect(errors.length).to.be.greaterThan(0);
    for (const e of errors) expect(e).to.match(/[\u4e00-\u9fff]/);
    expect(await admin.locator('#f-reason-error').textContent()).to.contain('申請事由');
    await checkPage(admin, 'account-request-form-empty');

    // Wrong values: an account name with spaces and a bad e-mail address.
    await admin.locator('#f-unit').selectOption('TAX');
    await admin.locator('#f-account').fill('tax clerk 9');
    await admin.locator('#f-name').fill('林小華');
    await admin.locator('#f-email').fill('not-an-address');
    await admin.locator('#f-reason').fill('新進人員辦理欠稅查調');
    await clickAndLoad(admin, admin.getByRole('button', { name: '送出申請' }));
    expect(await admin.locator('#f-account-error').textContent()).to.match(/[\u4e00-\u9fff]/);
    expect(await admin.locator('#f-account').inputValue()).to.equal('tax clerk 9');
    expect(await admin.locator('#f-name').inputValue()).to.equal('林小華');
    expect(await admin.locator('#f-reason').inputValue()).to.equal('新進人員辦理欠稅查調');
    expect(await requests(), 'nothing stored').to.equal(before);
  });

  it('files a new-account request with roles and NHI query permissions', async () => {
    await admin.locator('#f-account').fill(NEW);
    await admin.locator('#f-email').fill('clerk9@tax.nantou.gov.tw');
    await admin.locator('input[name="roles"][value="clerk"]').check();
    await admin.locator('input[name="perms"][value="2-2/IN01"]').check();
    await clickAndLoad(admin, admin.getByRole('button', { name: '送出申請' }));
    expect(admin.url(), (await admin.locator('.error').allTextContents()).join(' / ')).to.match(/\/accounts\/requests\/\d+$/);
    requestId = Number(admin.url().split('/').pop());
    expect(await admin.locator('.flash').textContent()).to.contain('待權責主管核定');
    // The permission by name: scope clause and title, operation code and its name (issue 17).
    expect(await admin.locator('main').textContent()).to.contain(NEW).and.match(/二\(二\) [^／]+／IN01 [\u4e00-\u9fff]+/);
    await checkPage(admin, 'account-request');
  });

  it('the responsible supervisor approves it from the approvals inbox', async () => {
    const chief = await app.page();
    await signIn(chief, 'tax.chief');
    await chief.getByRole('navigation', { name: '主選單' }).getByRole('link', { name: '帳號申請核定' }).click();
    await chief.waitForURL(/\/accounts\/approvals$/);
    await checkPage(chief, 'account-approvals');
    await clickAndLoad(chief, chief.locator(`a[href="/accounts/requests/${requestId}"]`).first());
    // Without a reason the browser keeps the form (the field is required) and nothing is decided.
    await chief.getByRole('button', { name: '核可' }).click();
    expect(await chief.getByLabel('核定意見').evaluate((el) => (el as HTMLTextAreaElement).validity.valueMissing)).to.equal(true);
    expect(await chief.getByLabel('核定意見').evaluate((el) => el === document.activeElement)).to.equal(true);
    expect((await app.db('account_requests').where({ id: requestId }).first('status')).status).to.equal('pending');
    await chief.getByLabel('核定意見').fill('同意，依業務需要配賦查詢權限');
    await clickAndLoad(chief, chief.getByRole('button', { name: '核可' }));
    expect(await chief.locator('.flash').textContent()).to.contain('已核可');
    expect(await chief.locator('.timeline').textContent()).to.contain('核可');
  });

  it('the admin provisions the account; the activation code is shown once', async () => {
    await admin.getByRole('navigation', { name: '主選單' }).getByRole('link', { name: '帳號配賦' }).click();
    await admin.waitForURL(/\/accounts\/todo$/);
    await clickAndLoad(admin, admin.locator(`a[href="/accounts/requests/${requestId}"]`).first());
    await clickAndLoad(admin, admin.getByRole('button', { name: '執行配賦' }));
    expect(await admin.getByRole('heading', { level: 1 }).textContent()).to.equal('一次性啟用碼');
    code = (await admin.getByLabel('啟用碼').textContent())!.trim();
    expect(code.length).to.be.greaterThan(7);
    await checkPage(admin, 'account-activation-code');
    await admin.goto(`/accounts/requests/${requestId}`);
    expect(await admin.locator('main').textContent()).not.to.contain(code);
    const u = await app.db('users').where({ account: NEW }).first('status');
    expect(u.status).to.equal('pending');
  });

  it('the new clerk activates the account with the code and signs in', async () => {
    const clerk = await app.page();
    await clerk.goto('/password');
    await clerk.getByLabel('帳號').fill(NEW);
    await clerk.getByLabel('目前密碼（或一次性密碼、啟用碼）').fill(code);
    await clerk.getByLabel('新密碼', { exact: true }).fill('Lin-Tax-Clerk-2026');
    await clerk.getByLabel('再次輸入新密碼').fill('Lin-Tax-Clerk-2026');
    await clickAndLoad(clerk, clerk.getByRole('button', { name: '變更密碼' }));
    expect(await clerk.locator('.flash').textContent()).to.contain('密碼已變更');
    await signIn(clerk, NEW, 'Lin-Tax-Clerk-2026');
    expect(await clerk.locator('main').textContent()).to.contain('林小華');
    expect(await clerk.getByRole('navigation', { name: '主選單' }).getByRole('link', { name: '登錄查詢' }).count()).to.equal(1);
  });

  it('runs the account review and decides a finding', async () => {
    // Make one finding certain: an account idle for a year.
    await app.db('users').where({ account: 'tax.clerk3' }).update({ last_login_at: Date.now() - 400 * 86_400_000, created_at: Date.now() - 500 * 86_400_000 });
    await admin.getByRole('navigation', { name: '主選單' }).getByRole('link', { name: '帳號清查' }).click();
    await admin.waitForURL(/\/accounts\/reviews$/);
    await clickAndLoad(admin, admin.getByRole('button', { name: '立即執行清查' }));
    expect(await admin.locator('.flash').textContent()).to.match(/帳號清查已完成：發現 \d+ 項待決定/);
    await checkPage(admin, 'account-review');
    const row = admin.locator('tbody tr', { hasText: 'tax.clerk3' }).first();
    expect(await row.count()).to.equal(1);
    await row.getByRole('button', { name: '保留' }).click();
    expect(await row.getByLabel('理由').evaluate((el) => (el as HTMLInputElement).validity.valueMissing)).to.equal(true);
    expect(await app.db('review_items as i').join('users as u', 'u.id', 'i.user_id').where('u.account', 'tax.clerk3').where('i.status', 'open').count({ n: '*' }).then((r: any) => Number(r[0].n))).to.be.at.least(1);
    await row.getByLabel('理由').fill('留職停薪中，預定明年復職');
    await clickAndLoad(admin, row.getByRole('button', { name: '保留' }));
    expect(await admin.locator('.flash').textContent()).to.contain('已決定保留');
    const item = await app.db('review_items as i').join('users as u', 'u.id', 'i.user_id').where('u.account', 'tax.clerk3').orderBy('i.id', 'desc').first('i.status', 'i.decision_reason');
    expect(item.status).to.equal('kept');
    expect(item.decision_reason).to.equal('留職停薪中，預定明年復職');
    // The dashboard's account review section reads the same records.
    const plan = await app.page();
    await signIn(plan, app.account('planning_admin'));
    await plan.goto('/dashboard');
    expect(await plan.locator('#h-review + p').textContent()).to.contain('最近一次清查');
    const taxRow = plan.locator('#t-review tbody tr', { hasText: '南投縣政府稅務局' });
    expect(Number(await taxRow.locator('td').nth(1).textContent())).to.be.at.least(1);
  });
});
