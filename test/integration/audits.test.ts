import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, asFile, csrfFromHtml, signIn, getFile } from '../support/app.ts';
import { makeUser, nationalId, seedTree, type Tree } from '../support/fixtures.ts';
import { appendEntries } from '../../server/queries/chain.ts';
import { protectSubject } from '../../server/queries/subject.ts';
import { setClock, localDate, now, addDays } from '../../server/time.ts';
import * as svc from '../../server/audits/service.ts';
import { awaitExport, pruneExports, startExport } from '../../server/audits/exports.ts';
import { runJob } from '../../jobs/runner.ts';
import { allJobs } from '../../server/capabilities.ts';
import { verifyWorkbook } from '../../reports/annual.ts';
import { cellText } from '../../reports/cells.ts';
import type { Actor } from '../../server/actor.ts';

const at = (iso: string) => Date.parse(iso);

describe(`audits: registry, destruction, link reviews, internal audits (${ENGINE})`, function () {
  this.timeout(30_000);
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  let dir: string;
  const ids: Record<string, number> = {};
  const who = (key: string, account: string, unitId: number, roles: any[]): Actor => ({ id: ids[key], account, unitId, roles });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-audits-'));
    t = await migratedDb({ EXPORT_DIR: dir });
    tree = await seedTree(t.db);
    app = appFor(t);
    ids.plan = await makeUser(t.db, { account: 'plan.admin', unitId: tree.PLAN, roles: ['planning_admin'] });
    ids.admin1 = await makeUser(t.db, { account: 'ag1.admin', unitId: tree.AG1, roles: ['admin'] });
    ids.aud1 = await makeUser(t.db, { account: 'ag1.auditor', unitId: tree.AG1, roles: ['auditor'] });
    ids.clerk1 = await makeUser(t.db, { account: 'ag1.clerk', unitId: tree.AG1, roles: ['clerk'] });
    ids.subclerk = await makeUser(t.db, { account: 'ag1u1.clerk', unitId: tree.AG1U1, roles: ['clerk'] });
    ids.admin2 = await makeUser(t.db, { account: 'ag2.admin', unitId: tree.AG2, roles: ['admin'] });
    ids.aud2 = await makeUser(t.db, { account: 'ag2.auditor', unitId: tree.AG2, roles: ['auditor'] });
    // Evidence: an expired password, an overdue scheduled disable, a disabled account still querying.
    ids.expired = await makeUser(t.db, { account: 'ag1.expired', unitId: tree.AG1U1, roles: ['clerk'], passwordChangedAt: at('2025-01-01T00:00:00Z') });
    ids.leaver = await makeUser(t.db, { account: 'ag1.leaver', unitId: tree.AG1, roles: ['clerk'] });
    await t.db('users').where({ id: ids.leaver }).update({ disable_on: '2025-07-01' });
    ids.gone = await makeUser(t.db, { account: 'ag1.gone', unitId: tree.AG1, roles: ['clerk'], status: 'disabled' });
    await t.db('users').where({ id: ids.gone }).update({ disabled_at: at('2025-02-01T00:00:00Z') });
    // Everyone existed since 2024 (the tests move the clock into 2025).
    await t.db('users').update({ created_at: at('2024-01-01T00:00:00Z') });
    const keys = { enc: t.cfg.subjectEncKey, hmac: t.cfg.SUBJECT_HMAC_KEY };
    const entry = (userId: number, account: string, unitId: number, iso: string, scope: string, i: number) => ({
      user_id: userId, account, unit_id: unitId, queried_at: at(iso), op_code: 'IN01', scope_code: scope, query_request_id: null, case_no: `C-${i}`, reason: '個案服務查詢',
      ...protectSubject(keys, { type: 'national-id' as const, value: nationalId(500 + i) }, { user_id: userId, queried_at: at(iso) }), client_ip: null, source: 'web', token_id: null,
    });
    await t.db.transaction((trx) => appendEntries(trx, [
      entry(ids.clerk1, 'ag1.clerk', tree.AG1, '2025-01-10T02:00:00Z', '2-1', 1),
      entry(ids.subclerk, 'ag1u1.clerk', tree.AG1U1, '2025-02-10T02:00:00Z', '2-1', 2),
      entry(ids.gone, 'ag1.gone', tree.AG1, '2025-03-10T02:00:00Z', '2-1', 3), // after disabled_at
      entry(ids.clerk1, 'ag1.clerk', tree.AG1, '2025-03-11T02:00:00Z', '2-1', 4),
      entry(ids.clerk1, 'ag1.clerk', tree.AG1, '2024-12-11T02:00:00Z', '2-8', 5), // other year
    ]));
    // Checks: January signed off on time, February signed late, March missing.
    await t.db('checks').insert([
      { unit_id: tree.AG1, period: '2025-01', generation: 1, seed: 'a'.repeat(64), population: 1, population_digest: 'b'.repeat(64), sample_size: 1, rate_percent: 3, minimum: 10, status: 'signed-off', created_at: at('2025-02-01T00:00:00Z'), signed_off_at: at('2025-02-20T00:00:00Z') },
      { unit_id: tree.AG1, period: '2025-02', generation: 1, seed: 'a'.repeat(64), population: 1, population_digest: 'b'.repeat(64), sample_size: 1, rate_percent: 3, minimum: 10, status: 'signed-off', created_at: at('2025-03-01T00:00:00Z'), signed_off_at: at('2025-05-20T00:00:00Z') },
    ]);
    await t.db('investigations').insert({ unit_id: tree.AG1, title: '三月異常查詢', status: 'open', opened_by: ids.aud1, opened_at: at('2025-04-01T00:00:00Z') });
    await t.db('job_runs').insert({ job: 'verify-log', period: '2025-06-30', generation: 1, status: 'failed', started_at: at('2025-06-30T00:00:00Z'), finished_at: at('2025-06-30T00:01:00Z'), error: 'entry 7 changed' });
  });
  after(async () => {
    await t.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('retained data and destruction (4(二)1–2)', () => {
    it('registers through the form; bad input re-shows the form with messages and writes nothing', async () => {
      const s = await signIn(app, 'ag1.admin');
      const page = await s.agent.get('/audits/retained');
      expect(page.status).to.equal(200);
      const csrf = csrfFromHtml(page.text);
      const bad = await s.agent.post('/audits/retained').type('form').send({ _csrf: csrf, unit: String(tree.AG1), caseNo: '', description: '列印本', location: '密件櫃', medium: 'scroll', custodian: '王', access: '承辦人', destroyBy: '2025-02-30' });
      expect(bad.status).to.equal(400);
      expect(bad.text).to.contain('請輸入案號').and.contain('請選擇紙本或電子檔').and.contain('請輸入民國日期，例如「115/12/03」').and.contain('value="列印本"');
      expect(await t.db('retained_data').count({ n: '*' }).first()).to.deep.include({ n: 0 });
      const ok = await s.agent.post('/audits/retained').type('form').send({ _csrf: csrf, unit: String(tree.AG1U1), caseNo: 'C-2025-9', description: '個案投保資料列印本', location: '密件櫃 A', medium: 'paper', custodian: '王小明', access: '承辦人及科長', destroyBy: '2099-12-31' });
      expect(ok.status).to.equal(303);
      const list = await s.agent.get('/audits/retained');
      expect(list.text).to.contain('C-2025-9').and.contain('紙本（密件）');
      const outside = await s.agent.post('/audits/retained').type('form').send({ _csrf: csrf, unit: String(tree.AG2), caseNo: 'X', description: '不該登錄', location: 'x 櫃', medium: 'paper', custodian: '王', access: '王', destroyBy: '2099-12-31' });
      expect(outside.status).to.equal(403);
    });

    it('detects overdue items, shows them on the dashboard, and clears them on destruction', async () => {
      const today = localDate(now());
      const w = who('admin1', 'ag1.admin', tree.AG1, ['admin']);
      const overdueId = await svc.createRetained(t.db, w, { unit: tree.AG1, caseNo: 'OLD-1', description: '逾期列印本', location: '密件櫃 B', medium: 'paper', custodian: '王', access: '承辦人', destroyBy: addDays(today, -1) });
      await svc.createRetained(t.db, w, { unit: tree.AG1, caseNo: 'DUE-TODAY', description: '今日到期', location: '密件櫃 B', medium: 'electronic', custodian: '王', access: '承辦人', destroyBy: today });
      const overdue = await svc.overdueRetained(t.db, [tree.AG1, tree.AG1U1, tree.AG1U1A]);
      expect(overdue.map((o) => o.case_no)).to.deep.equal(['OLD-1']);
      expect(await svc.overdueRetained(t.db, [tree.AG2])).to.have.length(0);
      const s = await signIn(app, 'ag1.admin');
      const home = await s.agent.get('/');
      expect(home.text).to.contain('留存健保資料銷毀').and.contain('逾期未銷毀');
      expect(home.text).to.match(/href="\/audits\/retained\?show=overdue">1</);
      const page = await s.agent.get('/audits/retained?show=overdue');
      expect(page.text).to.contain('OLD-1').and.not.contain('DUE-TODAY');
      const csrf = csrfFromHtml(page.text);
      const future = await s.agent.post(`/audits/retained/${overdueId}/destruction`).type('form').send({ _csrf: csrf, destroyedOn: addDays(today, 2), method: '碎紙', witness: '李科長' });
      expect(future.status).to.equal(400);
      expect(future.text).to.contain('銷毀日期不可晚於今日');
      const done = await s.agent.post(`/audits/retained/${overdueId}/destruction`).type('form').send({ _csrf: csrf, destroyedOn: today, method: '碎紙機銷毀至無法辨識', witness: '李科長' });
      expect(done.status).to.equal(303);
      const rec = await t.db('data_destructions').where({ retained_id: overdueId }).first();
      expect(rec).to.include({ destroyed_on: today, witness: '李科長' });
      expect(await svc.overdueRetained(t.db, [tree.AG1])).to.have.length(0);
      const twice = await s.agent.post(`/audits/retained/${overdueId}/destruction`).set('Accept', 'application/json').type('form').send({ _csrf: csrf, destroyedOn: today, method: '碎紙', witness: '李科長' });
      expect(twice.status).to.equal(409);
      const ev = await t.db('system_events').where({ action: 'retained-data-destroyed', target_id: String(overdueId) }).first();
      expect(ev.actor_account).to.equal('ag1.admin');
    });
  });

  describe('yearly link review (4(二)3)', () => {
    it('lists every agency × scope link with its use count from the log', async () => {
      const list = await svc.linkReviewList(t.db, { unitId: tree.AG1, roles: ['admin'] }, 2025);
      expect(list.map((l) => [l.scopeCode, l.useCount])).to.deep.equal([['2-1', 4], ['2-8', 0]]);
      const county = await svc.linkReviewList(t.db, { unitId: tree.PLAN, roles: ['planning_admin'] }, 2025);
      expect(county.map((l) => `${l.unitCode}:${l.scopeCode}`)).to.deep.equal(['AG1:2-1', 'AG1:2-8', 'AG2:2-4']);
      // Sitting in the planning department is not county-wide by itself (accounts/reach.ts).
      expect(await svc.linkReviewList(t.db, { unitId: tree.PLAN, roles: ['it'] }, 2025)).to.deep.equal([]);
    });

    it('records keep, and terminate with a termination request; once per link and year; only within reach', async () => {
      const s = await signIn(app, 'ag1.admin');
      const page = await s.agent.get('/audits/links?year=2025');
      expect(page.status).to.equal(200);
      const csrf = csrfFromHtml(page.text);
      const [l21, l28] = await svc.linkReviewList(t.db, { unitId: tree.AG1, roles: ['admin'] }, 2025);
      const bad = await s.agent.post('/audits/links').type('form').send({ _csrf: csrf, link: String(l21.unitScopeId), year: '2025', outcome: '', reason: '' });
      expect(bad.status).to.equal(400);
      expect(bad.text).to.contain('請選擇仍有需求或申請終止');
      const keep = await s.agent.post('/audits/links').type('form').send({ _csrf: csrf, link: String(l21.unitScopeId), year: '2025', outcome: 'keep', reason: '業務持續辦理' });
      expect(keep.status).to.equal(303);
      const term = await s.agent.post('/audits/links').type('form').send({ _csrf: csrf, link: String(l28.unitScopeId), year: '2025', outcome: 'terminate', reason: '業務已移撥' });
      expect(term.status).to.equal(303);
      const reviews = await t.db('link_reviews').where({ year: 2025 }).orderBy('id');
      expect(reviews.map((r: any) => [r.outcome, Number(r.use_count)])).to.deep.equal([['keep', 4], ['terminate', 0]]);
      const termination = await t.db('link_terminations').where({ link_review_id: reviews[1].id }).first();
      expect(termination).to.include({ status: 'requested', unit_id: tree.AG1 });
      const dup = await s.agent.post('/audits/links').type('form').send({ _csrf: csrf, link: String(l21.unitScopeId), year: '2025', outcome: 'keep', reason: '再一次' });
      expect(dup.status).to.equal(409);
      const [ag2] = await svc.linkReviewList(t.db, { unitId: tree.AG2, roles: ['admin'] }, 2025);
      const outside = await s.agent.post('/audits/links').type('form').send({ _csrf: csrf, link: String(ag2.unitScopeId), year: '2025', outcome: 'keep', reason: '不是我的' });
      expect(outside.status).to.equal(403);
      const future = await s.agent.post('/audits/links').type('form').send({ _csrf: csrf, link: String(ag2.unitScopeId), year: '2999', outcome: 'keep', reason: '未來' });
      expect(future.status).to.equal(400);
      const after = await s.agent.get('/audits/links?year=2025');
      expect(after.text).to.contain('申請終止').and.contain('終止申請第');
    });
  });

  describe('half-yearly internal audit (5(三))', () => {
    let auditId: number;
    it('opens with a checklist whose evidence the system filled in from prepared data', async () => {
      setClock(() => at('2025-07-15T02:00:00Z'));
      await svc.createRetained(t.db, who('admin1', 'ag1.admin', tree.AG1, ['admin']), { unit: tree.AG1U1, caseNo: 'H1-OLD', description: '上半年到期之列印本', location: '密件櫃 C', medium: 'paper', custodian: '王', access: '承辦人', destroyBy: '2025-06-30' });
      const ev = await svc.gatherEvidence(t.db, t.cfg, tree.AG1, '2025-H1');
      expect(ev.months.map((m) => [m.month, m.entries, m.check?.status ?? null, m.check?.onTime ?? null])).to.deep.equal([
        ['2025-01', 1, 'signed-off', true], ['2025-02', 1, 'signed-off', false], ['2025-03', 2, null, null],
        ['2025-04', 0, null, null], ['2025-05', 0, null, null], ['2025-06', 0, null, null],
      ]);
      expect(ev.openInvestigations.map((i) => i.title)).to.deep.equal(['三月異常查詢']);
      expect(ev.overdueDestructions.map((o) => o.caseNo)).to.deep.equal(['H1-OLD']);
      expect(ev.chain).to.include({ ok: false, status: 'failed' });
      expect(ev.chain!.detail).to.contain('entry 7 changed');
      // A later verification (job or command) is what counts.
      await t.db('system_events').insert({ at: at('2025-07-10T00:00:00Z'), actor_account: 'system', action: 'query-log.verify', outcome: 'ok', detail: JSON.stringify({ count: 5 }) });
      expect((await svc.gatherEvidence(t.db, t.cfg, tree.AG1, '2025-H1')).chain).to.include({ ok: true });
      await t.db('system_events').insert({ at: at('2025-07-11T00:00:00Z'), actor_account: 'system', action: 'query-log.verify', outcome: 'failed', detail: JSON.stringify({ reason: 'seq 3 missing' }) });
      expect(ev.expiredPasswords.map((e) => e.account)).to.include('ag1.expired');
      expect(ev.disabledButActive.map((d) => d.account).sort()).to.deep.equal(['ag1.gone', 'ag1.leaver']);
      expect(ev.disabledButActive.find((d) => d.account === 'ag1.gone')!.problem).to.contain('停用後仍有 1 筆查詢紀錄');
      expect(ev.linkReviews).to.deep.equal({ year: 2025, total: 2, reviewed: 2 });
      const s = await signIn(app, 'ag1.auditor');
      const page = await s.agent.get('/audits');
      const csrf = csrfFromHtml(page.text);
      const opened = await s.agent.post('/audits').type('form').send({ _csrf: csrf, unit: String(tree.AG1), period: '2025-H1' });
      expect(opened.status).to.equal(303);
      auditId = Number(/\/audits\/(\d+)$/.exec(opened.headers.location)![1]);
      const row = await t.db('internal_audits').where({ id: auditId }).first();
      const list = JSON.parse(row.checklist);
      const byKey = Object.fromEntries(list.map((i: any) => [i.key, i]));
      expect(byKey['monthly-checks'].system).to.equal('issue');
      expect(byKey['monthly-checks'].evidence).to.contain('2025-03');
      expect(byKey.investigations.system).to.equal('issue');
      expect(byKey.chain.system).to.equal('issue');
      expect(byKey.passwords.system).to.equal('issue');
      expect(byKey.disabled.system).to.equal('issue');
      expect(byKey.links.system).to.equal('ok');
      expect(byKey.destruction.system).to.equal('issue');
      expect(byKey['account-review'].system).to.equal('issue'); // no account review in the half
      // Opening again returns the same audit.
      const again = await s.agent.post('/audits').type('form').send({ _csrf: csrf, unit: String(tree.AG1), period: '2025-H1' });
      expect(again.headers.location).to.equal(`/audits/${auditId}`);
      const future = await s.agent.post('/audits').type('form').send({ _csrf: csrf, unit: String(tree.AG1), period: '2099-H1' });
      expect(future.status).to.equal(400);
      expect(future.text).to.contain('不可稽核尚未開始之半年度');
      const other = await s.agent.post('/audits').type('form').send({ _csrf: csrf, unit: String(tree.AG2), period: '2025-H1' });
      expect(other.status).to.equal(403);
    });

    it('signs off only with every result, findings and conclusion; then writes an audit record and refuses edits', async () => {
      setClock(() => at('2025-07-20T02:00:00Z'));
      const s = await signIn(app, 'ag1.auditor');
      const page = await s.agent.get(`/audits/${auditId}`);
      expect(page.status).to.equal(200);
      expect(page.text).to.contain('查核項目').and.contain('三(二)2');
      const csrf = csrfFromHtml(page.text);
      const missing = await s.agent.post(`/audits/${auditId}`).type('form').send({ _csrf: csrf, action: 'sign', result_chain: 'fail', note_chain: '已請資訊室查明', findings: '' });
      expect(missing.status).to.equal(400);
      expect(missing.text).to.contain('請選擇查核結果').and.contain('簽核前請填寫稽核發現').and.contain('已請資訊室查明');
      expect((await t.db('internal_audits').where({ id: auditId }).first()).status).to.equal('open');
      const form: Record<string, string> = { _csrf: csrf, action: 'sign', findings: '三月未完成查核；一件調查未結案。', conclusion: '=限期改善' };
      for (const k of ['account-review', 'monthly-checks', 'investigations', 'destruction', 'chain', 'passwords', 'disabled', 'links']) form[`result_${k}`] = k === 'links' ? 'pass' : 'fail';
      const signed = await s.agent.post(`/audits/${auditId}`).type('form').send(form);
      expect(signed.status).to.equal(303);
      const row = await t.db('internal_audits').where({ id: auditId }).first();
      expect(row.status).to.equal('signed');
      expect(row.keep_until).to.equal('2030-07-20');
      const rec = await t.db('audit_records').where({ id: row.audit_record_id }).first();
      expect(rec).to.include({ kind: 'internal-audit', unit_id: tree.AG1, period: '2025-H1', source_type: 'internal-audit', source_id: auditId, signed_by: ids.aud1, conclusion: '=限期改善' });
      expect(rec.summary).to.contain('不符合 7 項');
      const edit = await s.agent.post(`/audits/${auditId}`).set('Accept', 'application/json').type('form').send({ _csrf: csrf, action: 'save', findings: '改' });
      expect(edit.status).to.equal(409);
      expect((await t.db('internal_audits').where({ id: auditId }).first()).findings).to.equal('三月未完成查核；一件調查未結案。');
      const view = await s.agent.get(`/audits/${auditId}`);
      expect(view.text).to.contain('已簽核').and.not.contain('name="findings"');
      // The agency's admin reads it; another agency's auditor cannot.
      expect((await (await signIn(app, 'ag1.admin')).agent.get(`/audits/${auditId}`)).status).to.equal(200);
      expect((await (await signIn(app, 'ag2.auditor')).agent.get(`/audits/${auditId}`)).status).to.equal(403);
      // The signed audit is in the year's workbook as an audit record.
      const svcRows = await t.db('audit_records').where({ unit_id: tree.AG1, kind: 'internal-audit' });
      expect(svcRows).to.have.length(1);
    });
  });

  describe('audit package for the NHI administration (5(四))', () => {
    it('gives the user roster and audit records of a date range as a workbook', async () => {
      setClock(() => at('2025-08-01T02:00:00Z'));
      const started = await startExport({ db: t.db, cfg: t.cfg }, { id: ids.aud1, account: 'ag1.auditor' }, { kind: 'audit-package', from: '2025-01-01', to: '2025-07-31', unitId: tree.AG1 });
      const row = await awaitExport(t.db, started.id);
      expect(row.status, row.error).to.equal('done');
      expect((await verifyWorkbook(row.file_path)).ok).to.equal(true);
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.readFile(row.file_path);
      expect(wb.worksheets.map((w) => w.name)).to.deep.equal(['封面', '使用者清冊', '稽核紀錄', '內部稽核查核項目', '資料銷毀紀錄']);
      const roster = wb.getWorksheet('使用者清冊')!;
      const accounts: string[] = [];
      for (let r = 2; r <= roster.rowCount; r++) accounts.push(cellText(roster.getRow(r).getCell(1).value));
      expect(accounts).to.include.members(['ag1.admin', 'ag1.auditor', 'ag1.clerk', 'ag1u1.clerk', 'ag1.gone']).and.not.include('ag2.admin');
      const records = wb.getWorksheet('稽核紀錄')!;
      expect(records.rowCount).to.equal(2);
      expect(cellText(records.getRow(2).getCell(8).value)).to.equal('=限期改善');
      expect(records.getRow(2).getCell(8).type).not.to.equal(ExcelJS.ValueType.Formula);
      expect(wb.getWorksheet('內部稽核查核項目')!.rowCount).to.equal(9);
      // Printed on A4 landscape, one page wide; the header row on every page of the data sheets.
      for (const ws of wb.worksheets) {
        expect(ws.pageSetup, ws.name).to.include({ paperSize: 9, orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0 });
        expect(ws.pageSetup.printTitlesRow, ws.name).to.equal(ws.name === '封面' ? undefined : '1:1');
      }
      expect(roster.getRow(1).getCell(1).font).to.include({ bold: true, name: 'Calibri' });
      expect(wb.getWorksheet('封面')!.getRow(2).getCell(2).alignment?.wrapText).to.equal(true); // 依據
      const s = await signIn(app, 'ag1.auditor');
      const page = await s.agent.get('/audits/package');
      expect(page.status).to.equal(200);
      const bad = await s.agent.post('/audits/package').type('form').send({ _csrf: csrfFromHtml(page.text), from: '2025-07-01', to: '2025-01-01' });
      expect(bad.status).to.equal(400);
      expect(bad.text).to.contain('結束日不可早於開始日');
    });
    it('POST /api/v1/reports/audit-package makes the workbook within the caller\'s reach, problem+json naming the field otherwise; GET answers the one made', async () => {
      setClock(() => at('2025-08-01T02:00:00Z'));
      const s = await signIn(app, 'ag1.auditor');
      const post = (who: typeof s, body: object) => who.agent.post('/api/v1/reports/audit-package').set('X-CSRF-Token', who.csrf).send(body);
      const events = async () => Number((await t.db('system_events').count({ n: '*' }).first())?.n);
      const before = await events();
      const res = await asFile(post(s, { from: '2025-01-01', to: '2025-07-31', unit: 'AG1' }));
      expect(res.status).to.be.oneOf([200, 201]);
      expect(res.headers['content-type']).to.contain('spreadsheetml');
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.load(res.body as any);
      expect(wb.worksheets.map((w) => w.name)).to.deep.equal(['封面', '使用者清冊', '稽核紀錄', '內部稽核查核項目', '資料銷毀紀錄']);
      const roster = wb.getWorksheet('使用者清冊')!;
      const accounts: string[] = [];
      for (let r = 2; r <= roster.rowCount; r++) accounts.push(cellText(roster.getRow(r).getCell(1).value));
      expect(accounts).to.include('ag1.clerk').and.not.include('ag2.admin');
      expect(await events(), 'the export is recorded').to.be.greaterThan(before);
      // The GET answers the package just made, and never starts one.
      const exportRows = async () => Number((await t.db('export_jobs').count({ n: '*' }))[0].n);
      const rowsBefore = await exportRows();
      const got = await getFile(s.agent, '/api/v1/reports/audit-package?from=2025-01-01&to=2025-07-31&unit=AG1');
      expect(got.status).to.equal(200);
      expect(got.headers['x-content-sha256']).to.equal(res.headers['x-content-sha256']);
      expect((await s.agent.get('/api/v1/reports/audit-package?from=2025-01-01&to=2025-06-30&unit=AG1')).status).to.equal(404);
      expect(await exportRows()).to.equal(rowsBefore);
      const reversed = await post(s, { from: '2025-07-01', to: '2025-01-01', unit: 'AG1' });
      expect(reversed.status).to.equal(400);
      expect(reversed.headers['content-type']).to.contain('application/problem+json');
      expect(reversed.body.errors.map((e: any) => e.field)).to.deep.equal(['to']);
      const noSuchDay = await post(s, { from: '2025-02-31', to: '2025-07-31', unit: 'AG1' });
      expect(noSuchDay.status).to.equal(400);
      expect(noSuchDay.body.errors.map((e: any) => e.field)).to.deep.equal(['from']);
      const missing = await post(s, { to: '2025-01-01' });
      expect(missing.status).to.equal(400);
      expect(missing.body.errors.map((e: any) => e.field)).to.include('from');
      expect((await post(s, { from: '2025-01-01', to: '2025-07-31', unit: 'AG2' })).status).to.equal(403);
      const clerk = await signIn(app, 'ag1.clerk');
      expect((await post(clerk, { from: '2025-01-01', to: '2025-07-31', unit: 'AG1' })).status).to.equal(403);
    });
  });
  describe('export files retention (prune-exports)', () => {
    it('removes export files past EXPORT_KEEP_DAYS and crash leftovers, keeps filed workbooks and recent files, records one event', async () => {
      setClock(() => at('2025-09-01T02:00:00Z'));
      const day = 86_400_000;
      const file = (name: string) => {
        const f = path.join(dir, 'annual', name);
        fs.mkdirSync(path.dirname(f), { recursive: true });
        fs.writeFileSync(f, 'xlsx');
        return f;
      };
      const exportRow = async (name: string, finishedAgoDays: number) => {
        const [id] = await t.db('export_jobs').insert({ kind: 'annual', unit_id: tree.AG1, params: '{}', status: 'done', progress: 1, requested_at: now() - finishedAgoDays * day, finished_at: now() - finishedAgoDays * day, file_name: name, file_path: file(name), sha256: 'c'.repeat(64), bytes: 4 });
        return Number(id);
      };
      const oldUnfiled = await exportRow('old.xlsx', t.cfg.EXPORT_KEEP_DAYS + 1);
      const oldFiled = await exportRow('filed.xlsx', t.cfg.EXPORT_KEEP_DAYS + 100);
      const recent = await exportRow('recent.xlsx', t.cfg.EXPORT_KEEP_DAYS - 1);
      await t.db('annual_filings').insert({ unit_id: tree.AG2, year: 2023, export_id: oldFiled, workbook_sha256: 'c'.repeat(64), submitted_by: ids.admin2, submitted_at: now() });
      const partial = file('crashed.xlsx.partial-123-abcdef');
      fs.utimesSync(partial, new Date(Date.now() - 2 * day), new Date(Date.now() - 2 * day));
      const freshPartial = file('running.xlsx.partial-124-abcdef'); // an export writing right now
      const outside = path.join(os.tmpdir(), `nhi-outside-${process.pid}.xlsx`);
      fs.writeFileSync(outside, 'not ours');
      const [strayId] = await t.db('export_jobs').insert({ kind: 'annual', unit_id: tree.AG1, params: '{}', status: 'done', progress: 1, requested_at: 0, finished_at: 0, file_name: 'x.xlsx', file_path: outside });

      const job = allJobs().find((j) => j.name === 'prune-exports')!;
      const run = await runJob({ db: t.db, cfg: t.cfg }, job, { trigger: 'test' });
      expect(run.status, JSON.stringify(run)).to.equal('ran');
      const result = (run as any).result as { removed: number; partials: number };
      const path0 = async (id: number) => (await t.db('export_jobs').where({ id }).first('file_path')).file_path;
      expect(fs.existsSync(path.join(dir, 'annual', 'old.xlsx'))).to.equal(false);
      expect(await path0(oldUnfiled)).to.equal(null);
      expect(fs.existsSync(path.join(dir, 'annual', 'filed.xlsx')), 'the filed workbook stays').to.equal(true);
      expect(await path0(oldFiled)).to.not.equal(null);
      expect(fs.existsSync(path.join(dir, 'annual', 'recent.xlsx'))).to.equal(true);
      expect(await path0(recent)).to.not.equal(null);
      expect(fs.existsSync(partial)).to.equal(false);
      expect(fs.existsSync(freshPartial)).to.equal(true);
      expect(fs.existsSync(outside), 'nothing outside EXPORT_DIR is deleted').to.equal(true);
      fs.rmSync(outside, { force: true });
      const ev = await t.db('system_events').where({ action: 'exports.pruned' }).orderBy('id', 'desc').first();
      // The old unfiled file and the earlier tests' exports (finished over 30 days before this clock).
      expect(result.removed).to.be.at.least(1);
      expect(JSON.parse(ev.detail)).to.include({ removed: result.removed, partials: 1, keepDays: t.cfg.EXPORT_KEEP_DAYS });
      expect(await path0(strayId), 'a row pointing outside EXPORT_DIR is left as it is').to.equal(outside);
      // The row of a removed file stays as the record; asking for the file says it is gone.
      const s = await signIn(app, 'ag1.auditor');
      const gone = await s.agent.get(`/audits/exports/${oldUnfiled}/file`);
      expect(gone.status).to.equal(404);
      // Nothing left to remove: a second run removes nothing and records nothing.
      const events = Number((await t.db('system_events').where({ action: 'exports.pruned' }).count({ n: '*' }).first())?.n);
      expect(await pruneExports({ db: t.db, cfg: t.cfg })).to.include({ removed: 0, partials: 0 });
      expect(Number((await t.db('system_events').where({ action: 'exports.pruned' }).count({ n: '*' }).first())?.n)).to.equal(events);
      await t.db('export_jobs').where({ id: strayId }).del();
    });
  });
});
