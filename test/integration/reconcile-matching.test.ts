import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, signIn } from '../support/app.ts';
import { makeApprovedRequest, makeUser, nationalId, recordTestEntries, seedTree, type Tree } from '../support/fixtures.ts';
import { runJob } from '../../jobs/runner.ts';
import { allCommands } from '../../server/capabilities.ts';
import { monthlySamplingJob } from '../../server/checks/index.ts';
import * as checks from '../../server/checks/service.ts';
import { runReconciliation } from '../../server/reconcile/results.ts';
import { encryptSubject, maskSubject, subjectHmac } from '../../server/queries/subject.ts';
import { verifyChain } from '../../server/queries/chain.ts';
import { startOfLocalDay } from '../../server/time.ts';
import { writeAnnualWorkbook, verifyWorkbook } from '../../reports/annual.ts';
import { cellText } from '../../reports/cells.ts';
import { RECONCILE_SHEET } from '../../server/reconcile/annual-sheet.ts';

const PERIOD = '2026-03';
const at = (date: string, hhmm: string) => startOfLocalDay(date) + (Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3))) * 60_000;
const MIN = 60_000;
const ID = { A: nationalId(101), B: nationalId(102), C: nationalId(103), D: nationalId(104), E: nationalId(105), X: nationalId(106) };

