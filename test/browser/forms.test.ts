// Forms narrowed to what the user may do (issue 17), in a real browser: the admin's menu grouped by
// duty, a favicon, the account request form offering only the admin's units and the agency's
// scopes by name, switching request forms on the entry page, length limits told and counted, and a
// first sign-in with a one-time password going straight to choosing a new one.
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { startBrowserApp, checkPage, signIn, signOut, clickAndLoad, tabTo, pressAndLoad, type BrowserApp } from '../support/browser.ts';
import { generateNationalId } from '../../server/queries/subject.ts';

describe('browser: forms narrowed to what the user may do', function () {
  this.timeout(480_000);
  let app: BrowserApp;
  before(async () => {
    app = await startBrowserApp();
  });
  after(async () => app?.close());

  /** Every 404 the page's loads meet (the favicon was one on every page). */
  const watch404 = (page: Page): string[] => {
    const missing: string[] = [];
    page.on('response', (r) => { if (r.status() === 404) missing.push(r.url()); });
    return missing;
  };

  it('the planning admin\'s menu is grouped by duty, works by keyboard, and no page misses its icon', async () => {
    const page = await app.page();
    const missing = watch404(page);
    await signIn(page, app.account('planning_admin'));
    const nav = page.getByRole('navigation', { name: '主選單' });
    const links = await nav.getByRole('link').count();
    expect(links, 'the admin has many entries').to.be.greaterThan(12);
    const groups = (await nav.locator('.nav-group-label').allTextContents()).map((s) => s.trim());
    expect(groups).to.deep.equal(['查詢紀錄', '查核與對帳', '稽核與報府', '帳號與權限', '系統與完整性']);
    // A handful of things at the top level: 首頁, the five groups, 我的帳號; no group longer than seven.
    expect(await nav.locator('ul.nav-sections > li').count()).to.be.at.most(7);
    for (const n of await nav.locator('.nav-group > ul').evaluateAll((uls) => uls.map((u) => u.children.length))) expect(n).to.be.at.most(7);
    // Each group is a list named by its heading.
    const accounts = nav.getByRole('list', { name: '帳號與權限' });
    expect(await accounts.getByRole('link', { name: '帳號清冊' }).count()).to.equal(1);
    await checkPage(page, 'forms-menu-grouped');
    // Keyboard only: Tab to an entry inside a group and follow it.
    await page.goto('/');
    await tabTo(page, '帳號清冊', 80);
    await pressAndLoad(page);
    expect(new URL(page.url()).pathname).to.equal('/accounts/users');
    expect(await nav.locator('[aria-current="page"]').textContent()).to.equal('帳號清冊');
    expect(await nav.locator('.nav-group.current .nav-group-label').textContent()).to.equal('帳號與權限');
    // The icon: linked in the layout, and /favicon.ico answers too.
    expect(await page.locator('link[rel="icon"]').getAttribute('href')).to.equal('/assets/favicon.svg');
    const ico = await page.request.get('/favicon.ico');
    expect(ico.status()).to.equal(200);
    expect(ico.headers()['content-type']).to.contain('image/svg+xml');
    expect((await page.request.get('/assets/favicon.svg')).status()).to.equal(200);
    expect(missing, missing.join('\n')).to.deep.equal([]);
  });

  it('the account request form offers an agency admin only its own units and its agency\'s scopes, by name; the planning admin\'s grid follows the chosen unit', async () => {
    const page = await app.page();
    await signIn(page, 'soc.admin');
    await page.goto('/accounts/requests/new');
    const units = (await page.locator('#f-unit option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).filter(Boolean);
    expect(units).to.have.members(['SOC', 'SOC-PL', 'SOC-CT']);
    const socScopes = (await app.db('unit_scopes as us').join('units as u', 'u.id', 'us.unit_id').join('scopes as s', 's.id', 'us.scope_id').where('u.code', 'SOC').andWhere('us.status', 'active').pluck('s.code')) as string[];
    const rows = await page.locator('.perm-grid tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.scope));
    expect(rows).to.have.members(socScopes);
    const in01 = await app.db('op_codes').where({ code: 'IN01' }).first('name');
    expect(await page.locator('.perm-grid thead').textContent()).to.contain(in01.name);
    await checkPage(page, 'forms-account-request-narrowed');

    const plan = await app.page();
    await signIn(plan, app.account('planning_admin'));
    await plan.goto('/accounts/requests/new');
    await plan.locator('#f-unit').selectOption('TAX');
    const visible = await plan.locator('.perm-grid tbody tr:visible').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.scope));
    expect(visible).to.deep.equal(['2-2']);
    await checkPage(plan, 'forms-account-request-planning');
  });

  describe('the query entry page', () => {
    let page: Page;
    let formA: { id: number; case_no: string; scope: string };
    let formB: { id: number; case_no: string; scope: string };
    const entries = async () => Number((await app.db('query_logs').count({ n: '*' }))[0].n);

    before(async () => {
      // Two open forms of one clerk, for two different scopes, with known case numbers.
      const clerk = await app.db('users').where({ account: 'soc.clerk2' }).first('id', 'unit_id');
      const scopes = (await app.db('user_permissions as p').join('scopes as s', 's.id', 'p.scope_id').where('p.user_id', clerk.id).distinct('s.id', 's.code').orderBy('s.code')) as Array<{ id: number; code: string }>;
      expect(scopes.length, 'the demo clerk holds two scopes').to.be.greaterThan(1);
      const t = Date.now();
      const add = async (caseNo: string, scope: { id: number; code: string }) => {
        const [id] = await app.db('query_requests').insert({ unit_id: clerk.unit_id, requester_id: clerk.id, case_no: caseNo, purpose: '辦理補助資格審查查詢投保資料', scope_id: scope.id, expected_subjects_cipher: null, valid_from: '2000-01-01', valid_to: '2099-12-31', status: 'approved', decided_by: null, decided_at: t, decision_note: '核准', created_at: t });
        return { id: Number(id), case_no: caseNo, scope: scope.code };
      };
      formA = await add('SOC-1150404', scopes[0]);
      formB = await add('SOC-1150505', scopes[1]);
      page = await app.page();
      await signIn(page, 'soc.clerk2');
      await page.goto('/query-logs/new');
    });

    it('switching the request form replaces 案號 and 業務範圍; the server refuses the other form\'s 案號 beside the field', async () => {
      await page.locator('#f-queryRequestId').selectOption(String(formA.id));
      expect(await page.locator('#f-caseNo').inputValue()).to.equal(formA.case_no);
      expect(await page.locator('#f-scope').inputValue()).to.equal(formA.scope);
      await page.locator('#f-queryRequestId').selectOption(String(formB.id));
      expect(await page.locator('#f-caseNo').inputValue(), 'form B\'s case number, not form A\'s').to.equal(formB.case_no);
      expect(await page.locator('#f-scope').inputValue()).to.equal(formB.scope);
      expect(await page.locator(`#f-queryRequestId option[value="${formB.id}"]`).textContent(), 'the form names its scope').to.match(/[\u4e00-\u9fff]{4,}/);
      await checkPage(page, 'forms-entry-switched');

      // Form A's case number typed back under form B: refused beside 案號, nothing stored.
      const before = await entries();
      await page.locator('#f-caseNo').fill(formA.case_no);
      await page.locator('#f-opCode').selectOption({ index: 1 });
      await page.locator('#f-reason').fill('辦理補助資格審查查詢投保狀態');
      await page.locator('#f-subjectValue').fill(generateNationalId());
      await clickAndLoad(page, page.getByRole('button', { name: /登錄/ }));
      expect(await page.locator('#f-caseNo-error').textContent()).to.contain(formB.case_no);
      expect(await page.locator('#f-caseNo').getAttribute('aria-invalid')).to.equal('true');
      expect(await entries()).to.equal(before);
      await checkPage(page, 'forms-entry-wrong-case');
    });

    it('a paste longer than 案號\'s limit is kept and counted, not cut, and the server names the field', async () => {
      await page.goto('/query-logs/new');
      const limit = page.locator('#f-caseNo-limit');
      expect(await limit.textContent()).to.contain('最多 64 字');
      const long = 'SOC-' + '1'.repeat(66); // 70 characters
      await page.locator('#f-caseNo').fill(long); // as a paste: one input event
      expect((await page.locator('#f-caseNo').inputValue()).length, 'nothing cut').to.equal(70);
      expect(await limit.textContent()).to.contain('已輸入 70 字，超過 6 字');
      expect(await page.locator('#f-caseNo').getAttribute('aria-invalid')).to.equal('true');
      await checkPage(page, 'forms-entry-too-long');
      // Typing back under the limit clears the mark; the count follows each key.
      await page.locator('#f-caseNo').fill(formB.case_no);
      expect(await limit.textContent()).to.contain(`已輸入 ${formB.case_no.length} 字`);
      expect(await page.locator('#f-caseNo').getAttribute('aria-invalid')).to.equal(null);
      await page.locator('#f-reason').focus();
      await page.keyboard.type('查詢');
      expect(await page.locator('#f-reason-limit').textContent()).to.contain('最多 500 字').and.contain('已輸入 2 字');
      // Sent anyway (over the limit): the server refuses beside the field, nothing stored.
      await page.locator('#f-queryRequestId').selectOption(String(formB.id));
      await page.locator('#f-caseNo').fill(long);
      await page.locator('#f-opCode').selectOption({ index: 1 });
      await page.locator('#f-reason').fill('辦理補助資格審查查詢投保狀態');
      await page.locator('#f-subjectValue').fill(generateNationalId());
      const before = await entries();
      await clickAndLoad(page, page.getByRole('button', { name: /登錄/ }));
      expect(await page.locator('#f-caseNo-error').textContent()).to.contain('最多 64 字');
      expect(await page.locator('#f-caseNo').inputValue()).to.equal(long);
      expect(await entries()).to.equal(before);
    });
  });

  it('a first sign-in with a one-time password goes straight to choosing a new one', async () => {
    const account = 'soc.clerk3';
    await app.db('users').where({ account }).update({ must_change_password: true });
    const page = await app.page();
    await page.goto('/login');
    await page.getByLabel('帳號').fill(account);
    await page.getByLabel('密碼', { exact: true }).fill('Demo-Passw0rd-2026');
    await Promise.all([page.waitForURL(/\/password/), page.getByLabel('密碼', { exact: true }).press('Enter')]);
    expect(await page.locator('#current').count(), 'the one-time password is not asked twice').to.equal(0);
    expect(await page.getByLabel('帳號').inputValue()).to.equal(account);
    await checkPage(page, 'forms-first-sign-in');
    const fresh = 'Nantou-First-2027';
    await page.getByLabel('新密碼', { exact: true }).fill(fresh);
    await page.getByLabel('再次輸入新密碼').fill(fresh);
    await Promise.all([page.waitForURL(/\/login/), page.getByRole('button', { name: '變更密碼' }).click()]);
    expect(await page.locator('.flash').textContent()).to.contain('密碼已變更');
    await signIn(page, account, fresh);
    expect(new URL(page.url()).pathname).to.equal('/');
    await signOut(page);
  });
});
