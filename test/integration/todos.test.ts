// The to-do list (待辦事項, issue 18) on prepared records: each role sees its own open duties with
// the due date the rules set and a link, nobody sees another's, overdue duties are marked, done
// duties leave the list, and the number of queries does not grow with the data.
import { expect } from 'chai';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, signIn } from '../support/app.ts';
import { makeApprovedRequest, makeUser, recordTestEntries, seedAccountPeople, seedTree, type Tree } from '../support/fixtures.ts';
import { setClock } from '../../server/time.ts';
import { todosFor } from '../../server/todos/service.ts';

const JAN = Date.parse('2026-01-20T04:00:00Z'); // 民國 115 年 1 月 20 日 12:00 in Taipei
const NOV = Date.parse('2026-11-15T04:00:00Z');
const DAY = 86_400_000;

describe(`to-do list (${ENGINE})`, function () {
  this.timeout(120_000);
  let t: TestDb;
  let tree: Tree;
  let ids: Record<string, number>;
  let app: ReturnType<typeof appFor>;
  const person = async (account: string) => {
    const u = await t.db('users').where({ account }).first('id', 'unit_id');
    const roles = await t.db('user_roles').where({ user_id: u.id }).pluck('role');
    return { id: Number(u.id), account, unitId: Number(u.unit_id), roles };
  };
  const todos = async (account: string, at = JAN) => todosFor(t.db, t.cfg, await person(account), at);
  const kinds = async (account: string, at = JAN) => (await todos(account, at)).map((x) => x.kind);

  async function check(period: string, checker: number, items: Array<{ entry: number; verdict?: string | null; explained?: boolean; checker?: number }>): Promise<number> {
    const [id] = await t.db('checks').insert({
      unit_id: tree.AG1, period, generation: 1, seed: 'ab'.repeat(32), population: items.length, population_digest: 'cd'.repeat(32), sample_size: items.length,
      rate_percent: 3, minimum: 10, status: 'open', checker_id: checker, created_at: JAN - 30 * DAY,
    });
    for (const i of items) {
      await t.db('check_items').insert({
        check_id: Number(id), entry_id: i.entry, basis: 'random', flags: '', checker_id: i.checker ?? checker, verdict: i.verdict ?? null,
        explanation_requested_at: i.verdict === 'explanation-needed' ? JAN - 5 * DAY : null, explanation: i.explained ? '個案訪視' : null, explained_at: i.explained ? JAN - DAY : null,
      });
    }
    return Number(id);
  }

  before(async () => {
    t = await migratedDb();
    tree = await seedTree(t.db);
    ids = await seedAccountPeople(t.db, tree);
    app = appFor(t);
    setClock(() => JAN);
    const clerk = { userId: ids['ag1.clerk'], account: 'ag1.clerk', unitId: tree.AG1 };
    const e = await recordTestEntries(t.db, t.cfg, [0, 1, 2, 3, 4, 5].map((n) => ({ ...clerk, queriedAt: Date.parse('2025-11-03T02:00:00Z') + n * DAY * 5 })));
    const entry = (n: number) => Number(e[n].id);
    // December's check: one item to judge, one explanation asked and not given, one explained (to judge again).
    await check('2025-12', ids['ag1.checker'], [{ entry: entry(3) }, { entry: entry(4), verdict: 'explanation-needed' }, { entry: entry(5), verdict: 'explanation-needed', explained: true }]);
    // November's check: every item settled, not signed off: overdue since 31 December.
    await check('2025-11', ids['ag1.checker'], [{ entry: entry(0), verdict: 'proper' }, { entry: entry(1), verdict: 'improper' }, { entry: entry(2), verdict: 'proper' }]);
    // 4(一)1: a form awaiting the supervisor.
    await makeApprovedRequest(t.db, { userId: ids['ag1.clerk'], unitId: tree.AG1, status: 'pending' });
    // 3(二)2: a finding about the agency's clerk for its admin.
    const [rev] = await t.db('account_reviews').insert({ period: '2026-Q1', trigger: 'manual', started_at: JAN - 2 * DAY, finished_at: JAN - 2 * DAY, users_checked: 3, findings: 1 });
    await t.db('review_items').insert({ review_id: Number(rev), user_id: ids['ag1.clerk'], unit_id: tree.AG1, finding: 'idle', status: 'open' });
    // 3(二)1(6): a job change five days ahead; one far ahead (not yet shown).
    await makeUser(t.db, { account: 'ag1.leaving', unitId: tree.AG1, roles: ['clerk'] });
    await t.db('users').where({ account: 'ag1.leaving' }).update({ disable_on: '2026-01-25' });
    await makeUser(t.db, { account: 'ag1.later', unitId: tree.AG1, roles: ['clerk'] });
    await t.db('users').where({ account: 'ag1.later' }).update({ disable_on: '2026-06-30' });
    // 5(二): an open investigation with the ethics unit taking part.
    const [inv] = await t.db('investigations').insert({ unit_id: tree.AG1, title: '異常查詢', status: 'open', opened_by: ids['ag1.checker'], opened_at: JAN - 3 * DAY });
    await t.db('investigation_participants').insert({ investigation_id: Number(inv), user_id: ids['ag1.ethics'], side: 'ethics', added_at: JAN - 3 * DAY });
    // 5(五): AG2 filed 2025 (not yet acknowledged); AG1 has not. 5(三): AG2 signed its audit of 2025-H2.
    await t.db('annual_filings').insert({ unit_id: tree.AG2, year: 2025, workbook_sha256: 'e'.repeat(64), submitted_by: ids['ag2.admin'], submitted_at: JAN - DAY });
    await makeUser(t.db, { account: 'ag2.auditor', unitId: tree.AG2, roles: ['auditor'] });
    await t.db('internal_audits').insert({ unit_id: tree.AG2, period: '2025-H2', status: 'signed', checklist: '[]', evidence_at: JAN, opened_at: JAN - 9 * DAY, signed_at: JAN - 8 * DAY });
    // 3(二)1(5): the clerk's password reaches its 90 days in 10 days.
    await t.db('users').where({ id: ids['ag1.clerk'] }).update({ password_changed_at: JAN - 80 * DAY });
  });
  after(async () => {
    setClock(null);
    await t?.drop();
  });

  it("gives the checker the items to judge and the check to sign off, with the rules' due dates", async () => {
    const list = await todos('ag1.checker');
    const judge = list.find((x) => x.kind === 'check-items')!;
    expect(judge).to.include({ count: 2, due: '2026-01-31' });
    expect(judge.href).to.match(/^\/checks\/\d+$/);
    const sign = list.find((x) => x.kind === 'check-sign-off')!;
    expect(sign).to.include({ due: '2025-12-31', count: 1 });
    expect(list[0].kind, 'overdue first').to.equal('check-sign-off');
  });

  it('gives the clerk the explanation asked and their own password expiring within 14 days', async () => {
    const list = await todos('ag1.clerk');
    expect(list.map((x) => x.kind)).to.have.members(['explanation', 'password-expiry']);
    expect(list.find((x) => x.kind === 'explanation')).to.include({ count: 1, due: '2026-01-31', href: '/explanations' });
    expect(list.find((x) => x.kind === 'password-expiry')).to.include({ due: '2026-01-30', href: '/password' });
    expect(await kinds('u1.clerk')).to.deep.equal([]);
  });

  it("gives the agency's admin the finding, the disable falling due and the filing; the supervisor the form", async () => {
    const admin = await todos('ag1.admin');
    expect(admin.map((x) => x.kind)).to.have.members(['review-items', 'disable-due', 'filing']);
    expect(admin.find((x) => x.kind === 'disable-due')).to.include({ count: 1, due: '2026-01-25' });
    expect(admin.find((x) => x.kind === 'filing')).to.include({ due: '2026-01-31', href: '/audits/annual' });
    expect(await kinds('ag1.sup')).to.deep.equal(['query-request']);
    expect(await kinds('ag2.sup'), 'another agency').to.deep.equal([]);
    expect(await kinds('ag2.admin'), 'filed already').to.deep.equal([]);
    expect(await kinds('plan.admin')).to.deep.equal(['filing-acknowledge']);
  });

  it('gives auditors the unsigned half-year audit (overdue) and ethics the investigation', async () => {
    const audit = (await todos('ag1.auditor')).filter((x) => x.kind === 'internal-audit');
    expect(audit.map((x) => [x.ref, x.due])).to.deep.equal([['2025-H2', '2025-12-31']]);
    expect((await todos('ag2.auditor')).filter((x) => x.kind === 'internal-audit'), 'signed').to.deep.equal([]);
    const ethics = await todos('ag1.ethics');
    expect(ethics.map((x) => x.kind)).to.deep.equal(['investigation']);
    expect(ethics[0].href).to.match(/^\/investigations\/\d+$/);
  });

  it("shows the link review and the current half's audit near the year's end", async () => {
    const admin = await todos('ag1.admin', NOV);
    expect(admin.find((x) => x.kind === 'link-review')).to.include({ count: 2, due: '2026-12-31', href: '/audits/links' });
    expect((await todos('ag1.auditor', NOV)).filter((x) => x.kind === 'internal-audit').map((x) => x.ref)).to.deep.equal(['2026-H1', '2026-H2']);
    expect((await todos('ag1.admin', JAN)).some((x) => x.kind === 'link-review'), 'not in January').to.equal(false);
  });

  it('drops a duty once done: an explanation given, the sign-off made', async () => {
    const c = await t.db('checks').where({ period: '2025-12' }).first('id');
    await t.db('check_items').where({ check_id: c.id, verdict: 'explanation-needed' }).whereNull('explained_at').update({ explanation: '依案辦理', explained_at: JAN, explained_by: ids['ag1.clerk'] });
    expect(await kinds('ag1.clerk')).to.deep.equal(['password-expiry']);
    expect((await todos('ag1.checker')).find((x) => x.kind === 'check-items')).to.include({ count: 3 });
    await t.db('checks').where({ period: '2025-11' }).update({ status: 'signed-off', signed_off_by: ids['ag1.checker'], signed_off_at: JAN });
    expect(await kinds('ag1.checker')).to.deep.equal(['check-items']);
    // Restore for the tests after this one.
    await t.db('checks').where({ period: '2025-11' }).update({ status: 'open', signed_off_by: null, signed_off_at: null });
  });

  it('reads in a number of queries that does not grow with the records', async () => {
    let n = 0;
    const count = () => { n++; };
    t.db.on('query', count);
    n = 0;
    await todos('ag1.checker');
    const small = n;
    const more = await recordTestEntries(t.db, t.cfg, Array.from({ length: 40 }, (_, i) => ({ userId: ids['ag1.clerk'], account: 'ag1.clerk', unitId: tree.AG1, queriedAt: Date.parse('2025-10-01T02:00:00Z') + i * 3_600_000 })));
    for (let m = 0; m < 4; m++) await check(`2025-0${m + 5}`, ids['ag1.checker'], more.slice(m * 10, m * 10 + 10).map((x) => ({ entry: Number(x.id) })));
    n = 0;
    const list = await todos('ag1.checker');
    t.db.off('query', count);
    expect(list.filter((x) => x.kind === 'check-items')).to.have.length(5);
    expect(n).to.equal(small);
  });

  it('answers GET /api/v1/me/todos and draws the home-page panel, in ROC dates', async () => {
    const s = await signIn(app, 'ag1.checker');
    const res = await s.agent.get('/api/v1/me/todos');
    expect(res.status).to.equal(200);
    expect(res.body.total).to.equal(res.body.items.length);
    const sign = res.body.items.find((x: any) => x.kind === 'check-sign-off');
    expect(sign).to.include({ due: '2025-12-31', overdue: true });
    const home = await s.agent.get('/');
    expect(home.text).to.include('待辦事項').and.include('簽核民國 114 年 11 月查核').and.include('民國 114 年 12 月 31 日').and.include('（已逾期）');
    expect((await request401()).status).to.equal(401);
  });

  const request401 = async () => (await import('supertest')).default(app).get('/api/v1/me/todos');
});
