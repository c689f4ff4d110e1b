// The daily screens (issue 17) in a real browser, with screenshots and an axe scan of each state.
// One calendar: an agency auditor filters the query log by dates typed in the ROC calendar
// (115/11/01, and the compact 1151130), reads every date in ROC, and a date that does not read is
// refused beside its field asking for a ROC date; the checks page reads months the same way.
// Going live: an agency added after a month's sampling is owed its check, and the planning
// department draws it from the web.
import { expect } from 'chai';
import { startBrowserApp, checkPage, signIn, clickAndLoad, type BrowserApp } from '../support/browser.ts';
import { localMonth, monthRange, now, previousMonth, rocYear, ROC_DATE_HINT } from '../../server/time.ts';

const ISO_DAY = /\b(19|20)\d{2}-\d{2}-\d{2}\b/;

describe('browser: the daily screens — one calendar, and going live', function () {
  this.timeout(480_000);
  let app: BrowserApp;
  before(async () => {
    app = await startBrowserApp();
  });
  after(async () => app?.close());

  it('the query log takes 115/11/01 and 1151130, shows ROC dates only, and asks for a ROC date when one does not read', async () => {
    const page = await app.page();
    await signIn(page, 'tax.auditor');
    // Last month: the demo county holds entries in it.
    const month = previousMonth(localMonth(now()));
    const [y, m] = month.split('-').map(Number);
    const roc = `${rocYear(y)}/${String(m).padStart(2, '0')}`;
    const lastDay = new Date(monthRange(month)[1] - 1 + 8 * 3_600_000).getUTCDate();
    await page.goto('/query-logs');
    await page.getByLabel('起日').fill(`${roc}/01`);
    await page.getByLabel('迄日').fill(`${roc.replace('/', '')}${lastDay}`);
    await clickAndLoad(page, page.getByRole('button', { name: '查詢' }));
    expect(await page.getByLabel('起日').inputValue()).to.equal(`${roc}/01`);
    expect(await page.getByLabel('迄日').inputValue()).to.equal(`${roc}/${lastDay}`);
    const times = await page.locator('table tbody tr td:nth-child(2)').allTextContents();
    expect(times.length, 'the month has entries').to.be.greaterThan(0);
    for (const t of times) expect(t.trim()).to.match(new RegExp(`^${roc}/\\d{2} \\d{2}:\\d{2}$`));
    expect(await page.locator('main').innerText()).to.not.match(ISO_DAY);
    await checkPage(page, 'calendar-query-log-roc');

    await page.getByLabel('起日').fill(`${rocYear(y)}/13/01`);
    await clickAndLoad(page, page.getByRole('button', { name: '查詢' }));
    const from = page.getByLabel('起日');
    expect(await from.getAttribute('aria-invalid')).to.equal('true');
    expect(await page.locator('#f-from-error').textContent()).to.contain(ROC_DATE_HINT);
    expect(await page.locator('main').innerText()).to.not.contain('ISO').and.not.contain('YYYY');
    await checkPage(page, 'calendar-query-log-refused');
  });

  it('the checks page reads the month as 民國年/月 and titles it in ROC', async () => {
    const page = await app.page();
    await signIn(page, 'tax.auditor');
    const month = previousMonth(localMonth(now()));
    const [y, m] = month.split('-').map(Number);
    await page.goto('/checks');
    await page.getByLabel('月份（民國年/月）').fill(`${rocYear(y)}/${String(m).padStart(2, '0')}`);
    await clickAndLoad(page, page.getByRole('button', { name: '查詢' }));
    const main = await page.locator('main').innerText();
    expect(main).to.contain(`${rocYear(y)}`).and.not.match(ISO_DAY).and.not.match(new RegExp(`\\b${y}-${String(m).padStart(2, '0')}\\b`));
    await checkPage(page, 'calendar-checks-month');
  });

  it('an agency added after last month\'s sampling is listed as owed, drawn with one press, and no longer owed', async () => {
    const plan = await app.db('units').where({ kind: 'planning' }).first('id');
    await app.db('units').insert({ code: 'NEWAG', name: '新設機關', kind: 'agency', parent_id: plan.id, has_sections: false, status: 'active', created_at: Date.now() });
    const page = await app.page();
    await signIn(page, app.account('planning_admin'));
    const month = previousMonth(localMonth(now()));
    await page.goto(`/checks/draw?month=${month}`);
    const row = page.getByRole('row', { name: /新設機關/ });
    expect(await row.count()).to.equal(1);
    await checkPage(page, 'going-live-draw-owed');
    await clickAndLoad(page, row.getByRole('button', { name: '補抽本月查核' }));
    expect(new URL(page.url()).pathname).to.match(/^\/checks\/\d+$/);
    expect(await page.locator('main').innerText()).to.contain('已補抽 NEWAG 之查核');
    await checkPage(page, 'going-live-drawn');
    await page.goto(`/checks/draw?month=${month}`);
    expect(await page.getByRole('row', { name: /新設機關/ }).count()).to.equal(0);
  });
});
