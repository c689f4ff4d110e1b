// One calendar (issue 17): forms take and show ROC dates, months, years and half years; a date that
// does not read asks for a ROC date; the API keeps ISO 8601.
import { expect } from 'chai';
import type { Express } from 'express';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, csrfFromHtml, signIn, type Signed } from '../support/app.ts';
import { makeUser, seedTree, type Tree } from '../support/fixtures.ts';
import { localDate, now, rocYear } from '../../server/time.ts';

describe(`ROC dates on forms, ISO in the API (${ENGINE})`, function () {
  this.timeout(120_000);
  let t: TestDb;
  let app: Express;
  let tree: Tree;
  let auditor: Signed;
  const thisYear = Number(localDate(now()).slice(0, 4));
  const roc = rocYear(thisYear);

  before(async () => {
    t = await migratedDb({ LOGIN_RATE_PER_MINUTE: '1000' });
    app = appFor(t);
    tree = await seedTree(t.db);
    await makeUser(t.db, { account: 'ag1.auditor', unitId: tree.AG1, roles: ['auditor'], rank: 'division_chief' });
    auditor = await signIn(app, 'ag1.auditor');
  });
  after(async () => { await t?.drop(); });

  it('the query-log filter takes 115/12/01 and 1151203, shows them in ROC, and asks for a ROC date otherwise', async () => {
    const ok = await auditor.agent.get(`/query-logs?from=${encodeURIComponent(`${roc}/01/01`)}&to=${roc}0102&_roc=from&_roc=to`);
    expect(ok.status).to.equal(200);
    expect(ok.text).to.contain(`value="${roc}/01/01"`).and.contain(`value="${roc}/01/02"`);
    const bad = await auditor.agent.get(`/query-logs?from=${encodeURIComponent(`${roc}/13/01`)}&_roc=from`);
    expect(bad.status).to.equal(400);
    expect(bad.text).to.contain('請輸入民國日期，例如「115/12/03」').and.not.contain('ISO 8601').and.not.contain('YYYY-MM-DD');
    // The API keeps ISO 8601.
    expect((await auditor.agent.get(`/api/v1/query-logs?from=${thisYear}-01-01&to=${thisYear}-01-02`)).status).to.equal(200);
  });

  it('the checks page takes the month as 民國年/月 and names a ROC month when it does not read', async () => {
    const last = `${roc}/01`;
    const ok = await auditor.agent.get(`/checks?month=${encodeURIComponent(last)}`);
    expect(ok.status).to.equal(200);
    expect(ok.text).to.contain('月份（民國年/月）').and.contain(`value="${last}"`);
    const bad = await auditor.agent.get('/checks?month=abc');
    expect(bad.text).to.contain('請輸入民國年月，例如「115/11」');
  });

  it('year fields are 民國年: the annual page and the link review read 114 and show it so', async () => {
    const annual = await auditor.agent.get(`/audits/annual?year=${roc - 1}`);
    expect(annual.status).to.equal(200);
    expect(annual.text).to.contain('年度（民國年）').and.contain(`value="${roc - 1}"`).and.not.contain('西元');
    const wrong = await auditor.agent.get('/audits/annual?year=abc');
    expect(wrong.status).to.equal(400);
    expect(wrong.text).to.contain('請輸入年度（民國年），例如「115」');
    const csrf = csrfFromHtml(annual.text);
    const refused = await auditor.agent.post('/audits/annual/exports').type('form').send({ _csrf: csrf, year: '1899' });
    expect(refused.status).to.equal(400);
    expect(refused.text).to.contain('民國年').and.contain('value="1899"');
    expect(await t.db('export_jobs').count({ n: '*' }).first().then((r: any) => Number(r.n))).to.equal(0);
    await makeUser(t.db, { account: 'ag1.admin', unitId: tree.AG1, roles: ['admin'], rank: 'division_chief' });
    const admin = await signIn(app, 'ag1.admin');
    const links = await admin.agent.get(`/audits/links?year=${roc - 1}`);
    expect(links.status).to.equal(200);
    expect(links.text).to.contain(`${roc - 1} 年度`).and.not.contain(`（${thisYear - 1}）`);
  });

  it('an internal audit is opened for 「115 年上半年」 and its period reads so on the pages', async () => {
    const page = await auditor.agent.get('/audits');
    expect(page.text).to.match(/value="1\d\d 年[上下]半年"/);
    const csrf = csrfFromHtml(page.text);
    const bad = await auditor.agent.post('/audits').type('form').send({ _csrf: csrf, unit: String(tree.AG1), period: `${thisYear}-H3` });
    expect(bad.status).to.equal(400);
    expect(bad.text).to.contain('請輸入半年度，例如「115 年上半年」');
    const made = await auditor.agent.post('/audits').type('form').send({ _csrf: csrf, unit: String(tree.AG1), period: `${roc} 年上半年` });
    expect(made.status, made.text).to.equal(303);
    const a = await t.db('internal_audits').orderBy('id', 'desc').first('id', 'period');
    expect(a.period).to.equal(`${thisYear}-H1`);
    const list = await auditor.agent.get('/audits');
    expect(list.text).to.contain(`${roc} 年上半年`).and.not.contain(`>${thisYear}-H1<`);
    const one = await auditor.agent.get(`/audits/${a.id}`);
    expect(one.text).to.contain(`<title>內部稽核 `).and.contain(`${roc} 年上半年`);
  });
});
