// Going live (issue 17): a period's job is done per agency. A start on an empty database records
// empty runs; agencies and entries added afterwards get their checks, account review and annual
// workbook at the next catch-up or run; the planning department draws a missing check from the
// web; seed-demo works before or after a start and twice.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { makeUser, recordTestEntries, seedTree, type Tree } from '../support/fixtures.ts';
import { appFor, csrfFromHtml, signIn } from '../support/app.ts';
import { cli } from '../support/cli.ts';
import { catchUp } from '../../jobs/schedule.ts';
import { runJob } from '../../jobs/runner.ts';
import type { JobDef } from '../../jobs/registry.ts';
import { monthlySamplingJob } from '../../server/checks/index.ts';
import { accountReviewJob } from '../../server/accounts/review.ts';
import { annualReportJob } from '../../server/audits/index.ts';
import { allJobs } from '../../server/capabilities.ts';
import { latestReview } from '../../server/dashboard/repo.ts';
import { createDb } from '../../server/db.ts';
import { localMonth, monthRange, now, previousMonth } from '../../server/time.ts';

const PREV = previousMonth(localMonth(now()));
const THIS = localMonth(now());
const LAST_YEAR = String(Number(THIS.slice(0, 4)) - 1);
const JOBS: JobDef[] = [monthlySamplingJob, accountReviewJob, annualReportJob];
const tmpExports = () => fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-golive-'));

const runsOf = (t: TestDb, job: string, period: string) => t.db('job_runs').where({ job, period }).orderBy('generation').select('generation', 'status', 'scope', 'covered', 'trigger');
const checksOf = async (t: TestDb, period: string) => Object.fromEntries((await t.db('checks as c').join('units as u', 'u.id', 'c.unit_id').where({ 'c.period': period }).whereNot('c.status', 'superseded').select('u.code', 'c.population')).map((r: any) => [r.code, Number(r.population)]));

/** n entries of the agency in the month, a day apart from its 2nd, at 10:00 Taipei. */
async function entriesIn(t: TestDb, user: { id: number; account: string; unitId: number }, month: string, n: number) {
  const [start] = monthRange(month);
  await recordTestEntries(t.db, t.cfg, Array.from({ length: n }, (_, i) => ({ userId: user.id, account: user.account, unitId: user.unitId, queriedAt: start + (i % 25 + 1) * 86_400_000 + 2 * 3_600_000 + i * 60_000 })));
}

