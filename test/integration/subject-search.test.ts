// Masked national IDs cannot be completed by searching (hardening, issue 13): a search by a
// person's identifier is reveal-class — revealing roles only, within what they may reveal, with a
// stated purpose, recorded, throttled per account with an alert to the ethics unit — on every way
// in (API filter, search, log page, export), and no answer tells "none" from "not yours".
import { expect } from 'chai';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, csrfFromHtml, getFile, signIn, type Signed } from '../support/app.ts';
import { makeUser, nationalId, recordTestEntries, seedTree, type Tree } from '../support/fixtures.ts';
import { maskSubject } from '../../server/queries/subject.ts';

const LIMIT = 3;
const PURPOSE = '受理當事人依個資法申請查詢';

describe(`search by a person's identifier is reveal-class (${ENGINE})`, function () {
  this.timeout(120_000);
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  const s: Record<string, Signed> = {};
  const ids: Record<string, number> = {};
  const inAg1 = nationalId(11); // queried in AG1 only
  const never = nationalId(12); // queried nowhere

  before(async () => {
    t = await migratedDb({ SUBJECT_SEARCH_PER_HOUR: String(LIMIT), LOGIN_RATE_PER_MINUTE: '1000' });
    tree = await seedTree(t.db);
    app = appFor(t);
    const people: Array<[string, number, any[]]> = [
      ['clerk.a', tree.AG1, ['clerk']], ['chief.a', tree.AG1, ['supervisor', 'checker']], ['it.a', tree.AG1, ['it']],
      ['aud.a', tree.AG1, ['auditor']], ['aud.b', tree.AG2, ['auditor']], ['aud.b2', tree.AG2, ['auditor']], ['aud.b3', tree.AG2, ['auditor']],
      ['eth.a', tree.AG1, ['ethics']], ['eth.b', tree.AG2, ['ethics']], ['eth.plan', tree.PLAN, ['ethics']], ['aud.plan', tree.PLAN, ['auditor']],
    ];
    for (const [account, unitId, roles] of people) ids[account] = await makeUser(t.db, { account, unitId, roles });
    await recordTestEntries(t.db, t.cfg, [1, 2, 3].map(() => ({ userId: ids['clerk.a'], account: 'clerk.a', unitId: tree.AG1, subject: { type: 'national-id' as const, value: inAg1 } })));
    for (const [account] of people) s[account] = await signIn(app, account);
  });
  after(() => t.drop());

  const search = (who: string, body: Record<string, unknown>) =>
    s[who].agent.post('/api/v1/query-logs/search').set('X-CSRF-Token', s[who].csrf).send(body);
  const searches = async (who: string) => Number((await t.db('system_events').where({ action: 'query-log.subject-search', actor_id: ids[who] }).count({ n: '*' }))[0].n);

  it('the plain search, the list page and the export take no identifier, for any role: the mask cannot be completed by reading totals', async () => {
    // The attack of the review: try the ~1,000 candidates of a mask through `subjectId` and read `total`.
    for (const who of ['chief.a', 'it.a', 'aud.a', 'aud.plan']) {
      for (const qs of [`subjectId=${inAg1}`, `subjectId=${never}`, 'subjectType=national-id']) {
        const res = await s[who].agent.get(`/api/v1/query-logs?${qs}`);
        expect(res.status, `${who} ${qs}`).to.equal(400);
        expect(res.body).to.not.have.property('total');
        expect(res.body.errors.map((e: any) => e.field)).to.deep.equal(['subjectId']);
      }
      const exp = await getFile(s[who].agent, `/query-logs/export.xlsx?subjectId=${inAg1}`);
      expect(exp.status, who).to.equal(400);
    }
    // The list page ignores it: the same page with and without the identifier.
    const plain = await s['chief.a'].agent.get('/query-logs');
    const withId = await s['chief.a'].agent.get(`/query-logs?subjectId=${inAg1}&subjectType=national-id`);
    expect(withId.status).to.equal(200);
    const total = (html: string) => /共\s*(\d+)\s*筆/.exec(html)?.[1] ?? html.match(/(\d+) 筆/)?.[1];
    expect(total(withId.text)).to.equal(total(plain.text));
    expect(await searches('chief.a')).to.equal(0);
  });

  it('only revealing roles search, with a purpose; a refused or purposeless search is not run', async () => {
    for (const who of ['clerk.a', 'chief.a', 'it.a']) {
      const res = await search(who, { subjectType: 'national-id', subjectId: inAg1, purpose: PURPOSE });
      expect(res.status, who).to.equal(403);
      expect(JSON.stringify(res.body)).to.not.contain('total');
      expect((await s[who].agent.get('/query-logs/who')).status, who).to.equal(403);
    }
    const none = await search('aud.a', { subjectType: 'national-id', subjectId: inAg1 });
    expect(none.status).to.equal(400);
    expect(none.body.errors.map((e: any) => e.field)).to.deep.equal(['purpose']);
    const placeholder = await search('aud.a', { subjectType: 'national-id', subjectId: inAg1, purpose: '查詢' });
    expect(placeholder.status).to.equal(400);
    expect(await searches('aud.a')).to.equal(0);
  });

  it('answers within reach only, and "none" looks exactly like "not yours"', async () => {
    const own = await search('aud.a', { subjectType: 'national-id', subjectId: inAg1, purpose: PURPOSE });
    expect(own.status).to.equal(200);
    expect(own.body.total).to.equal(3);
    expect(own.body.items[0].subject.masked).to.equal(maskSubject({ type: 'national-id', value: inAg1 }));
    // Another agency's auditor: the same person's entries are outside reach, and the answer is the
    // answer for a person queried nowhere (status, body, headers that matter).
    const outside = await search('aud.b', { subjectType: 'national-id', subjectId: inAg1, purpose: PURPOSE });
    const nowhere = await search('aud.b', { subjectType: 'national-id', subjectId: never, purpose: PURPOSE });
    expect(outside.status).to.equal(200);
    expect(outside.body).to.deep.equal(nowhere.body);
    expect(outside.body).to.deep.equal({ items: [], total: 0, offset: 0, limit: 50 });
    expect(outside.headers['content-length']).to.equal(nowhere.headers['content-length']);
    // Ethics of the agency without an investigation: nothing; the county's ethics and auditors: all.
    expect((await search('eth.a', { subjectId: inAg1, purpose: PURPOSE })).body.total).to.equal(0);
    expect((await search('aud.plan', { subjectId: inAg1, purpose: PURPOSE })).body.total).to.equal(3);
    expect((await search('eth.plan', { subjectId: inAg1, purpose: PURPOSE })).body.total).to.equal(3);
    // Each search is recorded with its purpose and the mask, never the identifier.
    const ev = await t.db('system_events').where({ action: 'query-log.subject-search', actor_id: ids['aud.b'] }).select('detail');
    expect(ev.length).to.equal(2);
    expect(JSON.stringify(ev)).to.contain(PURPOSE).and.not.contain(inAg1).and.not.contain(never);
  });

  it(`past ${LIMIT} searches an hour: 429 on the API and the page, one alert the ethics unit of the agency sees, not another agency's`, async () => {
    const who = 'aud.b2';
    for (let i = 0; i < LIMIT; i++) expect((await search(who, { subjectId: never, purpose: PURPOSE })).status).to.equal(200);
    const over = await search(who, { subjectId: inAg1, purpose: PURPOSE });
    expect(over.status).to.equal(429);
    expect(over.headers['content-type']).to.contain('application/problem+json');
    expect(over.body).to.not.have.property('total');
    const page = await s[who].agent.get('/query-logs/who');
    const overPage = await s[who].agent.post('/query-logs/who').type('form').send({ _csrf: csrfFromHtml(page.text), subjectType: 'national-id', subjectId: never, purpose: PURPOSE });
    expect(overPage.status).to.equal(429);
    expect(overPage.text).to.contain('政風').and.not.contain(never);
    expect(await searches(who)).to.equal(LIMIT);
    const alerts = await t.db('system_events').where({ action: 'query-log.subject-search-throttled', actor_id: ids[who] });
    expect(alerts.length, 'one alert per account and hour').to.equal(1);
    const seen = async (eth: string) => (await s[eth].agent.get('/api/v1/alerts')).body.items.filter((a: any) => a.account === who).length;
    expect(await seen('eth.b')).to.equal(1);
    expect(await seen('eth.plan')).to.equal(1);
    expect(await seen('eth.a')).to.equal(0);
    const alertPage = await s['eth.b'].agent.get('/alerts');
    expect(alertPage.text).to.contain(who).and.contain('依證號搜尋超過每小時上限');
    expect((await s['aud.b'].agent.get('/api/v1/alerts')).status).to.equal(403);
  });

  it('parallel searches cannot slip past the limit', async () => {
    const who = 'aud.b3';
    const all = await Promise.all(Array.from({ length: 8 }, () => search(who, { subjectId: never, purpose: PURPOSE })));
    const codes = all.map((r) => r.status).sort();
    expect(codes.filter((c) => c === 200).length).to.equal(LIMIT);
    expect(codes.filter((c) => c === 429).length).to.equal(8 - LIMIT);
    expect(await searches(who)).to.equal(LIMIT);
  });
});
