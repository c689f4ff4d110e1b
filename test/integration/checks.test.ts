import { expect } from 'chai';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, signIn, getFile, csrfFromHtml } from '../support/app.ts';
import { cli } from '../support/cli.ts';
import { makeApprovedRequest, makeUser, recordTestEntries, seedTree, type Tree } from '../support/fixtures.ts';
import { createDb } from '../../server/db.ts';
import { runJob } from '../../jobs/runner.ts';
import { allCommands } from '../../server/capabilities.ts';
import { monthlySamplingJob } from '../../server/checks/index.ts';
import { populationDigest, sampleSize, selectSample } from '../../server/checks/rules.ts';
import { ethicsRanges, investigationEntryIds } from '../../server/checks/ethics-scope.ts';
import { subjectHmac } from '../../server/queries/subject.ts';
import { monthRange, startOfLocalDay } from '../../server/time.ts';
import { cellText } from '../../reports/cells.ts';

const PERIOD = '2026-03';
const at = (date: string, hhmm: string) => startOfLocalDay(date) + (Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3))) * 60_000;
// Weekdays of March 2026 (Mon 2 … Tue 31), office hours.
const WEEKDAYS = Array.from({ length: 31 }, (_, i) => `2026-03-${String(i + 1).padStart(2, '0')}`).filter((d) => ![0, 6].includes(new Date(`${d}T12:00:00+08:00`).getUTCDay()));
const OWN_ID = 'A123456789';
const SHARED_ID = 'B120000004';