describe(`going live: jobs done per agency (${ENGINE})`, function () {
  this.timeout(180_000);
  let t: TestDb;
  let tree: Tree;
  const ctx = () => ({ cfg: t.cfg, db: t.db });
  const clerks: Record<string, { id: number; account: string; unitId: number }> = {};

  before(async () => {
    t = await migratedDb({ EXPORT_DIR: tmpExports() });
  });
  after(() => t.drop());

  it('a start on an empty database records empty runs, not work done, and builds no empty county workbook', async () => {
    await catchUp(ctx(), JOBS);
    const sampling = await runsOf(t, 'monthly-sampling', PREV);
    expect(sampling).to.have.length(1);
    expect(sampling[0]).to.include({ status: 'done', covered: 0 });
    expect(await checksOf(t, PREV)).to.deep.equal({});
    const review = await runsOf(t, 'account-review', THIS);
    expect(review[0]).to.include({ status: 'done', covered: 0 });
    const reviewRow = await t.db('account_reviews').where({ period: THIS }).first('users_checked', 'summary');
    expect(Number(reviewRow.users_checked)).to.equal(0);
    expect(JSON.parse(reviewRow.summary).empty).to.equal(true);
    expect((await runsOf(t, 'annual-report', LAST_YEAR))[0]).to.include({ status: 'done', covered: 0 });
    expect(await t.db('export_jobs').where({ kind: 'annual' }).count({ n: '*' }).first()).to.deep.include({ n: 0 });
  });

  it('agencies and entries added afterwards get their checks, review and workbook at the next catch-up', async () => {
    tree = await seedTree(t.db);
    for (const [code, unitId] of [['ag1', tree.AG1], ['ag2', tree.AG2]] as const) {
      await makeUser(t.db, { account: `${code}.chief`, unitId, roles: ['checker', 'supervisor'], rank: 'division_chief' });
      // AG1's clerk has a password past its age: a finding of the review.
      const id = await makeUser(t.db, { account: `${code}.clerk`, unitId, roles: ['clerk'], ...(code === 'ag1' ? { passwordChangedAt: now() - 200 * 86_400_000 } : {}) });
      clerks[code] = { id, account: `${code}.clerk`, unitId };
    }
    await makeUser(t.db, { account: 'plan.admin', unitId: tree.PLAN, roles: ['planning_admin'], rank: 'section_chief' });
    await entriesIn(t, clerks.ag1, `${LAST_YEAR}-12`, 2);
    await entriesIn(t, clerks.ag1, PREV, 12);
    await entriesIn(t, clerks.ag2, PREV, 3);

    await catchUp(ctx(), JOBS);
    expect(await checksOf(t, PREV)).to.deep.equal({ AG1: 12, AG2: 3 });
    const sampling = await runsOf(t, 'monthly-sampling', PREV);
    expect(sampling.map((r: any) => [r.generation, r.scope, r.covered, r.trigger])).to.deep.equal([[1, 'all', 0, 'catch-up'], [2, 'missing', 2, 'catch-up']]);
    const review = await runsOf(t, 'account-review', THIS);
    expect(review[1]).to.include({ scope: 'missing', covered: 3 }); // PLAN, AG1, AG2
    const reviewed = await t.db('account_reviews').where({ period: THIS }).orderBy('id', 'desc').first('users_checked');
    expect(Number(reviewed.users_checked)).to.equal(5);
    const annual = await runsOf(t, 'annual-report', LAST_YEAR);
    expect(annual[1]).to.include({ status: 'done', scope: 'missing', covered: 1 }); // AG1 had entries; AG2 none
    const workbooks = await t.db('export_jobs').where({ kind: 'annual', status: 'done' }).pluck('unit_id');
    expect(workbooks.map((u: any) => (u == null ? null : Number(u)))).to.have.members([tree.AG1, tree.AG2, null]);

    // Nothing owed: a further catch-up runs nothing, and a run without --force is refused.
    const before = await t.db('job_runs').count({ n: '*' }).first();
    await catchUp(ctx(), JOBS);
    expect(await t.db('job_runs').count({ n: '*' }).first()).to.deep.equal(before);
    expect((await runJob(ctx(), monthlySamplingJob, { period: PREV })).status).to.equal('already-done');
  });

  it('a run for a done period covers only the agency added since, and leaves the others\' checks alone', async () => {
    const [ag3] = await t.db('units').insert({ code: 'AG3', name: '民政處', kind: 'agency', parent_id: tree.PLAN, has_sections: false, status: 'active', created_at: now() });
    const chief = await makeUser(t.db, { account: 'ag3.chief', unitId: Number(ag3), roles: ['checker'], rank: 'division_chief' });
    void chief;
    const clerk = await makeUser(t.db, { account: 'ag3.clerk', unitId: Number(ag3), roles: ['clerk'] });
    const openBefore = await t.db('checks').where({ period: PREV, status: 'open' }).pluck('id');
    const out = await runJob(ctx(), monthlySamplingJob, { period: PREV });
    expect(out.status).to.equal('ran');
    expect(await checksOf(t, PREV)).to.deep.equal({ AG1: 12, AG2: 3, AG3: 0 });
    // AG3 had no entries: its check is empty, and so is the run. Entries recorded late make it owed again.
    expect(out.status === 'ran' && out.covered).to.equal(0);
    const openNow = await t.db('checks').where({ period: PREV, status: 'open' }).pluck('id');
    expect(openNow).to.include.members(openBefore);
    await entriesIn(t, { id: clerk, account: 'ag3.clerk', unitId: Number(ag3) }, PREV, 4);
    await catchUp(ctx(), JOBS);
    expect(await checksOf(t, PREV)).to.deep.equal({ AG1: 12, AG2: 3, AG3: 4 });
    expect(await t.db('checks').where({ period: PREV, status: 'open' }).pluck('id')).to.include.members(openBefore);
    // AG3's accounts were reviewed by a top-up; the dashboard still counts AG1's finding of the earlier review.
    expect((await runsOf(t, 'account-review', THIS)).pop()).to.include({ scope: 'missing', covered: 1 });
    const { review, items } = await latestReview(t.db, null);
    expect(review!.usersChecked).to.equal(7);
    expect(items.some((i) => i.unitId === tree.AG1 && i.status === 'open')).to.equal(true);
  });

  it('a forced run still re-samples every agency as the next generation', async () => {
    const out = await runJob(ctx(), monthlySamplingJob, { period: PREV, force: true });
    expect(out.status === 'ran' && out.covered).to.equal(3);
    const last = (await runsOf(t, 'monthly-sampling', PREV)).pop();
    expect(last).to.include({ scope: 'all' });
  });

  it('two instances catching up at once draw a new agency\'s check once', async () => {
    const [ag4] = (await t.db('units').insert({ code: 'AG4', name: '工務處', kind: 'agency', parent_id: tree.PLAN, has_sections: false, status: 'active', created_at: now() })).map(Number);
    const clerk = await makeUser(t.db, { account: 'ag4.clerk', unitId: ag4, roles: ['clerk'] });
    await entriesIn(t, { id: clerk, account: 'ag4.clerk', unitId: ag4 }, PREV, 5);
    const other = createDb(t.cfg);
    try {
      await Promise.all([catchUp(ctx(), [monthlySamplingJob]), catchUp({ cfg: t.cfg, db: other }, [monthlySamplingJob])]);
    } finally {
      await other.destroy();
    }
    const rows = await t.db('checks').where({ unit_id: ag4, period: PREV }).select('generation', 'population');
    expect(rows.map((r: any) => [Number(r.generation), Number(r.population)])).to.deep.equal([[1, 5]]);
    expect(await t.db('job_run_units').where({ unit_id: ag4, job: 'monthly-sampling', period: PREV }).count({ n: '*' }).first()).to.deep.include({ n: 1 });
  });

  describe('the planning department draws a missing check from the web', () => {
    let ag5: number;
    before(async () => {
      [ag5] = (await t.db('units').insert({ code: 'AG5', name: '地政處', kind: 'agency', parent_id: tree.PLAN, has_sections: false, status: 'active', created_at: now() })).map(Number);
      await makeUser(t.db, { account: 'ag5.chief', unitId: ag5, roles: ['checker'], rank: 'division_chief' });
      const clerk = await makeUser(t.db, { account: 'ag5.clerk', unitId: ag5, roles: ['clerk'] });
      await entriesIn(t, { id: clerk, account: 'ag5.clerk', unitId: ag5 }, PREV, 11);
    });

    it('lists the agency owed and the month\'s runs with the empty one marked, and draws it by the page form', async () => {
      const app = appFor(t);
      const me = await signIn(app, 'plan.admin');
      const page = await me.agent.get(`/checks/draw?month=${PREV}`);
      expect(page.status).to.equal(200);
      expect(page.text).to.contain('地政處（AG5）');
      expect(page.text).not.to.contain('社會處（AG1）');
      expect(page.text).to.contain('空白執行');
      const csrf = csrfFromHtml(page.text);
      const noToken = await me.agent.post('/checks/draw').type('form').send({ month: PREV, unit: 'AG5' });
      expect(noToken.status).to.equal(403);
      expect(await checksOf(t, PREV)).not.to.have.property('AG5');
      const res = await me.agent.post('/checks/draw').type('form').send({ _csrf: csrf, month: PREV, unit: 'AG5' });
      expect(res.status).to.equal(303);
      const check = await t.db('checks').where({ unit_id: ag5, period: PREV }).first('id', 'population');
      expect(res.headers.location).to.equal(`/checks/${check.id}`);
      expect(Number(check.population)).to.equal(11);
      const ev = await t.db('system_events').where({ action: 'check-drawn', target_id: String(check.id) }).first('actor_account', 'unit_id');
      expect(ev).to.deep.include({ actor_account: 'plan.admin' });
      expect(Number(ev.unit_id)).to.equal(ag5);
      const run = (await runsOf(t, 'monthly-sampling', PREV)).pop();
      expect(run).to.include({ scope: 'agency', trigger: 'web', covered: 1 });
      // Drawn once: the page no longer offers it, and the API answers 409 without a second check.
      expect((await me.agent.get(`/checks/draw?month=${PREV}`)).text).not.to.contain('地政處（AG5）');
      const again = await me.agent.post('/api/v1/checks/draw').set('X-CSRF-Token', me.csrf).send({ month: PREV, unit: 'AG5' });
      expect(again.status).to.equal(409);
      expect(await t.db('checks').where({ unit_id: ag5, period: PREV }).count({ n: '*' }).first()).to.deep.include({ n: 1 });
    });

    it('the API names the bad field, refuses other roles, and draws with 201', async () => {
      const app = appFor(t);
      const me = await signIn(app, 'plan.admin');
      const bad = await me.agent.post('/api/v1/checks/draw').set('X-CSRF-Token', me.csrf).send({ month: THIS, unit: 'AG1' });
      expect(bad.status).to.equal(400);
      expect(bad.body.errors[0].field).to.equal('month');
      const unknown = await me.agent.post('/api/v1/checks/draw').set('X-CSRF-Token', me.csrf).send({ month: PREV, unit: 'AG1-U1' });
      expect(unknown.status).to.equal(400);
      expect(unknown.body.errors[0].field).to.equal('unit');
      const chief = await signIn(app, 'ag1.chief');
      expect((await chief.agent.post('/api/v1/checks/draw').set('X-CSRF-Token', chief.csrf).send({ month: PREV, unit: 'AG1' })).status).to.equal(403);
      expect((await chief.agent.get('/checks/draw')).status).to.equal(403);
      // A month before any run: the draw is the month's first run, for that agency only.
      const older = previousMonth(PREV);
      await entriesIn(t, clerks.ag2, older, 2);
      const ok = await me.agent.post('/api/v1/checks/draw').set('X-CSRF-Token', me.csrf).send({ month: older, unit: 'AG2' });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(201);
      expect(ok.body).to.include({ unit: 'AG2', period: older, population: 2, sampleSize: 2 });
      expect(await checksOf(t, older)).to.deep.equal({ AG2: 2 });
    });
  });
});

