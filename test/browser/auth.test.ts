// Signing in and changing an expiring password, in a real browser, as a clerk would.
import { expect } from 'chai';
import { startBrowserApp, checkPage, signIn, signOut, pressAndLoad, clickAndLoad, DEMO_PASSWORD, type BrowserApp } from '../support/browser.ts';

describe('browser: sign-in and password change', function () {
  this.timeout(300_000);
  let app: BrowserApp;
  before(async () => {
    app = await startBrowserApp();
  });
  after(async () => app?.close());

  it('the login form refuses empty and wrong input in Chinese beside the fields, keeping the account typed', async () => {
    const page = await app.page();
    await page.goto('/login');
    await checkPage(page, 'login');
    await clickAndLoad(page, page.getByRole('button', { name: '登入' }));
    expect(await page.locator('#account-error').textContent()).to.match(/[\u4e00-\u9fff]/);
    expect(await page.getByLabel('帳號').getAttribute('aria-invalid')).to.equal('true');
    await page.getByLabel('帳號').fill('soc.clerk1');
    await page.getByLabel('密碼', { exact: true }).fill('wrong-password');
    await page.getByLabel('密碼', { exact: true }).focus();
    await pressAndLoad(page);
    expect(await page.getByRole('alert').textContent()).to.contain('帳號或密碼不正確');
    expect(await page.getByLabel('帳號').inputValue()).to.equal('soc.clerk1');
    expect(await page.getByLabel('密碼', { exact: true }).inputValue(), 'a password is never sent back').to.equal('');
    await checkPage(page, 'login-errors');
  });

  it('a clerk whose password expired is sent to change it without typing it again, gets field messages for a weak one, then signs in with the new one', async () => {
    const account = app.account('clerk', 'SOC');
    // The demo data has fresh passwords: make this one 91 days old.
    await app.db('users').where({ account }).update({ password_changed_at: Date.now() - 91 * 86_400_000 });
    const page = await app.page();
    await page.goto('/login');
    await page.getByLabel('帳號').fill(account);
    await page.getByLabel('密碼', { exact: true }).fill(DEMO_PASSWORD);
    await Promise.all([page.waitForURL(/\/password/), page.getByLabel('密碼', { exact: true }).press('Enter')]);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.contain('變更密碼');
    expect(await page.locator('.flash').textContent()).to.contain('密碼已逾期');
    expect(await page.getByLabel('帳號').inputValue()).to.equal(account);
    // Sign-in just checked the password in this session: it is not asked a second time.
    expect(await page.locator('#current').count()).to.equal(0);
    expect(await page.locator('#proven-hint').textContent()).to.contain('直接設定新密碼');
    await checkPage(page, 'password-expired');

    // Empty: the field named, nothing stored.
    const before = await app.db('users').where({ account }).first('password_hash');
    await clickAndLoad(page, page.getByRole('button', { name: '變更密碼' }));
    expect(await page.locator('#next-error').textContent()).to.match(/[\u4e00-\u9fff]/);
    expect(await page.locator('#current').count()).to.equal(0);
    // Too weak, and a confirmation that does not match.
    await page.getByLabel('新密碼', { exact: true }).fill('short');
    await page.getByLabel('再次輸入新密碼').fill('short');
    await clickAndLoad(page, page.getByRole('button', { name: '變更密碼' }));
    expect(await page.locator('#next-error').textContent()).to.match(/[\u4e00-\u9fff]/);
    expect(await page.getByLabel('帳號').inputValue()).to.equal(account);
    await checkPage(page, 'password-errors');
    expect((await app.db('users').where({ account }).first('password_hash')).password_hash).to.equal(before.password_hash);

    // A good one, typed by keyboard only.
    const fresh = 'Nantou-Clerk-2027';
    await page.getByLabel('新密碼', { exact: true }).focus();
    await page.keyboard.press('Control+A');
    await page.keyboard.type(fresh);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(fresh);
    await Promise.all([page.waitForURL(/\/login/), page.keyboard.press('Enter')]);
    expect(await page.locator('.flash').textContent()).to.contain('密碼已變更');

    await signIn(page, account, fresh);
    expect(new URL(page.url()).pathname).to.equal('/');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.contain('首頁');
    expect(await page.locator('main').textContent()).to.contain('使用者（查詢人員）');
    await checkPage(page, 'home-clerk');
    await signOut(page);
  });
});