describe(`reconciliation matching and its consequences (${ENGINE})`, function () {
  this.timeout(120_000);
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  const u: Record<string, number> = {};
  const e: Record<string, number> = {};
  const rec: Record<string, number> = {};
  let agency1: any;
  let mappingSeq = 0;
  let form = 0;
  const cmd = (name: string) => allCommands().find((c) => c.name === name)!;

  const subject = (value: string) => ({ type: 'national-id' as const, value });
  /** A source with one import of the period, inserted directly (the import half is tested on its own). */
  async function source(code: string, kind: 'records' | 'counts', complete: boolean): Promise<number> {
    const [id] = await t.db('reconcile_sources').insert({ code, name: `來源${code}`, kind, complete, unit_id: null, created_by: null, created_at: Date.now() });
    return Number(id);
  }
  async function importInto(sourceId: number, rows: Array<{ account: string; at: number; subject?: string; count?: number; opCode?: string }>): Promise<number[]> {
    const [mapping] = await t.db('reconcile_mappings').insert({ source_id: sourceId, version: ++mappingSeq, columns: '{}', encoding: 'utf-8', date_style: 'ad', header_row: 1, created_at: Date.now() });
    const [imp] = await t.db('reconcile_imports').insert({ source_id: sourceId, mapping_id: mapping, unit_id: tree.AG1, period: PERIOD, file_name: `f${mappingSeq}.csv`, file_sha256: String(mappingSeq).padStart(64, '0'), row_count: rows.length, imported_by: null, via: 'cli', imported_at: Date.now() });
    const links = new Map<string, number>((await t.db('source_account_links').where({ source_id: sourceId }).select('source_account', 'user_id')).map((l: any) => [l.source_account, Number(l.user_id)]));
    const ids: number[] = [];
    for (const [i, r] of rows.entries()) {
      const s = r.subject ? subject(r.subject) : null;
      const [id] = await t.db('source_records').insert({
        import_id: imp, row_no: i + 2, source_account: r.account, user_id: links.get(r.account) ?? null, occurred_at: r.at,
        subject_type: s ? s.type : null, subject_hmac: s ? subjectHmac(t.cfg.SUBJECT_HMAC_KEY, s) : null, subject_cipher: s ? encryptSubject(t.cfg.subjectEncKey, s.value, 'test') : null,
        subject_mask: s ? maskSubject(s) : null, op_code: r.opCode ?? (s ? 'IN01' : null), count: r.count ?? null,
      });
      ids.push(Number(id));
    }
    return ids;
  }
  const link = (sourceId: number, account: string, userId: number) => t.db('source_account_links').insert({ source_id: sourceId, user_id: userId, source_account: account, created_at: Date.now() });
  const reconcile = () => runReconciliation(t.db, t.cfg, { agency: agency1, period: PERIOD, trigger: 'manual' });
  const currentCheck = () => t.db('checks').where({ unit_id: tree.AG1, period: PERIOD }).orderBy('generation', 'desc').first();
  const findings = async (runId: number, kind: string) => t.db('reconcile_findings').where({ run_id: runId, kind }).orderBy('id');
  let S1 = 0;
  let S2 = 0;
  let S3 = 0;

  before(async () => {
    t = await migratedDb();
    tree = await seedTree(t.db);
    app = appFor(t);
    agency1 = await t.db('units').where({ id: tree.AG1 }).first();
    u.clerk1 = await makeUser(t.db, { account: 'clerk1', unitId: tree.AG1, roles: ['clerk'], permissions: [['2-1', 'IN01']] });
    u.clerk2 = await makeUser(t.db, { account: 'clerk2', unitId: tree.AG1U1, roles: ['clerk'], permissions: [['2-1', 'IN01']] });
    u.checker = await makeUser(t.db, { account: 'checker1', unitId: tree.AG1, roles: ['checker'], rank: 'section_chief' });
    u.auditor = await makeUser(t.db, { account: 'auditor1', unitId: tree.AG1, roles: ['auditor'] });
    u.ag2auditor = await makeUser(t.db, { account: 'auditor2', unitId: tree.AG2, roles: ['auditor'] });
    u.ethics = await makeUser(t.db, { account: 'ethics1', unitId: tree.AG1, roles: ['ethics'] });
    u.it = await makeUser(t.db, { account: 'it1', unitId: tree.AG1, roles: ['it'] });
    u.plan = await makeUser(t.db, { account: 'plan1', unitId: tree.PLAN, roles: ['planning_admin'] });
    form = await makeApprovedRequest(t.db, { userId: u.clerk1, unitId: tree.AG1 });
    const entries: any[] = [];
    const add = (key: string, who: string, unitId: number, when: number, value: string) => entries.push({ key, userId: u[who], account: who, unitId, queriedAt: when, subject: subject(value), queryRequestId: who === 'clerk1' ? form : null });
    add('E1', 'clerk1', tree.AG1, at('2026-03-10', '10:00'), ID.A);
    add('E2', 'clerk1', tree.AG1, at('2026-03-11', '10:00'), ID.B);
    add('E3', 'clerk1', tree.AG1, at('2026-03-12', '10:00'), ID.C);
    add('E4', 'clerk2', tree.AG1U1, at('2026-03-13', '10:00'), ID.D);
    add('E5', 'clerk2', tree.AG1U1, at('2026-03-14', '10:00'), ID.E);
    for (let i = 0; i < 30; i++) add(`F${i}`, 'clerk1', tree.AG1, at(`2026-03-${String(16 + (i % 10)).padStart(2, '0')}`, `${10 + (i % 6)}:00`), nationalId(200 + i));
    entries.sort((a, b) => a.queriedAt - b.queriedAt);
    const out = await recordTestEntries(t.db, t.cfg, entries);
    entries.forEach((x, i) => (e[x.key] = out[i].id));

    S1 = await source('NHI', 'records', false);
    await link(S1, 'NHI-C1', u.clerk1);
    [rec.R1, rec.R2, rec.R3, rec.R4, rec.R5] = await importInto(S1, [
      { account: 'NHI-C1', at: at('2026-03-10', '10:00') + 29 * MIN, subject: ID.A }, // 29 min off E1: matched
      { account: 'NHI-C1', at: at('2026-03-11', '10:00') + 31 * MIN, subject: ID.B }, // 31 min off E2: unlogged
      { account: 'NHI-C1', at: at('2026-03-12', '09:50'), subject: ID.C }, // two records, one entry (E3 10:00):
      { account: 'NHI-C1', at: at('2026-03-12', '10:05'), subject: ID.C }, //   the nearer (5 min) matches
      { account: 'GHOST', at: at('2026-03-12', '11:00'), subject: ID.X }, // unknown account
    ]);
    S2 = await source('BIZ', 'records', true);
    await link(S2, 'B-2', u.clerk2);
    [rec.B1] = await importInto(S2, [{ account: 'B-2', at: at('2026-03-14', '10:10'), subject: ID.E }]);
    S3 = await source('CNT', 'counts', false);
    await link(S3, 'C1', u.clerk1);
    await importInto(S3, [{ account: 'C1', at: startOfLocalDay('2026-03-10'), count: 1 }, { account: 'C1', at: startOfLocalDay('2026-03-11'), count: 3 }]);
  });
  after(() => t.drop());

  let firstRun: Awaited<ReturnType<typeof reconcile>>;

  it('matches record by record: 29 minutes off matched, 31 off unlogged, two records and one entry → the nearer matched, the other unlogged', async () => {
    firstRun = await reconcile();
    const byKind = async (kind: string) => (await findings(firstRun.runId, kind));
    expect((await byKind('unlogged')).map((f: any) => Number(f.source_record_id))).to.deep.equal([rec.R2, rec.R3]);
    const s1 = await t.db('reconcile_run_sources').where({ run_id: firstRun.runId, source_id: S1 }).first();
    expect(Number(s1.matched)).to.equal(2); // R1–E1, R4–E3
    expect(Number(s1.unlogged)).to.equal(2);
    expect(Number(s1.records)).to.equal(4);
    expect(Number(s1.unconfirmed)).to.equal(0); // E2 has no record, but NHI does not claim completeness
  });

  it('an unknown source account is a finding of its own, never matched', async () => {
    const unknown = await findings(firstRun.runId, 'unknown-account');
    expect(unknown.map((f: any) => [f.source_account, Number(f.source_count)])).to.deep.equal([['GHOST', 1]]);
    expect(firstRun.figures.unknownAccounts).to.equal(1);
  });

  it('unconfirmed only where the source claims completeness: the complete source\'s linked clerk, not the others', async () => {
    const unconfirmed = await findings(firstRun.runId, 'unconfirmed');
    expect(unconfirmed.map((f: any) => Number(f.entry_id))).to.deep.equal([e.E4]);
    expect(Number(unconfirmed[0].source_id)).to.equal(S2);
    const s2 = await t.db('reconcile_run_sources').where({ run_id: firstRun.runId, source_id: S2 }).first();
    expect([Number(s2.matched), Number(s2.unlogged), Number(s2.unconfirmed)]).to.deep.equal([1, 0, 1]);
  });

  it('a count-only source is compared per account and day', async () => {
    const diffs = await findings(firstRun.runId, 'count-difference');
    expect(diffs.map((f: any) => [Number(f.user_id), f.day, Number(f.source_count), Number(f.log_count)])).to.deep.equal([[u.clerk1, '2026-03-11', 3, 1]]);
    const s3 = await t.db('reconcile_run_sources').where({ run_id: firstRun.runId, source_id: S3 }).first();
    expect([Number(s3.records), Number(s3.matched), Number(s3.unlogged), Number(s3.count_differences)]).to.deep.equal([4, 2, 2, 1]);
  });

  it('stores a run with its figures and hash; a re-run over the same data gives the same hash and supersedes the first', async () => {
    expect(firstRun.sha256).to.match(/^[0-9a-f]{64}$/);
    expect(firstRun.checkNote).to.equal('not-drawn');
    const again = await reconcile();
    expect(again.sha256).to.equal(firstRun.sha256);
    expect(again.generation).to.equal(firstRun.generation + 1);
    const runs = await t.db('reconcile_runs').where({ unit_id: tree.AG1, period: PERIOD }).orderBy('generation');
    expect(runs.map((r: any) => r.status)).to.deep.equal(['superseded', 'current']);
    firstRun = again;
  });

  it('unlogged records join the check drawn after the import, on top of the random draw; checks verify still holds', async () => {
    expect((await runJob({ cfg: t.cfg, db: t.db }, monthlySamplingJob, { period: PERIOD })).status).to.equal('ran');
    const c = await currentCheck();
    const items = await t.db('check_items').where({ check_id: c.id }).orderBy('id');
    const unlogged = items.filter((i: any) => i.basis === 'unlogged');
    expect(unlogged.map((i: any) => Number(i.source_record_id))).to.deep.equal([rec.R2, rec.R3]);
    expect(unlogged.every((i: any) => i.entry_id == null && i.verdict === 'explanation-needed' && Number(i.checker_id) === u.checker)).to.equal(true);
    expect(items.filter((i: any) => i.basis === 'random')).to.have.length(Number(c.sample_size));
    const lines: string[] = [];
    expect(await cmd('checks verify').run({ cfg: t.cfg, db: t.db }, { positional: [], flags: { period: PERIOD, unit: 'AG1' } }, (s) => lines.push(s))).to.equal(0);
  });

  it('a record imported after the draw joins the drawn check (and only it); verify still holds', async () => {
    [rec.R6] = await importInto(S1, [{ account: 'NHI-C1', at: at('2026-03-20', '15:00'), subject: nationalId(900) }]);
    const r = await reconcile();
    expect(r.checkItemsAdded).to.equal(1);
    const c = await currentCheck();
    const unlogged = await t.db('check_items').where({ check_id: c.id, basis: 'unlogged' }).orderBy('source_record_id').pluck('source_record_id');
    expect(unlogged.map(Number)).to.deep.equal([rec.R2, rec.R3, rec.R6]);
    const lines: string[] = [];
    expect(await cmd('checks verify').run({ cfg: t.cfg, db: t.db }, { positional: [], flags: { period: PERIOD, unit: 'AG1' } }, (s) => lines.push(s))).to.equal(0);
    expect(lines.join('\n')).to.match(/^ok:/m);
  });

  it('the check shows an item without an entry: clerk, time (ROC), masked subject, op code; the API names it by r<id>', async () => {
    const c = await currentCheck();
    const checker = await signIn(app, 'checker1');
    const json = await checker.agent.get(`/api/v1/checks/${c.id}`);
    expect(json.status).to.equal(200);
    const item = json.body.items.find((i: any) => i.sourceRecordId === rec.R2);
    expect(item).to.include({ entryId: null, key: `r${rec.R2}`, basis: 'unlogged', verdict: 'explanation-needed' });
    const page = await checker.agent.get(`/checks/${c.id}`);
    expect(page.status).to.equal(200);
    expect(page.text).to.include(`來源紀錄第 ${rec.R2} 筆`).and.to.include('clerk1').and.to.include('115/03/11 10:31').and.to.include(maskSubject(subject(ID.B)));
    expect(page.text).to.not.include(ID.B);
    const sheet = await checker.agent.get(`/checks/${c.id}/sheet`);
    expect(sheet.status).to.equal(200);
    expect(sheet.text).to.include('未登錄查詢（對帳）');
  });

  it('the clerk sees it, and a late record links a new entry at the real query time, recorded now (not backdated)', async () => {
    const c = await currentCheck();
    const clerk = await signIn(app, 'clerk1');
    const asked = await clerk.agent.get('/api/v1/explanations');
    expect(asked.body.items.map((x: any) => x.key)).to.include.members([`r${rec.R2}`, `r${rec.R3}`]);
    const page = await clerk.agent.get('/explanations');
    expect(page.text).to.include('漏登時補登查詢日誌');
    const body = { caseNo: 'CASE-1130009', reason: '個案訪視前確認投保狀態', opCode: 'IN01', scope: '2-1', subjectValue: ID.A, explanation: '當日系統異常未及登錄', queryRequestId: form };
    const wrong = await clerk.agent.post(`/api/v1/checks/${c.id}/items/r${rec.R2}/late-record`).set('X-CSRF-Token', clerk.csrf).send(body);
    expect(wrong.status).to.equal(400);
    expect(wrong.body.errors.map((x: any) => x.field)).to.include('subjectValue');
    expect(await t.db('late_records').count('* as n').first()).to.deep.include({ n: 0 });
    const other = await signIn(app, 'clerk2');
    const notMine = await other.agent.post(`/api/v1/checks/${c.id}/items/r${rec.R2}/late-record`).set('X-CSRF-Token', other.csrf).send({ ...body, subjectValue: ID.B });
    expect(notMine.status).to.equal(404);
    const before = Date.now();
    const ok = await clerk.agent.post(`/api/v1/checks/${c.id}/items/r${rec.R2}/late-record`).set('X-CSRF-Token', clerk.csrf).send({ ...body, subjectValue: ID.B });
    expect(ok.status, JSON.stringify(ok.body)).to.equal(201);
    const entry = await t.db('query_logs').where({ id: ok.body.entryId }).first();
    const record = await t.db('source_records').where({ id: rec.R2 }).first();
    expect(Number(entry.queried_at)).to.equal(Number(record.occurred_at));
    expect(entry.subject_hmac).to.equal(record.subject_hmac);
    const late = await t.db('late_records').where({ source_record_id: rec.R2 }).first();
    expect(Number(late.entry_id)).to.equal(ok.body.entryId);
    expect(Number(late.recorded_at)).to.be.at.least(before);
    expect(Number(late.recorded_by)).to.equal(u.clerk1);
    const again = await clerk.agent.post(`/api/v1/checks/${c.id}/items/r${rec.R2}/late-record`).set('X-CSRF-Token', clerk.csrf).send({ ...body, subjectValue: ID.B });
    expect(again.status).to.equal(409); // recorded once
    expect(await t.db('late_records').count('* as n').first()).to.deep.include({ n: 1 });
    expect((await verifyChain(t.db)).ok).to.equal(true);
    // The next reconciliation finds the record matched by the late entry.
    const r = await reconcile();
    const unloggedNow = (await findings(r.runId, 'unlogged')).map((f: any) => Number(f.source_record_id));
    expect(unloggedNow).to.deep.equal([rec.R3, rec.R6]);
    expect(r.sha256).to.not.equal(firstRun.sha256);
  });

  it('otherwise the checker finds it improper: an investigation opens (clause 5(二)) without an entry; sign-off handles items without entries', async () => {
    const c = await currentCheck();
    const checker = await signIn(app, 'checker1');
    const bad = await checker.agent.post(`/api/v1/checks/${c.id}/items/r${rec.R3}`).set('X-CSRF-Token', checker.csrf).send({ verdict: 'improper', note: '未登錄且無合理說明' });
    expect(bad.status, JSON.stringify(bad.body)).to.equal(200);
    expect(bad.body.investigationId).to.be.a('number');
    const inv = await t.db('investigations').where({ id: bad.body.investigationId }).first();
    expect(inv.entry_id).to.equal(null);
    expect(inv.title).to.include(`來源紀錄第 ${rec.R3} 筆`);
    const blocked = await checker.agent.post(`/api/v1/checks/${c.id}/sign-off`).set('X-CSRF-Token', checker.csrf).send({ confirm: true });
    expect(blocked.status).to.equal(409);
    expect(blocked.body.detail).to.include('來源紀錄');
    const items = (await t.db('check_items').where({ check_id: c.id })).filter((i: any) => i.verdict !== 'improper');
    for (const i of items) {
      const key = i.entry_id != null ? String(i.entry_id) : `r${i.source_record_id}`;
      const r = await checker.agent.post(`/api/v1/checks/${c.id}/items/${key}`).set('X-CSRF-Token', checker.csrf).send({ verdict: 'proper' });
      expect(r.status, `${key} ${JSON.stringify(r.body)}`).to.equal(200);
    }
    const signed = await checker.agent.post(`/api/v1/checks/${c.id}/sign-off`).set('X-CSRF-Token', checker.csrf).send({ confirm: true });
    expect(signed.status, JSON.stringify(signed.body)).to.equal(200);
    // A signed check is never changed: a later unlogged record is not added to it.
    await importInto(S1, [{ account: 'NHI-C1', at: at('2026-03-21', '15:00'), subject: nationalId(901) }]);
    const r = await reconcile();
    expect(r.checkItemsAdded).to.equal(0);
    expect(r.checkNote).to.equal('signed-off');
  });

  it('the annual filing has a 對帳紀錄 sheet with the figures and hashes, hashed on the cover; 查核紀錄 names the source record', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-rec-'));
    const out = path.join(dir, 'annual.xlsx');
    const res = await writeAnnualWorkbook(t.db, { year: 2026, unitId: tree.AG1, out, countyName: '測試縣政府' });
    expect(res.sheets.map((s) => s.name)).to.include(RECONCILE_SHEET);
    expect((await verifyWorkbook(out)).ok).to.equal(true);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(out);
    const ws = wb.getWorksheet(RECONCILE_SHEET)!;
    const rows: string[][] = [];
    ws.eachRow((row) => rows.push((row.values as unknown[]).slice(1).map((v) => cellText(v as any))));
    const current = await t.db('reconcile_runs').where({ unit_id: tree.AG1, period: PERIOD, status: 'current' }).first();
    const nhi = rows.find((r) => r[5] === '來源NHI（NHI）')!;
    expect(nhi[0]).to.equal(PERIOD);
    expect(nhi[15]).to.equal(current.results_sha256);
    expect(Number(nhi[10])).to.equal(Number((await t.db('reconcile_run_sources').where({ run_id: current.id, source_id: S1 }).first()).unlogged));
    const checksSheet = wb.getWorksheet('查核紀錄')!;
    let named = false;
    checksSheet.eachRow((row) => { if ((row.values as unknown[]).some((v) => cellText(v as any) === `來源紀錄#${rec.R3}`)) named = true; });
    expect(named).to.equal(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('results within reach only: another agency\'s auditor is told nothing; the county-wide and own-agency readers see it', async () => {
    const run = await t.db('reconcile_runs').where({ unit_id: tree.AG1, period: PERIOD, status: 'current' }).first();
    const outsider = await signIn(app, 'auditor2');
    const gone = await outsider.agent.get(`/api/v1/reconciliations/${run.id}`);
    expect(gone.status).to.equal(404);
    const list = await outsider.agent.get('/api/v1/reconciliations');
    expect(list.body.items).to.deep.equal([]);
    const own = await signIn(app, 'auditor1');
    const mine = await own.agent.get(`/api/v1/reconciliations/${run.id}?kind=unlogged`);
    expect(mine.status).to.equal(200);
    expect(mine.body.resultsSha256).to.equal(run.results_sha256);
    expect(mine.body.findings.items.every((f: any) => f.kind === 'unlogged' && /\*/.test(f.subject))).to.equal(true);
    expect(mine.body.finishedAt).to.match(/^\d{4}-\d{2}-\d{2}T/);
    const rerun = await own.agent.post('/api/v1/reconciliations').set('X-CSRF-Token', own.csrf).send({ unit: 'AG1', period: PERIOD });
    expect(rerun.status).to.equal(201);
    expect(rerun.body.resultsSha256).to.equal(run.results_sha256);
    const bad = await own.agent.post('/api/v1/reconciliations').set('X-CSRF-Token', own.csrf).send({ unit: 'AG1', period: '2026-3' });
    expect(bad.status).to.equal(400);
    expect(bad.body.errors[0].field).to.equal('period');
    const foreign = await outsider.agent.post('/api/v1/reconciliations').set('X-CSRF-Token', outsider.csrf).send({ unit: 'AG1', period: PERIOD });
    expect(foreign.status).to.equal(403);
  });

  it('reading the month\'s entries in key order (in one pass or a pass per clerk) or through each clerk\'s index gives the same run', async () => {
    const ways = [{ how: 'index' as const }, { how: 'key' as const }, { how: 'key' as const, batch: 1 }, {}];
    const runs = [];
    for (const w of ways) {
      const r = await runReconciliation(t.db, t.cfg, { agency: agency1, period: PERIOD, trigger: 'manual' }, w);
      const f = await t.db('reconcile_findings').where({ run_id: r.runId }).orderBy('id').select('source_id', 'kind', 'source_record_id', 'entry_id', 'user_id', 'day', 'source_account');
      runs.push({ sha256: r.sha256, figures: r.figures, findings: f.map((x: any) => JSON.stringify(Object.values(x).map((v) => (v == null ? null : String(v))))) });
    }
    expect(runs[0].findings.length).to.be.above(3);
    expect(runs[0].figures.matched).to.be.above(0);
    for (const r of runs.slice(1)) expect(r).to.deep.equal(runs[0]);
  });

  it('the dashboard shows coverage and unlogged counts per agency: county-wide for the planning department, the own agency for the others', async () => {
    const run = await t.db('reconcile_runs').where({ unit_id: tree.AG1, period: PERIOD, status: 'current' }).first();
    const plan = await signIn(app, 'plan1');
    const county = await plan.agent.get('/api/v1/dashboard?months=36');
    expect(county.status).to.equal(200);
    const codes = county.body.reconciliation.rows.map((r: any) => r.unit.code);
    expect(codes).to.include.members(['AG1', 'AG2']);
    const ag1 = county.body.reconciliation.rows.find((r: any) => r.unit.code === 'AG1');
    expect(ag1.unlogged).to.equal(Number(run.unlogged));
    expect(ag1.months).to.equal(1);
    expect(ag1.coverage).to.be.a('number');
    const outsider = await signIn(app, 'auditor2');
    const own = await outsider.agent.get('/api/v1/dashboard?months=36');
    expect(own.body.reconciliation.rows.map((r: any) => r.unit.code)).to.deep.equal(['AG2']);
    expect(own.body.reconciliation.totals.unlogged).to.equal(0);
    const page = await plan.agent.get('/dashboard?months=36');
    expect(page.text).to.include('對帳涵蓋率與未登錄查詢');
  });
});
