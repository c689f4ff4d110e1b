// "The remaining items are 適當" (issue 17) and the in-place verdict: one explicit act of the
// check's checker, recorded once, covering exactly their untouched logged items (never an
// unlogged query's, never someone else's, never after sign-off), with CSRF; the verdict form
// answers JSON when asked and still works as a plain form.
import { expect } from 'chai';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, signIn, csrfFromHtml } from '../support/app.ts';
import { makeApprovedRequest, makeUser, recordTestEntries, seedTree, type Tree } from '../support/fixtures.ts';
import { startOfLocalDay } from '../../server/time.ts';

const at = (date: string, hhmm: string) => startOfLocalDay(date) + (Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3))) * 60_000;

describe(`checks: the remaining items are 適當, in-place verdicts (${ENGINE})`, function () {
  this.timeout(120_000);
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  const u: Record<string, number> = {};
  let A = 0; // the March check: 12 clerk entries, the checker's own entry, two unlogged queries
  let B = 0; // the February check: 3 clerk entries, for the page forms
  const entries: Record<string, number[]> = {};
  const src: number[] = [];

  const signed: Record<string, Awaited<ReturnType<typeof signIn>>> = {};
  const as = async (acct: string) => (signed[acct] ??= await signIn(app, acct));
  const post = async (acct: string, url: string, body: unknown = {}, csrf = true) => {
    const s = await as(acct);
    const req = s.agent.post(url);
    if (csrf) req.set('X-CSRF-Token', s.csrf);
    return req.send(body as object);
  };
  const items = (check: number) => t.db('check_items').where({ check_id: check }).orderBy('id').select('id', 'entry_id', 'source_record_id', 'basis', 'checker_id', 'verdict', 'note', 'decided_by');
  const bulkEvents = () => t.db('system_events').where({ action: 'check-verdict-remaining' }).orderBy('id').select('actor_account', 'target_id', 'detail');

  before(async () => {
    t = await migratedDb();
    tree = await seedTree(t.db);
    app = appFor(t);
    u.chk = await makeUser(t.db, { account: 'chk', unitId: tree.AG1, roles: ['checker', 'clerk'], rank: 'section_chief', name: '查核甲' });
    u.chk2 = await makeUser(t.db, { account: 'chk2', unitId: tree.AG1, roles: ['checker'], rank: 'division_chief', name: '查核乙' });
    u.clk = await makeUser(t.db, { account: 'clk', unitId: tree.AG1, roles: ['clerk'], name: '承辦甲' });
    u.sup = await makeUser(t.db, { account: 'sup', unitId: tree.AG1, roles: ['supervisor'], rank: 'division_chief' });
    u.chief2 = await makeUser(t.db, { account: 'chief2', unitId: tree.AG2, roles: ['checker'], rank: 'division_chief' });
    const rq = { clk: await makeApprovedRequest(t.db, { userId: u.clk, unitId: tree.AG1 }), chk: await makeApprovedRequest(t.db, { userId: u.chk, unitId: tree.AG1 }) };
    const e = (who: 'clk' | 'chk', when: number) => ({ userId: u[who], account: who, unitId: tree.AG1, queriedAt: when, queryRequestId: rq[who] });
    const feb = await recordTestEntries(t.db, t.cfg, [2, 3, 4].map((d) => e('clk', at(`2026-02-0${d}`, '10:00'))));
    const mar = await recordTestEntries(t.db, t.cfg, [
      ...Array.from({ length: 12 }, (_, i) => e('clk', at(`2026-03-${String(2 + i).padStart(2, '0')}`, '10:00'))),
      e('chk', at('2026-03-20', '10:00')),
    ]);
    entries.feb = feb.map((x) => Number(x.id));
    entries.mar = mar.map((x) => Number(x.id));
    const check = async (period: string, population: number) => {
      const [id] = await t.db('checks').insert({ unit_id: tree.AG1, period, generation: 1, seed: 'ab'.repeat(32), population, population_digest: 'cd'.repeat(32), population_max_id: 0, sample_size: population, rate_percent: 3, minimum: 10, flag_rules: '', checker_id: u.chk, status: 'open', created_at: Date.now() });
      return Number(id);
    };
    A = await check('2026-03', 13);
    B = await check('2026-02', 3);
    const item = (check: number, entryId: number, checker: number) => ({ check_id: check, entry_id: entryId, basis: 'random', flags: '', sort_key: null, checker_id: checker });
    // The checker's own query goes to another checker (nobody checks their own).
    await t.db('check_items').insert([...entries.mar.slice(0, 12).map((id) => item(A, id, u.chk)), item(A, entries.mar[12], u.chk2)]);
    await t.db('check_items').insert(entries.feb.map((id) => item(B, id, u.chk)));
    // Two unlogged queries found by reconciliation (basis `unlogged`, no entry): one asked of its
    // clerk as the system does, and one left without a verdict, which the bulk act must not cover either.
    const [source] = await t.db('reconcile_sources').insert({ code: 'S1', name: '來源一', kind: 'records', complete: true, unit_id: null, created_by: null, created_at: Date.now() });
    const [mapping] = await t.db('reconcile_mappings').insert({ source_id: source, version: 1, columns: '{}', encoding: 'utf-8', date_style: 'ad', header_row: 1, created_at: Date.now() });
    const [imp] = await t.db('reconcile_imports').insert({ source_id: source, mapping_id: mapping, unit_id: tree.AG1, period: '2026-03', file_name: 'f.csv', file_sha256: '0'.repeat(64), row_count: 2, imported_by: null, via: 'cli', imported_at: Date.now() });
    for (const [i, d] of ['2026-03-05', '2026-03-06'].entries()) {
      const [id] = await t.db('source_records').insert({ import_id: imp, row_no: i + 2, source_account: 'NHI-CLK', user_id: u.clk, occurred_at: at(d, '15:00'), subject_type: null, subject_hmac: null, subject_cipher: null, subject_mask: null, op_code: 'IN01', count: null });
      src.push(Number(id));
    }
    await t.db('check_items').insert([
      { check_id: A, entry_id: null, source_record_id: src[0], basis: 'unlogged', flags: '', sort_key: null, checker_id: u.chk, verdict: 'explanation-needed', note: '請說明', explanation_requested_at: Date.now() },
      { check_id: A, entry_id: null, source_record_id: src[1], basis: 'unlogged', flags: '', sort_key: null, checker_id: u.chk },
    ]);
  });
  after(() => t.drop());

  it('the check page offers the act naming how many untouched items it covers (not unlogged ones, not another checker\'s)', async () => {
    // Two items decided one at a time first: a 請說明 (with its note) and a 適當.
    expect((await post('chk', `/api/v1/checks/${A}/items/${entries.mar[0]}`, { verdict: 'explanation-needed', note: '請說明查詢必要性' })).status).to.equal(200);
    expect((await post('chk', `/api/v1/checks/${A}/items/${entries.mar[1]}`, { verdict: 'proper' })).status).to.equal(200);
    const page = await (await as('chk')).agent.get(`/checks/${A}`);
    expect(page.status).to.equal(200);
    expect(page.text).to.match(/其餘 <span data-count="remaining">10<\/span> 項判定為「適當」/);
    expect(page.text).to.contain('name="count" value="10"');
    // Another reader of the check (the supervisor) is not offered it.
    const sup = await (await as('sup')).agent.get(`/checks/${A}`);
    expect(sup.status).to.equal(200);
    expect(sup.text).not.to.contain('/remaining-proper');
  });

  it('is refused, writing nothing, for a count other than shown, a bad count, without CSRF, and to anyone but the check\'s checker', async () => {
    const before = await items(A);
    const stale = await post('chk', `/api/v1/checks/${A}/remaining-proper`, { count: 11 });
    expect(stale.status).to.equal(409);
    expect(stale.body.type).to.match(/remaining-changed$/);
    expect(stale.body.detail).to.contain('10');
    const bad = await post('chk', `/api/v1/checks/${A}/remaining-proper`, { count: 'all' });
    expect(bad.status).to.equal(400);
    expect(bad.body.errors[0].field).to.equal('count');
    const none = await post('chk', `/api/v1/checks/${A}/remaining-proper`, {});
    expect(none.status).to.equal(400);
    const noCsrf = await post('chk', `/api/v1/checks/${A}/remaining-proper`, { count: 10 }, false);
    expect(noCsrf.status).to.equal(403);
    expect(noCsrf.body.type).to.match(/csrf$/);
    // The other checker of the check (who checks the checker's own entry) reads it but may not do this.
    const other = await post('chk2', `/api/v1/checks/${A}/remaining-proper`, { count: 10 });
    expect(other.status).to.equal(403);
    // A supervisor has no checker role; another agency's checker is told what they would be told of no check.
    expect((await post('sup', `/api/v1/checks/${A}/remaining-proper`, { count: 10 })).status).to.equal(403);
    const foreign = await post('chief2', `/api/v1/checks/${A}/remaining-proper`, { count: 10 });
    expect(foreign.status).to.equal(404);
    expect(foreign.body.detail).to.equal((await post('chief2', '/api/v1/checks/999999/remaining-proper', { count: 10 })).body.detail);
    // The page form without its token.
    const page = await (await as('chk')).agent.post(`/checks/${A}/remaining-proper`).type('form').send({ count: '10' });
    expect(page.status).to.equal(403);
    expect(await items(A)).to.deep.equal(before);
    expect(await bulkEvents()).to.deep.equal([]);
  });

  it('gives 適當 to exactly the untouched logged items, recorded once as one event naming them', async () => {
    const before = await items(A);
    const r = await post('chk', `/api/v1/checks/${A}/remaining-proper`, { count: 10 });
    expect(r.status).to.equal(200);
    const covered = entries.mar.slice(2, 12);
    expect(r.body).to.deep.equal({ id: A, verdict: 'proper', count: 10, entryIds: covered });
    const after = await items(A);
    for (const [k, i] of after.entries()) {
      const was = before[k];
      if (i.entry_id != null && covered.includes(Number(i.entry_id))) {
        expect(i.verdict, `entry ${i.entry_id}`).to.equal('proper');
        expect(Number(i.decided_by)).to.equal(u.chk);
        expect(i.note).to.equal(null);
      } else {
        expect(i, `item ${i.id} is not covered`).to.deep.equal(was);
      }
    }
    // Untouched: the 請說明 item, the earlier 適當, the other checker's item and both unlogged queries.
    const byKey = new Map(after.map((i: any) => [i.entry_id != null ? String(i.entry_id) : `r${i.source_record_id}`, i]));
    expect(byKey.get(String(entries.mar[0])).verdict).to.equal('explanation-needed');
    expect(byKey.get(String(entries.mar[12])).verdict).to.equal(null);
    expect(byKey.get(`r${src[0]}`).verdict).to.equal('explanation-needed');
    expect(byKey.get(`r${src[1]}`).verdict).to.equal(null);
    const ev = await bulkEvents();
    expect(ev).to.have.length(1);
    expect(ev[0].actor_account).to.equal('chk');
    expect(String(ev[0].target_id)).to.equal(String(A));
    expect(typeof ev[0].detail === 'string' ? JSON.parse(ev[0].detail) : ev[0].detail).to.deep.equal({ verdict: 'proper', count: 10, entryIds: covered });
    // Once: nothing is left to cover, and nothing more is recorded.
    const again = await post('chk', `/api/v1/checks/${A}/remaining-proper`, { count: 10 });
    expect(again.status).to.equal(409);
    expect(again.body.type).to.match(/nothing-remaining$/);
    expect(await bulkEvents()).to.have.length(1);
    // The open items still block the sign-off: the act never settles an unlogged query.
    const so = await post('chk', `/api/v1/checks/${A}/sign-off`, { confirm: true });
    expect(so.status).to.equal(409);
    expect(so.body.detail).to.contain(`來源紀錄 ${src[1]}（未登錄）`);
  });

  it('the verdict form answers JSON when asked: the verdict in place, or problem+json naming the field; nothing stored on error', async () => {
    const s = await as('chk');
    const csrf = csrfFromHtml((await s.agent.get(`/checks/${B}`)).text);
    const [e1, e2, e3] = entries.feb;
    const bad = await s.agent.post(`/checks/${B}/items/${e1}`).set('Accept', 'application/json').type('form').send({ _csrf: csrf, verdict: 'improper', note: '' });
    expect(bad.status).to.equal(400);
    expect(bad.headers['content-type']).to.match(/^application\/problem\+json/);
    expect(bad.body.errors).to.deep.equal([{ field: 'note', message: '判定不當時請說明理由' }]);
    const missing = await s.agent.post(`/checks/${B}/items/${e1}`).set('Accept', 'application/json').type('form').send({ _csrf: csrf, verdict: '' });
    expect(missing.status).to.equal(400);
    expect(missing.body.errors[0].field).to.equal('verdict');
    expect((await items(B)).every((i: any) => i.verdict === null)).to.equal(true);
    // The row's 「適當」 button: one press, whatever the select says.
    const ok = await s.agent.post(`/checks/${B}/items/${e1}`).set('Accept', 'application/json').type('form').send({ _csrf: csrf, quick: 'proper', verdict: '', note: '' });
    expect(ok.status).to.equal(200);
    expect(ok.body).to.deep.include({ key: String(e1), verdict: 'proper', verdictLabel: '適當', note: null, investigationId: null, remaining: [String(e2), String(e3)] });
    // Without Accept: the plain form's redirect back to the item.
    const plain = await s.agent.post(`/checks/${B}/items/${e2}`).type('form').send({ _csrf: csrf, verdict: 'explanation-needed', note: '請說明' });
    expect(plain.status).to.equal(303);
    expect(plain.headers.location).to.equal(`/checks/${B}#item-${e2}`);
    expect((await items(B)).map((i: any) => i.verdict)).to.deep.equal(['proper', 'explanation-needed', null]);
  });

  it('the plain remaining-items form (no script): a stale count re-shows the page; the right one redirects; never after sign-off', async () => {
    const s = await as('chk');
    const csrf = csrfFromHtml((await s.agent.get(`/checks/${B}`)).text);
    const stale = await s.agent.post(`/checks/${B}/remaining-proper`).type('form').send({ _csrf: csrf, count: '2' });
    expect(stale.status).to.equal(409);
    expect(stale.text).to.contain('尚未判定的項目現為 1 項');
    const ok = await s.agent.post(`/checks/${B}/remaining-proper`).type('form').send({ _csrf: csrf, count: '1' });
    expect(ok.status).to.equal(303);
    expect(ok.headers.location).to.equal(`/checks/${B}#sign-off`);
    expect((await s.agent.get(`/checks/${B}`)).text).to.contain('已將其餘 1 個項目判定為「適當」');
    // The 請說明 item: its clerk answers, the checker decides it, and signs off once.
    expect((await post('clk', `/api/v1/checks/${B}/items/${entries.feb[1]}/explanation`, { explanation: '辦理補助案件' })).status).to.equal(200);
    expect((await post('chk', `/api/v1/checks/${B}/items/${entries.feb[1]}`, { verdict: 'proper' })).status).to.equal(200);
    const signed = await s.agent.post(`/checks/${B}/sign-off`).type('form').send({ _csrf: csrf, confirm: '1' });
    expect(signed.status).to.equal(303);
    expect((await t.db('checks').where({ id: B }).first('status')).status).to.equal('signed-off');
    // After sign-off the act is refused as any change is (not as "nothing left"), with or without script.
    await t.db('check_items').where({ check_id: B, entry_id: entries.feb[2] }).update({ verdict: null, decided_by: null, decided_at: null });
    const late = await post('chk', `/api/v1/checks/${B}/remaining-proper`, { count: 1 });
    expect(late.status).to.equal(409);
    expect(late.body.type).to.match(/check-signed-off$/);
    const latePage = await s.agent.post(`/checks/${B}/remaining-proper`).type('form').send({ _csrf: csrf, count: '1' });
    expect(latePage.status).to.equal(409);
    expect((await t.db('check_items').where({ check_id: B, entry_id: entries.feb[2] }).first('verdict')).verdict).to.equal(null);
    expect((await bulkEvents()).map((e: any) => String(e.target_id))).to.deep.equal([String(A), String(B)]);
  });
});