describe(`seed-demo in either order with a start, twice (${ENGINE})`, function () {
  this.timeout(600_000);
  const seed = async (t: TestDb) => {
    const r = await cli(['seed-demo', '--password', 'Demo-Passw0rd-9', '--json'], { ...t.env, EXPORT_DIR: t.cfg.EXPORT_DIR });
    expect(r.code, r.stderr).to.equal(0);
    return (JSON.parse(r.stdout.trim().split('\n').pop()!).accounts as Array<{ account: string }>).map((a) => a.account).sort();
  };
  const demoAgencies = async (t: TestDb) => (await t.db('units').where({ kind: 'agency' }).orderBy('code').pluck('code')) as string[];

  it('seed-demo twice adds nothing the second time and --json lists every account both times', async () => {
    const t = await migratedDb({ EXPORT_DIR: tmpExports() });
    try {
      const first = await seed(t);
      expect(first.length).to.be.greaterThan(30);
      const users = await t.db('users').count({ n: '*' }).first();
      const checks = await t.db('checks').count({ n: '*' }).first();
      const second = await seed(t);
      expect(second).to.deep.equal(first);
      expect(await t.db('users').count({ n: '*' }).first()).to.deep.equal(users);
      expect(await t.db('checks').count({ n: '*' }).first()).to.deep.equal(checks);
    } finally {
      await t.drop();
    }
  });

  it('seed-demo after a start on an empty database still gets last month\'s checks, and the next catch-up reviews its accounts', async () => {
    const t = await migratedDb({ EXPORT_DIR: tmpExports() });
    try {
      const ctx = { cfg: t.cfg, db: t.db };
      await catchUp(ctx, allJobs());
      expect((await runsOf(t, 'monthly-sampling', PREV))[0]).to.include({ covered: 0 });
      const accounts = await seed(t);
      expect(accounts.length).to.be.greaterThan(30);
      const agencies = await demoAgencies(t);
      expect(Object.keys(await checksOf(t, PREV)).sort()).to.deep.equal(agencies);
      // The latest month is left open with its improper item, as seed-demo alone leaves it.
      expect(await t.db('check_items').where({ verdict: 'improper' }).count({ n: '*' }).first()).to.deep.include({ n: 1 });
      await catchUp(ctx, JOBS);
      const review = (await runsOf(t, 'account-review', THIS)).pop();
      expect(review).to.include({ scope: 'missing' });
      expect(Number(review.covered)).to.equal(agencies.length + 1);
    } finally {
      await t.drop();
    }
  });
});