describe(`monthly checks (${ENGINE})`, function () {
  this.timeout(120_000);
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  let AG3: number;
  const u: Record<string, number> = {};
  const cmd = (name: string) => allCommands().find((c) => c.name === name)!;
  const run = async (name: string, flags: Record<string, string>) => {
    const lines: string[] = [];
    const code = await cmd(name).run({ cfg: t.cfg, db: t.db }, { positional: name.split(' '), flags }, (s) => lines.push(s));
    return { code, text: lines.join('\n') };
  };
  const currentCheck = (unitId: number, period = PERIOD) => t.db('checks').where({ unit_id: unitId, period }).orderBy('generation', 'desc').first();

  before(async () => {
    t = await migratedDb();
    tree = await seedTree(t.db);
    app = appFor(t);
    const [ag3] = await t.db('units').insert({ code: 'AG3', name: '地政處', kind: 'agency', parent_id: tree.PLAN, has_sections: true, status: 'active', created_at: Date.now() });
    AG3 = Number(ag3);
    u.chk1 = await makeUser(t.db, { account: 'chk1', unitId: tree.AG1, roles: ['checker', 'clerk'], rank: 'section_chief', name: '查核一' });
    u.chk2 = await makeUser(t.db, { account: 'chk2', unitId: tree.AG1U1, roles: ['checker'], rank: 'division_chief', name: '查核二' });
    u.clk1 = await makeUser(t.db, { account: 'clk1', unitId: tree.AG1, roles: ['clerk'], name: '承辦一' });
    u.clk2 = await makeUser(t.db, { account: 'clk2', unitId: tree.AG1U1, roles: ['clerk'] });
    u.clk3 = await makeUser(t.db, { account: 'clk3', unitId: tree.AG1U1A, roles: ['clerk'] });
    u.sect2 = await makeUser(t.db, { account: 'sect2', unitId: tree.AG2, roles: ['checker'], rank: 'section_chief' }); // AG2 has no sections: not eligible
    u.clk4 = await makeUser(t.db, { account: 'clk4', unitId: tree.AG2U1, roles: ['clerk'] });
    u.adm1 = await makeUser(t.db, { account: 'adm1', unitId: tree.AG1, roles: ['admin'] });
    u.plan = await makeUser(t.db, { account: 'plan', unitId: tree.PLAN, roles: ['planning_admin'] });
    u.eth1 = await makeUser(t.db, { account: 'eth1', unitId: tree.AG1, roles: ['ethics'] });
    u.it1 = await makeUser(t.db, { account: 'it1', unitId: tree.PLAN, roles: ['it'] });
    // Created after the sampling would have no effect on it: AG2 still has no eligible checker then.
    await t.db('users').where({ id: u.clk1 }).update({ person_hmac: subjectHmac(t.cfg.SUBJECT_HMAC_KEY, { type: 'national-id', value: OWN_ID }) });
    const req = async (userId: number, unitId: number) => makeApprovedRequest(t.db, { userId, unitId });
    const r: Record<string, number> = {};
    for (const k of ['chk1', 'clk1', 'clk2', 'clk3']) r[k] = await req(u[k], k === 'clk2' ? tree.AG1U1 : k === 'clk3' ? tree.AG1U1A : tree.AG1);
    r.clk4 = await req(u.clk4, tree.AG2U1);
    const e = (who: string, unitId: number, queriedAt: number, extra: Record<string, unknown> = {}) => ({ userId: u[who], account: who, unitId, queriedAt, queryRequestId: r[who], ...extra });
    const entries: any[] = [];
    // February: a few entries (for the concurrency test).
    for (let i = 0; i < 15; i++) entries.push(e('clk1', tree.AG1, at(`2026-02-${String(2 + (i % 20)).padStart(2, '0')}`, '10:00')));
    // March, AG1: 400 ordinary entries by clk1/clk2 on weekdays in office hours.
    for (let i = 0; i < 400; i++) {
      const who = i % 2 ? 'clk1' : 'clk2';
      entries.push(e(who, who === 'clk1' ? tree.AG1 : tree.AG1U1, at(WEEKDAYS[i % WEEKDAYS.length], `${String(9 + (i % 8)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}`)));
    }
    // Risk cases.
    entries.push(e('chk1', tree.AG1, at('2026-03-04', '07:30'))); // after hours, by the checker
    entries.push(e('chk1', tree.AG1, at('2026-03-05', '19:10'))); // after hours, by the checker
    entries.push(e('clk2', tree.AG1U1, at('2026-03-07', '10:00'))); // Saturday
    entries.push(e('clk1', tree.AG1, at('2026-03-10', '10:00'), { queryRequestId: null })); // no request form
    entries.push(e('clk1', tree.AG1, at('2026-03-11', '10:00'), { subject: { type: 'national-id', value: OWN_ID } })); // own ID
    for (const who of ['clk1', 'clk2', 'clk3']) entries.push(e(who, who === 'clk1' ? tree.AG1 : who === 'clk2' ? tree.AG1U1 : tree.AG1U1A, at('2026-03-12', '11:00'), { subject: { type: 'national-id', value: SHARED_ID } }));
    for (const d of ['2026-03-16', '2026-03-17', '2026-03-18']) entries.push(e('clk3', tree.AG1U1A, at(d, '09:00')));
    for (let i = 0; i < 8; i++) entries.push(e('clk3', tree.AG1U1A, at('2026-03-19', `1${i}:00`))); // spike: 8 > 3 × median
    entries.push(e('clk1', tree.AG1, at('2026-03-31', '17:59')));
    entries.push(e('clk1', tree.AG1, at('2026-04-01', '00:00'))); // April: outside the population
    // March, AG2: 5 entries.
    for (let i = 0; i < 5; i++) entries.push(e('clk4', tree.AG2U1, at('2026-03-02', `1${i}:00`)));
    entries.sort((a, b) => a.queriedAt - b.queriedAt);
    await recordTestEntries(t.db, t.cfg, entries);
  });
  after(() => t.drop());

  const monthEntries = async (unitIds: number[], period = PERIOD) => {
    const [s, e] = monthRange(period);
    return t.db('query_logs').whereIn('unit_id', unitIds).andWhere('queried_at', '>=', s).andWhere('queried_at', '<', e).orderBy('seq').select('id', 'user_id', 'hash');
  };
  const AG1_UNITS = () => [tree.AG1, tree.AG1U1, tree.AG1U1A];

  it('job run monthly-sampling refuses a malformed or unfinished period, and the CLI says so (exit 2)', async () => {
    expect((await runJob({ cfg: t.cfg, db: t.db }, monthlySamplingJob, { period: '2026-13' })).status).to.equal('bad-period');
    expect((await runJob({ cfg: t.cfg, db: t.db }, monthlySamplingJob, { period: '2099-01' })).status).to.equal('bad-period');
    const r = await cli(['job', 'run', 'monthly-sampling', '--period', '2099-01'], t.env);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/has not ended/);
    expect(await t.db('checks').count('* as n').first()).to.deep.include({ n: 0 });
  });

  it('samples every agency: population of the agency and its units in the month, seed and digest recorded, empty agencies recorded', async () => {
    const out = await runJob({ cfg: t.cfg, db: t.db }, monthlySamplingJob, { period: PERIOD });
    expect(out.status).to.equal('ran');
    const c1 = await currentCheck(tree.AG1);
    const pop = await monthEntries(AG1_UNITS());
    expect(Number(c1.population)).to.equal(pop.length).and.to.equal(400 + 2 + 1 + 1 + 1 + 3 + 3 + 8 + 1);
    expect(c1.population_digest).to.equal(populationDigest(pop.map((p: any) => p.hash)));
    expect(c1.seed).to.match(/^[0-9a-f]{64}$/);
    const n = sampleSize(pop.length);
    expect(Number(c1.sample_size)).to.equal(n).and.to.equal(13);
    const random = await t.db('check_items').where({ check_id: c1.id, basis: 'random' }).pluck('entry_id');
    expect(random.map(Number).sort((a, b) => a - b)).to.deep.equal(selectSample(c1.seed, pop.map((p: any) => Number(p.id)), n).sort((a, b) => a - b));
    const c2 = await currentCheck(tree.AG2);
    expect(Number(c2.population)).to.equal(5);
    expect(Number(c2.sample_size)).to.equal(5);
    const c3 = await currentCheck(AG3);
    expect(Number(c3.population)).to.equal(0);
    expect(c3.population_digest).to.equal(crypto.createHash('sha256').digest('hex'));
    expect(await t.db('check_items').where({ check_id: c3.id }).count('* as n').first()).to.deep.include({ n: 0 });
  });

  it('adds risk-flagged entries on top of the random sample, labelled with their rule', async () => {
    const c1 = await currentCheck(tree.AG1);
    const items = await t.db('check_items').where({ check_id: c1.id }).select('entry_id', 'basis', 'flags');
    expect(items.filter((i: any) => i.basis === 'random').length).to.equal(Number(c1.sample_size));
    const flagged = items.filter((i: any) => i.basis.startsWith('flag:'));
    expect(flagged.length).to.be.greaterThan(0);
    const allFlags = new Set(items.flatMap((i: any) => (i.flags ? i.flags.split(',') : [])));
    for (const rule of ['after-hours', 'holiday', 'shared-subject', 'volume-spike', 'no-request', 'own-subject']) expect(allFlags.has(rule), rule).to.equal(true);
    const entries = new Map((await monthEntries(AG1_UNITS())).map((e: any) => [Number(e.id), e]));
    const ids = new Set(items.map((i: any) => Number(i.entry_id)));
    expect([...ids].every((id) => entries.has(id))).to.equal(true);
    // The two after-hours entries of the checker, the Saturday entry, the spike day (8 entries) are all in.
    const afterHours = items.filter((i: any) => i.flags.split(',').includes('after-hours'));
    expect(afterHours.length).to.be.greaterThanOrEqual(2);
    expect(items.filter((i: any) => i.flags.split(',').includes('volume-spike')).length).to.equal(8);
    expect(items.filter((i: any) => i.flags.split(',').includes('shared-subject')).length).to.equal(3);
  });

  it('nobody checks an entry they recorded: the checker\'s own queries go to another eligible checker', async () => {
    const c1 = await currentCheck(tree.AG1);
    expect(Number(c1.checker_id)).to.be.oneOf([u.chk1, u.chk2]);
    const rows = await t.db('check_items as i').join('query_logs as q', 'q.id', 'i.entry_id').where('i.check_id', c1.id).select('i.checker_id', 'q.user_id');
    expect(rows.every((r: any) => r.checker_id != null && Number(r.checker_id) !== Number(r.user_id))).to.equal(true);
    const own = rows.filter((r: any) => Number(r.user_id) === Number(c1.checker_id));
    const checkerRecordedSome = Number(c1.checker_id) === u.chk1;
    if (checkerRecordedSome) expect(own.length).to.be.greaterThanOrEqual(2);
    expect(own.every((r: any) => Number(r.checker_id) !== Number(c1.checker_id))).to.equal(true);
  });

  it('no eligible checker is a visible problem on the dashboard', async () => {
    const c2 = await currentCheck(tree.AG2);
    expect(c2.checker_id).to.equal(null);
    expect(c2.assignment_problem).to.match(/無符合資格之查核人員/);
    const s = await signIn(app, 'plan');
    const home = await s.agent.get('/');
    expect(home.text).to.contain('無符合資格之查核人員').and.contain('衛生局');
    u.chief2 = await makeUser(t.db, { account: 'chief2', unitId: tree.AG2, roles: ['checker'], rank: 'division_chief' });
  });

  it('re-running a finished period is refused; --force keeps the earlier sample as history', async () => {
    const before = await currentCheck(tree.AG1);
    expect((await runJob({ cfg: t.cfg, db: t.db }, monthlySamplingJob, { period: PERIOD })).status).to.equal('already-done');
    await t.db('county_settings').insert({ key: 'checks.flag.after-hours', value: '0', updated_at: Date.now() });
    try {
      const out = await runJob({ cfg: t.cfg, db: t.db }, monthlySamplingJob, { period: PERIOD, force: true });
      expect(out.status).to.equal('ran');
      const now1 = await currentCheck(tree.AG1);
      expect(Number(now1.generation)).to.equal(2);
      expect(now1.seed).not.to.equal(before.seed);
      expect(now1.population_digest).to.equal(before.population_digest);
      const old = await t.db('checks').where({ id: before.id }).first();
      expect(old.status).to.equal('superseded');
      expect(await t.db('check_items').where({ check_id: before.id }).count('* as n').first()).to.deep.include({ n: (await t.db('check_items').where({ check_id: before.id })).length });
      const flags = (await t.db('check_items').where({ check_id: now1.id }).pluck('flags')).join(',');
      expect(flags).not.to.contain('after-hours'); // switched off for the county
    } finally {
      await t.db('county_settings').where({ key: 'checks.flag.after-hours' }).del();
    }
  });

  it('two knex pools running the job for the same period produce one sample', async () => {
    const other = createDb(t.cfg);
    try {
      const outs = await Promise.all([
        runJob({ cfg: t.cfg, db: t.db }, monthlySamplingJob, { period: '2026-02' }),
        runJob({ cfg: t.cfg, db: other }, monthlySamplingJob, { period: '2026-02' }),
      ]);
      expect(outs.filter((o) => o.status === 'ran').length).to.equal(1);
      expect(outs.map((o) => o.status).sort()).to.satisfy((s: string[]) => s[0] === 'already-done' || s[0] === 'already-running' || s[1] === 'already-running');
      const rows = await t.db('checks').where({ period: '2026-02' }).select('unit_id', 'generation');
      expect(rows.length).to.equal(3);
      expect(rows.every((r: any) => Number(r.generation) === 1)).to.equal(true);
    } finally {
      await other.destroy();
    }
  });

  it('checks verify: exit 0 when the sample re-derives; 1 naming a changed sample or a changed population', async () => {
    const ok = await run('checks verify', { period: PERIOD, unit: 'AG1' });
    expect(ok.code, ok.text).to.equal(0);
    const viaCli = await cli(['checks', 'verify', '--period', PERIOD, '--unit', 'AG1-U1'], t.env);
    expect(viaCli.code, viaCli.stdout + viaCli.stderr).to.equal(0);
    expect((await run('checks verify', { period: PERIOD, unit: 'AG3' })).code).to.equal(0); // the recorded empty check
    expect((await run('checks verify', { period: '2026-01', unit: 'AG1' })).code).to.equal(1); // never sampled
    expect((await run('checks verify', { period: '2026-3', unit: 'AG1' })).code).to.equal(2);
    expect((await run('checks verify', { period: PERIOD, unit: 'NOPE' })).code).to.equal(2);
    expect((await run('checks verify', { period: '2099-01', unit: 'AG1' })).code).to.equal(2);

    const c1 = await currentCheck(tree.AG1);
    const item = await t.db('check_items').where({ check_id: c1.id, basis: 'random' }).first();
    const outsider = (await monthEntries(AG1_UNITS())).find(async () => true) as any;
    const notSampled = (await monthEntries(AG1_UNITS())).map((e: any) => Number(e.id)).find((id: number) => id !== Number(item.entry_id) && id !== Number(outsider?.id));
    const taken = new Set((await t.db('check_items').where({ check_id: c1.id }).pluck('entry_id')).map(Number));
    const swap = (await monthEntries(AG1_UNITS())).map((e: any) => Number(e.id)).find((id: number) => !taken.has(id)) ?? notSampled;
    await t.db('check_items').where({ id: item.id }).update({ entry_id: swap });
    const bad = await run('checks verify', { period: PERIOD, unit: 'AG1' });
    expect(bad.code).to.equal(1);
    expect(bad.text).to.match(/changed sample/).and.not.match(/changed population/);
    await t.db('check_items').where({ id: item.id }).update({ entry_id: item.entry_id });

    const victim = (await monthEntries(AG1_UNITS()))[5];
    await t.db('query_logs').where({ id: victim.id }).update({ hash: 'f'.repeat(64) });
    const bad2 = await run('checks verify', { period: PERIOD, unit: 'AG1' });
    expect(bad2.code).to.equal(1);
    expect(bad2.text).to.match(/changed population/);
    await t.db('query_logs').where({ id: victim.id }).update({ hash: victim.hash });
    expect((await run('checks verify', { period: PERIOD, unit: 'AG1' })).code).to.equal(0);
  });

  const checkerOf = async (unitId: number, period = PERIOD) => (Number((await currentCheck(unitId, period)).checker_id) === u.chk1 ? 'chk1' : 'chk2');

  it('GET /api/v1/checks lists the agency\'s checks in the contract shape; bad month, unknown or other unit are clear errors', async () => {
    const s = await signIn(app, await checkerOf(tree.AG1));
    const res = await s.agent.get(`/api/v1/checks?month=${PERIOD}`);
    expect(res.status).to.equal(200);
    expect(res.body.total).to.equal(1);
    const c = res.body.items[0];
    expect(c).to.include.keys('id', 'unit', 'period', 'population', 'sampleSize', 'seed', 'populationDigest', 'status', 'checker', 'items');
    expect(c.unit).to.equal('AG1');
    expect(c.items.filter((i: any) => i.basis === 'random').length).to.equal(c.sampleSize);
    expect(c.items.every((i: any) => i.basis === 'random' || /^flag:[a-z-]+$/.test(i.basis))).to.equal(true);
    const bad = await s.agent.get('/api/v1/checks?month=2026-3');
    expect(bad.status).to.equal(400);
    expect(bad.body.errors[0].field).to.equal('month');
    expect((await s.agent.get('/api/v1/checks?month=2099-01')).status).to.equal(400);
    const unknown = await s.agent.get('/api/v1/checks?unit=NOPE');
    expect(unknown.status).to.equal(400);
    expect(unknown.body.errors[0].field).to.equal('unit');
    expect((await s.agent.get('/api/v1/checks?unit=AG2')).status).to.equal(403);
    const plan = await signIn(app, 'plan');
    const all = await plan.agent.get(`/api/v1/checks?month=${PERIOD}`);
    expect(all.body.total).to.equal(3);
    const clerk = await signIn(app, 'clk1');
    expect((await clerk.agent.get('/api/v1/checks')).status).to.equal(403);
  });

  describe('checker workflow and investigation', () => {
    let check: any;
    let checker: string;
    const signed: Record<string, Awaited<ReturnType<typeof signIn>>> = {};
    const as = async (acct: string) => (signed[acct] ??= await signIn(app, acct));
    const post = async (acct: string, url: string, body: unknown = {}) => {
      const s = await as(acct);
      return s.agent.post(url).set('X-CSRF-Token', s.csrf).send(body as object);
    };
    before(async () => {
      check = await currentCheck(tree.AG1);
      checker = Number(check.checker_id) === u.chk1 ? 'chk1' : 'chk2';
    });

    it('bad verdict input, an item not in the check, an unassigned item and another agency\'s checker are refused; nothing changes', async () => {
      const items = await t.db('check_items').where({ check_id: check.id, checker_id: check.checker_id }).orderBy('id');
      const entry = Number(items[0].entry_id);
      const r1 = await post(checker, `/api/v1/checks/${check.id}/items/${entry}`, { verdict: 'fine' });
      expect(r1.status).to.equal(400);
      expect(r1.body.errors[0].field).to.equal('verdict');
      const r2 = await post(checker, `/api/v1/checks/${check.id}/items/999999`, { verdict: 'proper' });
      expect(r2.status).to.equal(404);
      const r3 = await post(checker, `/api/v1/checks/${check.id}/items/${entry}`, { verdict: 'improper' });
      expect(r3.status).to.equal(400);
      expect(r3.body.errors[0].field).to.equal('note');
      // Another agency's checker is told what they would be told of no such check.
      const r4 = await post('chief2', `/api/v1/checks/${check.id}/items/${entry}`, { verdict: 'proper' });
      expect(r4.status).to.equal(404);
      const r5 = await post('chief2', `/api/v1/checks/${check.id}/sign-off`, { confirm: true });
      expect(r5.status).to.equal(404);
      const after = await t.db('check_items').where({ check_id: check.id }).whereNotNull('verdict').count('* as n').first();
      expect(Number(after!.n)).to.equal(0);
    });

    it('a checker cannot give a verdict on an item assigned to someone else (their own query)', async () => {
      const other = await t.db('check_items').where({ check_id: check.id }).whereNot({ checker_id: check.checker_id }).first();
      if (!other) return; // the checker recorded nothing this month
      const r = await post(checker, `/api/v1/checks/${check.id}/items/${other.entry_id}`, { verdict: 'proper' });
      expect(r.status).to.equal(403);
    });

    it('explanation requested → the clerk answers → verdict; sign-off refused while items are open', async () => {
      const item = await t.db('check_items as i').join('query_logs as q', 'q.id', 'i.entry_id').where('i.check_id', check.id).andWhere('q.user_id', u.clk1).andWhere('i.checker_id', check.checker_id).first('i.entry_id');
      const url = `/api/v1/checks/${check.id}/items/${item.entry_id}`;
      expect((await post(checker, url, { verdict: 'explanation-needed', note: '請說明本案查詢必要性' })).status).to.equal(200);
      const asked = await (await as('clk1')).agent.get('/api/v1/explanations');
      expect(asked.body.items.map((x: any) => x.entryId)).to.include(Number(item.entry_id));
      expect((await post('clk2', `${url}/explanation`, { explanation: '不是我' })).status).to.equal(404); // not told the entry is sampled
      expect((await post('clk1', `${url}/explanation`, { explanation: '' })).status).to.equal(400);
      expect((await post('clk1', `${url}/explanation`, { explanation: '為辦理身障補助案件查核投保資格' })).status).to.equal(200);
      const so = await post(checker, `/api/v1/checks/${check.id}/sign-off`, { confirm: true });
      expect(so.status).to.equal(409);
      expect(so.body.type).to.match(/items-open$/);
      expect((await t.db('checks').where({ id: check.id }).first()).status).to.equal('open');
      expect((await post(checker, url, { verdict: 'proper', note: '說明合理' })).status).to.equal(200);
    });

    it('an improper verdict opens an investigation with business, ethics and IT participants', async () => {
      const item = await t.db('check_items').where({ check_id: check.id, checker_id: check.checker_id }).whereNull('verdict').orderBy('id').first();
      const r = await post(checker, `/api/v1/checks/${check.id}/items/${item.entry_id}`, { verdict: 'improper', note: '查詢事由與案號不符' });
      expect(r.status).to.equal(200);
      expect(r.body.investigationId).to.be.a('number');
      const parts = await t.db('investigation_participants').where({ investigation_id: r.body.investigationId }).select('user_id', 'side');
      expect(parts.map((p: any) => p.side).sort()).to.deep.equal(['business', 'ethics', 'it']);
      expect(await investigationEntryIds(t.db, u.eth1)).to.deep.equal([Number(item.entry_id)]);
      expect(await investigationEntryIds(t.db, u.clk2)).to.deep.equal([]);
      const ranges = await ethicsRanges(t.db, u.eth1);
      expect(ranges).to.have.length(1);
      const [from, to] = monthRange(PERIOD);
      expect(ranges[0]).to.include({ from, to });
      expect(ranges[0].unitIds).to.have.members([tree.AG1, tree.AG1U1, tree.AG1U1A]);
      expect(ranges[0].userIds).to.deep.equal([Number((await t.db('query_logs').where({ id: item.entry_id }).first('user_id')).user_id)]);
      // The query-log capability's visibility includes them for the ethics participant.
      const eth = await signIn(app, 'eth1');
      const seen = await eth.agent.get(`/api/v1/query-logs?from=${PERIOD}-01&to=${PERIOD}-31&limit=500`);
      expect(seen.status).to.equal(200);
      const ids = seen.body.items.map((x: any) => Number(x.id));
      expect(ids).to.include(Number(item.entry_id));
      const other = await t.db('query_logs').whereNot({ user_id: ranges[0].userIds![0] }).first('id');
      expect(ids).not.to.include(Number(other.id)); // only the investigated clerk's entries
    });

    it('all items settled: the checker signs off, after which nothing is editable', async () => {
      const open = await t.db('check_items').where({ check_id: check.id }).whereNull('verdict').select('entry_id', 'checker_id');
      const acct = new Map([[u.chk1, 'chk1'], [u.chk2, 'chk2']]);
      for (const i of open) expect((await post(acct.get(Number(i.checker_id))!, `/api/v1/checks/${check.id}/items/${i.entry_id}`, { verdict: 'proper' })).status).to.equal(200);
      const notChecker = checker === 'chk1' ? 'chk2' : 'chk1';
      // Refused; and not even told the check exists unless they check some of its items.
      const checksItems = await t.db('check_items').where({ check_id: check.id, checker_id: u[notChecker] }).first('id');
      expect((await post(notChecker, `/api/v1/checks/${check.id}/sign-off`, { confirm: true })).status).to.equal(checksItems ? 403 : 404);
      const unconfirmed = await post(checker, `/api/v1/checks/${check.id}/sign-off`, {});
      expect(unconfirmed.status).to.equal(400);
      expect(unconfirmed.body.errors[0].field).to.equal('confirm');
      const so = await post(checker, `/api/v1/checks/${check.id}/sign-off`, { confirm: true });
      expect(so.status).to.equal(200);
      expect(so.body.status).to.equal('signed-off');
      const any = open[0] ?? (await t.db('check_items').where({ check_id: check.id }).first());
      const again = await post(acct.get(Number(any.checker_id))!, `/api/v1/checks/${check.id}/items/${any.entry_id}`, { verdict: 'improper', note: 'x' });
      expect(again.status).to.equal(409);
      const corr = await post(checker, `/api/v1/checks/${check.id}/corrections`, { summary: '第 3 項備註誤植，更正為「說明合理」' });
      expect(corr.status).to.equal(201);
      const rec = await t.db('audit_records').where({ id: corr.body.id }).first();
      expect(rec).to.include({ kind: 'other', source_type: 'check' });
      expect(Number(rec.source_id)).to.equal(Number(check.id));
      // The same through the page: an empty correction is re-shown with its message; the list shows the record.
      const s = await as(checker);
      const page = await s.agent.get(`/checks/${check.id}`);
      expect(page.text).to.contain('新增更正紀錄').and.contain('第 3 項備註誤植');
      const csrf = csrfFromHtml(page.text);
      const empty = await s.agent.post(`/checks/${check.id}/corrections`).type('form').send({ _csrf: csrf, summary: '' });
      expect(empty.status).to.equal(400);
      expect(empty.text).to.contain('請說明更正內容');
    });

    it('the investigation: timeline, conclusion into an audit record, then closed; corrections are new linked records', async () => {
      const inv = await t.db('investigations').where({ check_id: check.id }).first();
      const eth = await as('eth1');
      const list = await eth.agent.get('/api/v1/investigations');
      expect(list.body.items.map((x: any) => x.id)).to.include(Number(inv.id));
      expect((await post('clk1', `/api/v1/investigations/${inv.id}/notes`, { body: 'x' })).status).to.equal(403); // not a role that investigates
      expect((await post(checker === 'chk1' ? 'chk2' : 'chk1', `/api/v1/investigations/${inv.id}/notes`, { body: 'x' })).status).to.equal(404); // not a participant
      expect((await post('eth1', `/api/v1/investigations/${inv.id}/notes`, { kind: 'evidence', body: '調閱申請單及公文', evidenceRef: '府社字第 1150001234 號' })).status).to.equal(201);
      expect((await post('it1', `/api/v1/investigations/${inv.id}/notes`, { kind: 'bogus', body: 'x' })).status).to.equal(400);
      const detail = await eth.agent.get(`/api/v1/investigations/${inv.id}`);
      expect(detail.body.notes.length).to.equal(2);
      expect(detail.body.missingSides).to.deep.equal([]);
      const done = await post('eth1', `/api/v1/investigations/${inv.id}/conclusion`, { conclusion: '屬誤查，已加強教育訓練', findings: '案號誤植' });
      expect(done.status).to.equal(201);
      const rec = await t.db('audit_records').where({ id: done.body.auditRecordId }).first();
      expect(rec).to.include({ kind: 'investigation', source_type: 'investigation', conclusion: '屬誤查，已加強教育訓練' });
      expect(Number(rec.signed_by)).to.equal(u.eth1);
      expect((await post('eth1', `/api/v1/investigations/${inv.id}/notes`, { body: 'late' })).status).to.equal(409);
      const fix = await post('eth1', `/api/v1/audit-records/${rec.id}/corrections`, { conclusion: '屬誤查；另議處當事人' });
      expect(fix.status).to.equal(201);
      const fixed = await t.db('audit_records').where({ id: fix.body.id }).first();
      expect(Number(fixed.supersedes_id)).to.equal(Number(rec.id));
      expect((await t.db('audit_records').where({ id: rec.id }).first()).conclusion).to.equal('屬誤查，已加強教育訓練');
      const page = await eth.agent.get(`/investigations/${inv.id}`);
      expect(page.status).to.equal(200);
      expect(page.text).to.contain('稽核紀錄').and.contain('政風單位');
      // The page lists the correction and corrects the latest record in turn; a blank conclusion is re-shown.
      expect(page.text).to.contain(`第 ${fix.body.id} 號（更正第 ${rec.id} 號`).and.contain('屬誤查；另議處當事人').and.contain('更正稽核紀錄');
      const csrf = csrfFromHtml(page.text);
      const blank = await eth.agent.post(`/investigations/${inv.id}/record-corrections`).type('form').send({ _csrf: csrf, findings: '補充發現', conclusion: '  ' });
      expect(blank.status).to.equal(400);
      expect(blank.text).to.contain('請輸入更正後結論').and.contain('>補充發現</textarea>').and.contain('aria-invalid="true"');
      const records = async () => Number((await t.db('audit_records').where({ source_type: 'investigation', source_id: inv.id }).count({ n: '*' }).first())?.n);
      expect(await records()).to.equal(2);
      const second = await eth.agent.post(`/investigations/${inv.id}/record-corrections`).type('form').send({ _csrf: csrf, conclusion: '屬誤查；當事人已議處' });
      expect(second.status).to.equal(303);
      expect(await records()).to.equal(3);
      const latest = await t.db('audit_records').where({ source_type: 'investigation', source_id: inv.id }).orderBy('id', 'desc').first();
      expect(Number(latest.supersedes_id), 'the page corrects the latest record').to.equal(Number(fix.body.id));
      expect(await t.db('system_events').where({ action: 'audit-record-correction', target_id: String(latest.id) }).first()).to.not.equal(undefined);
      // A clerk may not correct audit records.
      const clerk = await as('clk1');
      const refused = await clerk.agent.post(`/investigations/${inv.id}/record-corrections`).type('form').send({ _csrf: clerk.csrf, conclusion: '改掉' });
      expect(refused.status).to.equal(403);
      expect(await records()).to.equal(3);
    });
  });

  it('an admin assigns an eligible checker to a check that had none; an ineligible one is refused', async () => {
    const c2 = await currentCheck(tree.AG2);
    const s = await signIn(app, 'plan');
    const bad = await s.agent.post(`/api/v1/checks/${c2.id}/assign`).set('X-CSRF-Token', s.csrf).send({ checker: 'sect2' });
    expect(bad.status).to.equal(400);
    const ok = await s.agent.post(`/api/v1/checks/${c2.id}/assign`).set('X-CSRF-Token', s.csrf).send({ checker: 'chief2' });
    expect(ok.status).to.equal(200);
    const after = await currentCheck(tree.AG2);
    expect(after.assignment_problem).to.equal(null);
    expect(await t.db('check_items').where({ check_id: c2.id }).whereNull('checker_id').count('* as n').first()).to.deep.include({ n: 0 });
  });

  it('report monthly-sheet: the xlsx read back has every entry, the sample marks and masked subjects', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sheet-'));
    const file = path.join(dir, 'ag1.xlsx');
    try {
      expect((await run('report monthly-sheet', { month: '2026-13', unit: 'AG1', out: file })).code).to.equal(2);
      expect((await run('report monthly-sheet', { month: PERIOD, unit: 'NOPE', out: file })).code).to.equal(2);
      expect((await run('report monthly-sheet', { month: '2099-01', unit: 'AG1', out: file })).code).to.equal(2);
      const r = await cli(['report', 'monthly-sheet', '--month', PERIOD, '--unit', 'AG1', '--out', file], t.env);
      expect(r.code, r.stderr).to.equal(0);
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.readFile(file);
      const ws = wb.getWorksheet('查詢紀錄單')!;
      expect(ws.views[0]).to.include({ state: 'frozen', ySplit: 1 });
      const header = (ws.getRow(1).values as unknown[]).slice(1).map(cellText);
      expect(header).to.include.members(['序號', '查詢日期時間', '帳號', '案號', '查詢事由', '抽查']);
      const pop = await monthEntries(AG1_UNITS());
      const idCol = header.indexOf('查詢日誌編號') + 1;
      const markCol = header.indexOf('抽查') + 1;
      const rows: Array<{ id: number; mark: string; text: string }> = [];
      ws.eachRow((row, n) => {
        if (n > 1) rows.push({ id: Number(row.getCell(idCol).value), mark: cellText(row.getCell(markCol).value), text: (row.values as unknown[]).map(cellText).join('|') });
      });
      expect(rows.map((x) => x.id)).to.deep.equal(pop.map((p: any) => Number(p.id)));
      const c1 = await currentCheck(tree.AG1);
      const items = await t.db('check_items').where({ check_id: c1.id }).select('entry_id', 'basis');
      const marks = new Map(rows.map((x) => [x.id, x.mark]));
      for (const i of items) expect(marks.get(Number(i.entry_id))).to.equal(i.basis === 'random' ? '抽' : '風');
      expect(rows.filter((x) => x.mark).length).to.equal(items.length);
      expect(rows.some((x) => x.text.includes(OWN_ID) || x.text.includes(SHARED_ID))).to.equal(false);
      expect(rows.some((x) => x.text.includes('A12****789'))).to.equal(true);
      expect(wb.getWorksheet('說明')).to.not.equal(undefined);
      // Printing: A4 landscape, one page wide, the header row on every page; the reason wraps; the
      // bold (sampled) rows and the header name the same font family as the rest.
      expect(ws.pageSetup).to.include({ paperSize: 9, orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0, printTitlesRow: '1:1' });
      expect(wb.getWorksheet('說明')!.pageSetup).to.include({ paperSize: 9, fitToWidth: 1 });
      expect(ws.getRow(1).getCell(1).font).to.include({ bold: true, name: 'Calibri' });
      const reasonCol = header.indexOf('查詢事由') + 1;
      ws.eachRow((row, n) => {
        if (n === 1) return;
        expect(row.getCell(reasonCol).alignment?.wrapText, `row ${n}`).to.equal(true);
        const font = row.getCell(idCol).font;
        if (cellText(row.getCell(markCol).value)) expect(font, `row ${n}`).to.include({ bold: true, name: 'Calibri' });
        else expect(font?.bold, `row ${n}`).to.not.equal(true);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('pages: the checker\'s check page, the printable sheet with page numbers and chain head, overdue on the dashboard', async () => {
    const c1 = await currentCheck(tree.AG1);
    const s = await signIn(app, await checkerOf(tree.AG1));
    const list = await s.agent.get('/checks');
    expect(list.status).to.equal(200);
    expect(list.text).to.contain('每月查核');
    const page = await s.agent.get(`/checks/${c1.id}`);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('抽查項目').and.contain(c1.seed);
    const sheet = await s.agent.get(`/checks/${c1.id}/sheet`);
    expect(sheet.status, sheet.text.slice(0, 3000)).to.equal(200);
    const head = await t.db('log_chain_head').where({ id: 1 }).first();
    expect(sheet.text).to.contain('第 1 頁／共').and.contain(head.hash).and.contain('查核人員：').and.contain('單位主管：').and.contain('民國 115 年 3 月');
    expect(sheet.text).not.to.contain(OWN_ID);
    const xlsx = await getFile(s.agent, `/checks/${c1.id}/sheet.xlsx`);
    expect(xlsx.status).to.equal(200);
    expect((xlsx.body as Buffer).subarray(0, 2).toString()).to.equal('PK');
    // The 2026-02 check (open, past its end-of-March due date) is overdue on the agency's and the planning department's home pages.
    const adm = await signIn(app, 'adm1');
    expect((await adm.agent.get('/')).text).to.contain('逾期未簽核');
    const other = await signIn(app, 'chief2');
    expect((await other.agent.get(`/checks/${c1.id}`)).status).to.equal(404);
  });

  it('a verdict form with errors is re-shown with the message and the typed note kept', async () => {
    const feb = await currentCheck(tree.AG1, '2026-02');
    const acct = Number(feb.checker_id) === u.chk1 ? 'chk1' : 'chk2';
    const item = await t.db('check_items').where({ check_id: feb.id, checker_id: feb.checker_id }).first();
    const s = await signIn(app, acct);
    const page = await s.agent.get(`/checks/${feb.id}`);
    const csrf = csrfFromHtml(page.text);
    const res = await s.agent.post(`/checks/${feb.id}/items/${item.entry_id}`).type('form').send({ _csrf: csrf, verdict: 'improper', note: '' });
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('判定不當時請說明理由').and.contain('aria-invalid="true"');
    const ok = await s.agent.post(`/checks/${feb.id}/items/${item.entry_id}`).type('form').send({ _csrf: csrf, verdict: 'explanation-needed', note: '請說明' });
    expect(ok.status).to.equal(303);
    const clerk = await signIn(app, 'clk1');
    const exp = await clerk.agent.get('/explanations');
    expect(exp.text).to.contain('請說明');
  });
});
