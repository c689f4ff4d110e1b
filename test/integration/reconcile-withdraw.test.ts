// Withdrawing a reconciliation import (issue 16) on both databases: a second live import for the
// same source, agency and month is refused until the first is withdrawn; a withdrawal (API, page,
// command line) keeps the records, takes them out of matching and reconciles the month again; a
// corrected file may then be imported. Reach: whoever may import for the agency, no one else.
import { expect } from 'chai';
import { ENGINE, migratedDb, rowCounts, type TestDb } from '../support/db.ts';
import { appFor, csrfFromHtml, signIn, type Signed } from '../support/app.ts';
import { seedAccountPeople, seedTree, type Tree } from '../support/fixtures.ts';
import { ACCOUNTS, MAPPINGS, PERIOD, fixture } from '../support/reconcile-fixtures.ts';
import { allCommands } from '../../server/capabilities.ts';
import * as migration0080 from '../../migrations/20261203_0080_batches_withdrawals.ts';

const TABLES = ['reconcile_imports', 'source_records', 'reconcile_runs'];
const REASON = '來源系統重新匯出更正檔，原檔少列一筆';

describe(`reconciliation import withdrawal (${ENGINE})`, function () {
  this.timeout(120_000);
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  const as: Record<string, Signed> = {};
  const original = fixture('big5-roc-compact.csv');
  // The corrected re-export: the same file without its last row (Big5 never has CR/LF in a character).
  const lines = original.toString('latin1').split('\r\n');
  const corrected = Buffer.from(lines.slice(0, -2).join('\r\n') + '\r\n', 'latin1');
  const third = Buffer.from(lines.slice(0, -3).join('\r\n') + '\r\n', 'latin1');
  const post = (who: string, url: string, body: unknown) => as[who].agent.post(url).set('X-CSRF-Token', as[who].csrf).set('Accept', 'application/json').send(body as object);
  const importApi = (who: string, name: string, bytes: Buffer) =>
    as[who].agent.post('/api/v1/reconcile-imports').set('X-CSRF-Token', as[who].csrf).set('Accept', 'application/json')
      .field('source', 'NHI-VPN').field('unit', 'AG1').field('period', PERIOD).attach('file', bytes, name);
  const currentRun = () => t.db('reconcile_runs').where({ unit_id: tree.AG1, period: PERIOD, status: 'current' }).first();
  const cmd = (name: string) => allCommands().find((c) => c.name === name)!;
  let first = 0;
  let second = 0;

  before(async () => {
    t = await migratedDb({ LOGIN_RATE_PER_MINUTE: '1000' });
    app = appFor(t);
    tree = await seedTree(t.db);
    await seedAccountPeople(t.db, tree);
    for (const a of ['plan.admin', 'ag1.admin', 'ag2.admin', 'ag1.auditor']) as[a] = await signIn(app, a);
    const src = await post('plan.admin', '/api/v1/reconcile-sources', { code: 'NHI-VPN', name: '健保署查詢紀錄', kind: 'records', complete: false });
    expect(src.status).to.equal(201);
    expect((await post('plan.admin', `/api/v1/reconcile-sources/${src.body.id}/mappings`, MAPPINGS.big5)).status).to.equal(201);
    expect((await post('ag1.admin', `/api/v1/reconcile-sources/${src.body.id}/links`, { account: 'ag1.clerk', sourceAccount: ACCOUNTS.clerk })).status).to.equal(201);
  });
  after(() => t.drop());

  it('refuses a second, different file for the same source, agency and month while the first is live, saying to withdraw it first; nothing stored', async () => {
    const r = await importApi('ag1.admin', 'nhi-11.csv', original);
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    expect(r.body).to.include({ withdrawn: false, records: 4 });
    first = r.body.id;
    // The run counts the agency's linked people's records (SOC001's two).
    expect(Number((await currentRun()).source_records)).to.equal(2);
    const before = await rowCounts(t, TABLES);
    const again = await importApi('plan.admin', 'nhi-11-fixed.csv', corrected);
    expect(again.status).to.equal(409);
    expect(again.body.type).to.match(/live-import$/);
    expect(again.body.detail).to.contain(`第 ${first} 號`).and.contain('撤回');
    expect(await rowCounts(t, TABLES)).to.deep.equal(before);
    // The database refuses it too (a second live row for the key), whatever the service checked.
    const row = await t.db('reconcile_imports').where({ id: first }).first();
    let refused = false;
    try {
      await t.db('reconcile_imports').insert({ ...row, id: undefined, file_sha256: 'f'.repeat(64), live_slot: 0 });
    } catch {
      refused = true;
    }
    expect(refused, 'unique live key').to.equal(true);
  });

  it('withdraws only within reach, with a meaningful reason, once', async () => {
    expect((await post('ag2.admin', `/api/v1/reconcile-imports/${first}/withdraw`, { reason: REASON })).status, 'another agency: as none').to.equal(404);
    expect((await post('ag2.admin', '/api/v1/reconcile-imports/987654/withdraw', { reason: REASON })).status).to.equal(404);
    expect((await post('ag1.auditor', `/api/v1/reconcile-imports/${first}/withdraw`, { reason: REASON })).status, 'auditors read, never withdraw').to.equal(403);
    const blank = await post('ag1.admin', `/api/v1/reconcile-imports/${first}/withdraw`, { reason: '無' });
    expect(blank.status).to.equal(400);
    expect(blank.body.errors.map((e: any) => e.field)).to.deep.equal(['reason']);
    expect(await t.db('reconcile_imports').where({ id: first }).first('withdrawn_at')).to.deep.equal({ withdrawn_at: null });
  });

  it('withdraws: records kept but out of matching, the month reconciled again, recorded; a second withdrawal is a 409', async () => {
    const runBefore = await currentRun();
    const r = await post('ag1.admin', `/api/v1/reconcile-imports/${first}/withdraw`, { reason: REASON });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(r.body).to.include({ id: first, withdrawn: true, withdrawnBy: 'ag1.admin', withdrawReason: REASON });
    expect(Number((await t.db('source_records').where({ import_id: first }).count({ n: '*' }).first())!.n), 'records kept').to.equal(4);
    const run = await currentRun();
    expect(Number(run.generation)).to.equal(Number(runBefore.generation) + 1);
    expect(run).to.include({ trigger: 'withdrawal' });
    expect(Number(run.source_records), 'the withdrawn records leave matching').to.equal(0);
    expect(Number(run.unlogged)).to.equal(0);
    const ev = await t.db('system_events').where({ action: 'reconcile.import-withdrawn', target_id: String(first) }).first();
    expect(JSON.parse(ev.detail)).to.include({ reason: REASON, period: PERIOD, source: 'NHI-VPN' });
    const got = await as['ag1.auditor'].agent.get(`/api/v1/reconcile-imports/${first}`).set('Accept', 'application/json');
    expect(got.body).to.include({ withdrawn: true, withdrawReason: REASON });
    const again = await post('plan.admin', `/api/v1/reconcile-imports/${first}/withdraw`, { reason: REASON });
    expect(again.status).to.equal(409);
    expect(again.body.type).to.match(/already-withdrawn$/);
  });

  it('then takes the corrected file, whose records alone are matched; the withdrawn file itself stays refused as a duplicate', async () => {
    const r = await importApi('plan.admin', 'nhi-11-fixed.csv', corrected);
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    expect(r.body.records).to.equal(3);
    second = r.body.id;
    const run = await currentRun();
    expect(Number(run.source_records), 'only the live import counts: not 4, as when both were matched').to.equal(2);
    const findings = await t.db('reconcile_findings as f').join('source_records as s', 's.id', 'f.source_record_id').where('f.run_id', run.id).distinct('s.import_id').pluck('s.import_id');
    expect(findings.map(Number)).to.deep.equal([second]);
    const dup = await importApi('ag1.admin', 'nhi-11.csv', original);
    expect(dup.status).to.equal(409);
    expect(dup.body.type).to.match(/duplicate-import$/);
  });

  it('withdraws through the page: the form on the import’s page, a bad reason re-shown beside its field', async () => {
    const page = await as['ag1.admin'].agent.get(`/reconcile/imports/${second}`);
    expect(page.text).to.contain('撤回此匯入');
    const csrf = csrfFromHtml(page.text);
    expect((await as['ag1.auditor'].agent.get(`/reconcile/imports/${second}`)).text, 'no form for a reader').to.not.contain('撤回此匯入');
    const bad = await as['ag1.admin'].agent.post(`/reconcile/imports/${second}/withdraw`).type('form').send({ _csrf: csrf, reason: '' });
    expect(bad.status).to.equal(400);
    expect(bad.text).to.contain('請輸入撤回理由');
    const ok = await as['ag1.admin'].agent.post(`/reconcile/imports/${second}/withdraw`).type('form').send({ _csrf: csrf, reason: REASON }).redirects(0);
    expect(ok.status).to.equal(303);
    const shown = await as['ag1.admin'].agent.get(`/reconcile/imports/${second}`);
    expect(shown.text).to.contain('此匯入已撤回').and.contain(REASON).and.not.contain('撤回此匯入</h2>');
    const list = await as['ag1.admin'].agent.get('/reconcile/imports');
    expect(list.text).to.contain('（已撤回）');
  });

  it('withdraws from the command line (exit 0; 2 without a reason; 3 when already withdrawn; 4 for none)', async () => {
    const r = await importApi('ag1.admin', 'nhi-11-v3.csv', third);
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    const out: string[] = [];
    const run = (flags: Record<string, string>) => cmd('reconcile withdraw').run({ cfg: t.cfg, db: t.db } as any, { positional: [], flags }, (s) => out.push(s));
    expect(await run({ import: String(r.body.id) })).to.equal(2);
    expect(await run({ import: '987654', reason: REASON })).to.equal(4);
    expect(await run({ import: String(r.body.id), reason: REASON })).to.equal(0);
    expect(out.join('\n')).to.contain(`withdrew import ${r.body.id}`).and.contain('reconciled again');
    const row = await t.db('reconcile_imports').where({ id: r.body.id }).first();
    expect(row.withdrawn_by).to.equal(null);
    expect(row.withdraw_reason).to.equal(REASON);
    expect(await run({ import: String(r.body.id), reason: REASON })).to.equal(3);
    expect(Number((await currentRun()).source_records)).to.equal(0);
  });

  it('the migration keeps imports that were live side by side before it: the first takes the live slot, the others their own id; nothing is withdrawn', async () => {
    // As before 0080: no live key, two live imports of one source, agency and month.
    await t.db.schema.alterTable('reconcile_imports', (tb) => tb.dropUnique(['source_id', 'unit_id', 'period', 'live_slot'], 'reconcile_imports_live_index'));
    const row = await t.db('reconcile_imports').where({ id: first }).first();
    const base = { ...row, id: undefined, withdrawn_at: null, withdrawn_by: null, withdraw_reason: null, live_slot: null, period: '2026-10' };
    const [a] = await t.db('reconcile_imports').insert({ ...base, file_sha256: 'a'.repeat(64) });
    const [b] = await t.db('reconcile_imports').insert({ ...base, file_sha256: 'b'.repeat(64) });
    await t.db('reconcile_imports').update({ live_slot: null }).whereNull('withdrawn_at');
    await migration0080.up(t.db);
    const slots = await t.db('reconcile_imports').whereIn('id', [a, b]).orderBy('id').select('live_slot', 'withdrawn_at');
    expect(slots.map((x: any) => [x.live_slot == null ? null : Number(x.live_slot), x.withdrawn_at])).to.deep.equal([[0, null], [Number(b), null]]);
    await migration0080.up(t.db); // re-runnable
    let second2 = 'ok';
    try {
      await t.db('reconcile_imports').where({ id: b }).update({ live_slot: 0 });
    } catch {
      second2 = 'refused';
    }
    expect(second2, 'the live key is back: a second slot 0 for the key is refused').to.equal('refused');
  });
});
