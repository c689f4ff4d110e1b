// The county dashboard's numbers on prepared data: query volume per agency and month (subordinate
// units counted under their agency, Taipei month boundaries), risk-flagged share from the current
// checks only, checks against their due date, the latest account review, the annual filings; and
// who sees which agencies.
import { expect } from 'chai';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, signIn } from '../support/app.ts';
import { makeUser, seedTree, type Tree } from '../support/fixtures.ts';
import { setClock } from '../../server/time.ts';

const NOW = Date.parse('2026-03-15T04:00:00Z'); // 民國 115 年 3 月 15 日 12:00 in Taipei
const at = (iso: string) => Date.parse(iso);

describe(`county dashboard (${ENGINE})`, function () {
  this.timeout(60_000);
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  let seq = 0;
  let clerk = 0;

  async function entry(unitId: number, queriedAt: number): Promise<number> {
    seq++;
    const [id] = await t.db('query_logs').insert({
      seq, user_id: clerk, account: 'dash.clerk', unit_id: unitId, queried_at: queriedAt, op_code: 'IN01', scope_code: '2-1', case_no: `C-${seq}`, reason: '測試',
      subject_type: 'national-id', subject_hmac: 'h'.repeat(64), subject_cipher: 'x', subject_mask: 'A12****789', source: 'web', prev_hash: '0'.repeat(64), hash: String(seq).padStart(64, '0'),
    });
    return Number(id);
  }
  async function check(unitId: number, period: string, o: { population: number; status?: string; generation?: number; signedOffAt?: number; items?: string[] }): Promise<void> {
    const [id] = await t.db('checks').insert({
      unit_id: unitId, period, generation: o.generation ?? 1, seed: 'ab'.repeat(32), population: o.population, population_digest: 'cd'.repeat(32), sample_size: o.population,
      rate_percent: 3, minimum: 10, status: o.status ?? 'open', created_at: NOW - 86_400_000, signed_off_at: o.signedOffAt ?? null,
    });
    let n = 0;
    for (const basis of o.items ?? []) await t.db('check_items').insert({ check_id: Number(id), entry_id: 1000 + n++, basis, flags: basis.startsWith('flag:') ? basis.slice(5) : '' });
  }

  before(async () => {
    t = await migratedDb();
    tree = await seedTree(t.db);
    app = appFor(t);
    clerk = await makeUser(t.db, { account: 'dash.clerk', unitId: tree.AG1, roles: ['clerk'] });
    await makeUser(t.db, { account: 'dash.planning', unitId: tree.PLAN, roles: ['auditor'] });
    await makeUser(t.db, { account: 'dash.ag2sup', unitId: tree.AG2, roles: ['supervisor'], rank: 'division_chief' });
    await makeUser(t.db, { account: 'dash.ag1ethics', unitId: tree.AG1U1, roles: ['ethics'] });
    const u1 = await makeUser(t.db, { account: 'dash.u1', unitId: tree.AG1U1, roles: ['clerk'] });
    const u2 = await makeUser(t.db, { account: 'dash.u2', unitId: tree.AG2U1, roles: ['clerk'] });

    // AG1 (with its subordinate units): Dec 1, Jan 3, Feb 2; one entry before the window.
    await entry(tree.AG1, at('2025-03-10T02:00:00Z'));
    await entry(tree.AG1U1, at('2025-12-03T02:00:00Z'));
    await entry(tree.AG1, at('2026-01-05T02:00:00Z'));
    await entry(tree.AG1U1, at('2026-01-06T02:00:00Z'));
    await entry(tree.AG1U1A, at('2026-01-31T15:59:00Z')); // 23:59 on 31 Jan in Taipei
    await entry(tree.AG1, at('2026-02-02T02:00:00Z'));
    await entry(tree.AG1, at('2026-02-03T02:00:00Z'));
    // AG2: Dec 2, Feb 4, Mar 1 (16:00 UTC on 28 Feb is midnight of 1 March in Taipei).
    await entry(tree.AG2, at('2025-12-10T02:00:00Z'));
    await entry(tree.AG2U1, at('2025-12-11T02:00:00Z'));
    for (let i = 0; i < 4; i++) await entry(tree.AG2U1, at(`2026-02-1${i}T02:00:00Z`));
    await entry(tree.AG2, at('2026-02-28T16:00:00Z'));

    // AG1 checks: Nov open (overdue), Dec signed late, Jan signed on time (1 flag), Feb open (1 flag).
    await check(tree.AG1, '2025-11', { population: 0 });
    await check(tree.AG1, '2025-12', { population: 1, status: 'signed-off', signedOffAt: at('2026-02-05T02:00:00Z'), items: ['random'] });
    await check(tree.AG1, '2026-01', { population: 3, status: 'signed-off', signedOffAt: at('2026-02-10T02:00:00Z'), items: ['random', 'random', 'flag:after-hours'] });
    await check(tree.AG1, '2026-02', { population: 2, items: ['random', 'flag:weekend'] });
    // AG2: no check for December (missing); February re-run: the superseded generation is ignored.
    await check(tree.AG2, '2026-02', { population: 4, status: 'superseded', items: ['random', 'flag:after-hours', 'flag:multi-clerk'] });
    await check(tree.AG2, '2026-02', { population: 4, generation: 2, items: ['random', 'random', 'flag:after-hours'] });

    // Account reviews: an older one (ignored) and the latest with four findings.
    const [old] = await t.db('account_reviews').insert({ period: '2025-Q4', trigger: 'schedule', started_at: at('2025-12-01T00:00:00Z'), finished_at: at('2025-12-01T00:05:00Z'), users_checked: 5, findings: 1 });
    await t.db('review_items').insert({ review_id: Number(old), user_id: u1, unit_id: tree.AG1U1, finding: 'idle', status: 'open' });
    const [rev] = await t.db('account_reviews').insert({ period: '2026-Q1', trigger: 'manual', started_at: at('2026-03-01T00:00:00Z'), finished_at: at('2026-03-01T00:05:00Z'), users_checked: 8, findings: 4 });
    const rid = Number(rev);
    await t.db('review_items').insert([
      { review_id: rid, user_id: u1, unit_id: tree.AG1U1, finding: 'idle', status: 'open' },
      { review_id: rid, user_id: clerk, unit_id: tree.AG1, finding: 'duplicate', status: 'kept', decided_at: NOW, decision_reason: '同名不同人' },
      { review_id: rid, user_id: u2, unit_id: tree.AG2U1, finding: 'departed', status: 'disabled', decided_at: NOW },
      { review_id: rid, user_id: u2, unit_id: tree.AG2, finding: 'idle', status: 'open' },
    ]);
    // Annual filing of 2025: AG1 filed on 20 January and acknowledged; AG2 has not filed.
    await t.db('annual_filings').insert({ unit_id: tree.AG1, year: 2025, workbook_sha256: 'e'.repeat(64), submitted_at: at('2026-01-20T02:00:00Z'), acknowledged_at: at('2026-01-25T02:00:00Z') });
    await t.db('annual_filings').insert({ unit_id: tree.AG2, year: 2024, workbook_sha256: 'f'.repeat(64), submitted_at: at('2025-01-20T02:00:00Z') });
  });
  after(() => t.drop());

  const get = async (account: string, path: string) => {
    const s = await signIn(app, account);
    setClock(() => NOW);
    return s.agent.get(path).set('Accept', path.startsWith('/api/') ? 'application/json' : 'text/html');
  };

  it('planning-department staff see every agency with the right counts', async () => {
    const res = await get('dash.planning', '/api/v1/dashboard');
    expect(res.status).to.equal(200);
    const d = res.body;
    expect(d.countyWide).to.equal(true);
    expect(d.months).to.have.length(12);
    expect(d.months[0]).to.equal('2025-04');
    expect(d.months[11]).to.equal('2026-03');
    expect(d.agencies.map((a: any) => a.code)).to.deep.equal(['AG1', 'AG2']);
    const vol = Object.fromEntries(d.volume.rows.map((r: any) => [r.unit.code, r]));
    const idx = (m: string) => d.months.indexOf(m);
    expect(vol.AG1.counts[idx('2025-12')]).to.equal(1);
    expect(vol.AG1.counts[idx('2026-01')]).to.equal(3);
    expect(vol.AG1.counts[idx('2026-02')]).to.equal(2);
    expect(vol.AG1.total).to.equal(6);
    expect(vol.AG2.counts[idx('2025-12')]).to.equal(2);
    expect(vol.AG2.counts[idx('2026-02')]).to.equal(4);
    expect(vol.AG2.counts[idx('2026-03')]).to.equal(1);
    expect(vol.AG2.total).to.equal(7);
    expect(d.volume.total).to.equal(13);
    expect(d.volume.totals[idx('2026-02')]).to.equal(6);

    const flags = Object.fromEntries(d.flags.rows.map((r: any) => [r.unit.code, r]));
    expect(flags.AG1).to.include({ checks: 4, population: 6, flagged: 2, share: 33.3 });
    expect(flags.AG2).to.include({ checks: 1, population: 4, flagged: 1, share: 25 });
    expect(d.flags).to.include({ population: 10, flagged: 3, share: 30 });

    const checks = Object.fromEntries(d.checks.rows.map((r: any) => [r.unit.code, r]));
    expect(checks.AG1).to.include({ 'on-time': 1, late: 1, open: 1, overdue: 1, missing: 0 });
    expect(checks.AG2).to.include({ 'on-time': 0, late: 0, open: 1, overdue: 0, missing: 1 });

    expect(d.review.latest).to.include({ period: '2026-Q1', usersChecked: 8, findings: 4 });
    expect(d.review.latest.startedAt).to.equal('2026-03-01T00:00:00.000Z');
    const rv = Object.fromEntries(d.review.rows.map((r: any) => [r.unit.code, r]));
    expect(rv.AG1).to.include({ open: 1, kept: 1, disabled: 0 });
    expect(rv.AG2).to.include({ open: 1, kept: 0, disabled: 1 });
    expect(d.review.totals).to.deep.equal({ open: 2, kept: 1, disabled: 1 });

    expect(d.filings.year).to.equal(2025);
    const fl = Object.fromEntries(d.filings.rows.map((r: any) => [r.unit.code, r]));
    expect(fl.AG1).to.include({ standing: 'acknowledged', submittedAt: '2026-01-20T02:00:00.000Z' });
    expect(fl.AG2).to.include({ standing: 'overdue', submittedAt: null });
    expect(d.filings.filed).to.equal(1);
    const y2024 = await get('dash.planning', '/api/v1/dashboard?year=2024&months=3');
    expect(y2024.body.months).to.deep.equal(['2026-01', '2026-02', '2026-03']);
    expect(y2024.body.filings.rows.find((r: any) => r.unit.code === 'AG2').standing).to.equal('filed');
  });

  it('an agency supervisor sees their own agency only, and is refused another', async () => {
    const res = await get('dash.ag2sup', '/api/v1/dashboard');
    expect(res.status).to.equal(200);
    expect(res.body.countyWide).to.equal(false);
    expect(res.body.agencies.map((a: any) => a.code)).to.deep.equal(['AG2']);
    expect(res.body.volume.total).to.equal(7);
    const other = await get('dash.ag2sup', '/api/v1/dashboard?unit=AG1');
    expect(other.status).to.equal(403);
    expect(other.headers['content-type']).to.contain('application/problem+json');
    // Someone in a subordinate unit sees their agency's figures.
    const sub = await get('dash.ag1ethics', '/api/v1/dashboard');
    expect(sub.body.agencies.map((a: any) => a.code)).to.deep.equal(['AG1']);
    expect(sub.body.volume.total).to.equal(6);
    const narrowed = await get('dash.planning', '/api/v1/dashboard?unit=AG2');
    expect(narrowed.body.agencies.map((a: any) => a.code)).to.deep.equal(['AG2']);
  });

  it('refuses clerks, and names bad parameters', async () => {
    expect((await get('dash.clerk', '/api/v1/dashboard')).status).to.equal(403);
    expect((await get('dash.clerk', '/dashboard')).status).to.equal(403);
    const bad = await get('dash.planning', '/api/v1/dashboard?year=abc&months=99');
    expect(bad.status).to.equal(400);
    expect(bad.body.errors.map((e: any) => e.field).sort()).to.deep.equal(['months', 'year']);
    const unknown = await get('dash.planning', '/api/v1/dashboard?unit=NOPE');
    expect(unknown.status).to.equal(404);
  });

  it('the page shows ROC months, each chart with its table, local scripts only', async () => {
    const res = await get('dash.planning', '/dashboard');
    expect(res.status).to.equal(200);
    const html = res.text;
    expect(html).to.contain('統計儀表板').and.contain('115/01').and.contain('114/04');
    expect(html).to.contain('社會處').and.contain('衛生局');
    for (const id of ['volume', 'flags', 'checks', 'review']) {
      expect(html).to.match(new RegExp(`<canvas id="chart-${id}" data-chart-for="t-${id}"`));
      expect(html).to.contain(`<table id="t-${id}"`);
    }
    expect(html).to.contain('33.3%').and.contain('逾期未報府').and.contain('已報府並經計畫處確認');
    expect(html).to.contain('<script src="/assets/vendor/chart.umd.min.js" defer></script>');
    expect(html).not.to.match(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.to.match(/https?:\/\/(?!localhost)[a-z]/i);
    const lib = await (await signIn(app, 'dash.planning')).agent.get('/assets/vendor/chart.umd.min.js');
    expect(lib.status).to.equal(200);
    expect(lib.text).to.contain('Chart.js v4');
    // The home page carries a summary that links to the dashboard; a clerk's home has none.
    const home = await get('dash.planning', '/');
    appFor(t); // another app in the same process must not add the panel again
    const home2 = await get('dash.planning', '/');
    expect(home2.text.split('全縣統計摘要').length - 1, 'the summary appears once').to.equal(1);
    expect(home.text).to.contain('全縣統計摘要').and.contain('href="/dashboard#h-checks"');
    const m = /逾期或未產生之月查核<\/dt><dd><a href="[^"]+">(\d+)</.exec(home.text);
    expect(m && Number(m[1])).to.equal(2); // AG1: November overdue; AG2: December has entries but no check
    expect((await get('dash.clerk', '/')).text).not.to.contain('統計摘要');
    // A bad parameter on the page falls back to the defaults with a notice, not an error page.
    const bad = await get('dash.planning', '/dashboard?year=abc');
    expect(bad.status).to.equal(200);
    expect(bad.text).to.contain('查詢條件有誤');
  });
});
