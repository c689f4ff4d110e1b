import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import request from 'supertest';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, signIn, getFile, asFile, csrfFromHtml, type Signed } from '../support/app.ts';
import { makeUser, nationalId, seedTree, type Tree } from '../support/fixtures.ts';
import { cli } from '../support/cli.ts';
import { appendEntries } from '../../server/queries/chain.ts';
import { protectSubject } from '../../server/queries/subject.ts';
import { cellText } from '../../reports/cells.ts';
import { COVER, NO_DATA, SHEETS, verifyWorkbook, writeAnnualWorkbook, chainHeadAt } from '../../reports/annual.ts';
import { startExport, awaitExport } from '../../server/audits/exports.ts';
import * as svc from '../../server/audits/service.ts';
import { yearRange } from '../../server/time.ts';


const at = (iso: string) => Date.parse(iso);
const FORMULA_REASON = '=HYPERLINK("http://evil.example/x","點我")';

interface Entry { userId: number; account: string; unitId: number; queriedAt: number; scope?: string; reason?: string; caseNo?: string; subject?: string }

async function record(t: TestDb, entries: Entry[]) {
  const keys = { enc: t.cfg.subjectEncKey, hmac: t.cfg.SUBJECT_HMAC_KEY };
  return t.db.transaction((trx) => appendEntries(trx, entries.map((e, i) => ({
    user_id: e.userId, account: e.account, unit_id: e.unitId, queried_at: e.queriedAt, op_code: 'IN01', scope_code: e.scope ?? '2-1', query_request_id: null,
    case_no: e.caseNo ?? `CASE-${i}`, reason: e.reason ?? '個案訪視前確認投保狀態', ...protectSubject(keys, { type: 'national-id', value: e.subject ?? nationalId(1000 + i) }, { user_id: e.userId, queried_at: e.queriedAt }),
    client_ip: '10.0.0.1', source: 'web', token_id: null,
  }))));
}

async function readBook(file: string | Buffer): Promise<ExcelJS.Workbook> {
  const wb = new ExcelJS.Workbook();
  if (typeof file === 'string') await wb.xlsx.readFile(file);
  else await wb.xlsx.load(file as any);
  return wb;
}
const dataRows = (ws: ExcelJS.Worksheet) => ws.rowCount - 1;
const coverValue = (ws: ExcelJS.Worksheet, label: string) => {
  let v = '';
  ws.eachRow((r) => { if (cellText(r.getCell(1).value) === label) v = cellText(r.getCell(2).value); });
  return v;
};

describe(`annual filing workbook (${ENGINE})`, function () {
  this.timeout(60_000);
  let t: TestDb;
  let tree: Tree;
  let dir: string;
  let app: ReturnType<typeof appFor>;
  const ids: Record<string, number> = {};
  let entryIds: number[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-annual-'));
    t = await migratedDb({ EXPORT_DIR: dir });
    tree = await seedTree(t.db);
    app = appFor(t);
    ids.plan = await makeUser(t.db, { account: 'plan.admin', unitId: tree.PLAN, roles: ['planning_admin'] });
    ids.admin1 = await makeUser(t.db, { account: 'ag1.admin', unitId: tree.AG1, roles: ['admin'] });
    ids.subadmin = await makeUser(t.db, { account: 'ag1u1.admin', unitId: tree.AG1U1, roles: ['admin'] });
    ids.aud1 = await makeUser(t.db, { account: 'ag1.auditor', unitId: tree.AG1, roles: ['auditor'] });
    ids.clerk1 = await makeUser(t.db, { account: 'ag1.clerk', unitId: tree.AG1, roles: ['clerk'], permissions: [['2-1', 'IN01'], ['2-8', 'IN01']] });
    ids.clerk2 = await makeUser(t.db, { account: 'ag1u1.clerk', unitId: tree.AG1U1, roles: ['clerk'], permissions: [['2-1', 'IN01']] });
    ids.clerk3 = await makeUser(t.db, { account: 'ag2.clerk', unitId: tree.AG2, roles: ['clerk'] });
    ids.aud2 = await makeUser(t.db, { account: 'ag2.auditor', unitId: tree.AG2, roles: ['auditor'] });
    // An account created after the year: not on the 2025 roster.
    ids.late = await makeUser(t.db, { account: 'ag1.late', unitId: tree.AG1, roles: ['clerk'] });
    await t.db('users').where({ id: ids.late }).update({ created_at: at('2026-02-01T00:00:00Z') });
    for (const id of Object.values(ids)) if (id !== ids.late) await t.db('users').where({ id }).update({ created_at: at('2024-06-01T00:00:00Z') });

    const e: Entry[] = [];
    e.push({ userId: ids.clerk1, account: 'ag1.clerk', unitId: tree.AG1, queriedAt: at('2024-12-31T10:00:00Z') }); // previous year
    for (let i = 0; i < 24; i++) {
      const month = String((i % 12) + 1).padStart(2, '0');
      const who = i % 3 === 0 ? { userId: ids.clerk2, account: 'ag1u1.clerk', unitId: tree.AG1U1 } : { userId: ids.clerk1, account: 'ag1.clerk', unitId: tree.AG1 };
      e.push({ ...who, queriedAt: at(`2025-${month}-1${i % 9}T02:00:00Z`), scope: i % 4 === 0 ? '2-8' : '2-1' });
    }
    e.push({ userId: ids.clerk1, account: 'ag1.clerk', unitId: tree.AG1, queriedAt: at('2025-06-01T02:00:00Z'), reason: FORMULA_REASON, caseNo: '+886-49-222' });
    e.push({ userId: ids.clerk1, account: 'ag1.clerk', unitId: tree.AG1, queriedAt: at('2025-06-02T02:00:00Z'), reason: '@SUM(A1:A9)', caseNo: '-1+2' });
    for (let i = 0; i < 5; i++) e.push({ userId: ids.clerk3, account: 'ag2.clerk', unitId: tree.AG2, queriedAt: at(`2025-0${i + 1}-05T03:00:00Z`), scope: '2-4' });
    e.push({ userId: ids.clerk1, account: 'ag1.clerk', unitId: tree.AG1, queriedAt: at('2025-12-31T16:30:00Z') }); // 2026-01-01 Taipei: next year
    e.push({ userId: ids.clerk1, account: 'ag1.clerk', unitId: tree.AG1, queriedAt: at('2026-01-05T02:00:00Z') });
    entryIds = (await record(t, e)).map((x) => x.id);

    // A March check with two sampled entries and verdicts; an investigation outcome.
    const t0 = at('2025-04-10T02:00:00Z');
    const [checkId] = await t.db('checks').insert({ unit_id: tree.AG1, period: '2025-03', generation: 1, seed: 'ab'.repeat(32), population: 3, population_digest: 'cd'.repeat(32), sample_size: 1, rate_percent: 3, minimum: 10, checker_id: ids.aud1, status: 'signed-off', created_at: t0, signed_off_by: ids.aud1, signed_off_at: t0 });
    const marchIds = (await t.db('query_logs').whereIn('unit_id', [tree.AG1, tree.AG1U1]).where('queried_at', '>=', yearRange(2025)[0]).orderBy('id').select('id', 'queried_at')).filter((r: any) => new Date(Number(r.queried_at)).getUTCMonth() === 2).map((r: any) => Number(r.id));
    await t.db('check_items').insert([
      { check_id: checkId, entry_id: marchIds[0], basis: 'random', flags: '', verdict: 'proper', decided_by: ids.aud1, decided_at: t0 },
      { check_id: checkId, entry_id: marchIds[1], basis: 'flag:after-hours', flags: 'after-hours', verdict: 'improper', note: '=1+1 非上班時間查詢', decided_by: ids.aud1, decided_at: t0 },
    ]);
    await t.db('audit_records').insert([
      { unit_id: tree.AG1, kind: 'investigation', title: '三月異常查詢調查', period: '2025-03', findings: '非上班時間查詢', conclusion: '經查屬實，已告誡', signed_by: ids.aud1, signed_at: t0, created_by: ids.aud1, created_at: t0 },
      { unit_id: tree.AG2, kind: 'other', title: '衛生局紀錄', period: '2025', conclusion: '無', created_at: t0 },
      { unit_id: tree.AG1, kind: 'other', title: '前一年度', period: '2024-H2', conclusion: '無', created_at: t0 },
    ]);
  });
  after(async () => {
    await t.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const ag1Entries = async () => t.db('query_logs').whereIn('unit_id', [tree.AG1, tree.AG1U1, tree.AG1U1A]).where('queried_at', '>=', yearRange(2025)[0]).where('queried_at', '<', yearRange(2025)[1]).count({ n: '*' }).first();

  it('writes every sheet, cover first, with row counts equal to the database', async () => {
    const file = path.join(dir, 'ag1-2025.xlsx');
    const r = await writeAnnualWorkbook(t.db, { year: 2025, unitId: tree.AG1, out: file, countyName: '南投縣政府' });
    const wb = await readBook(file);
    expect(wb.worksheets.map((w) => w.name)).to.deep.equal([COVER, SHEETS.admins, SHEETS.users, SHEETS.entries, SHEETS.checks, SHEETS.audits, SHEETS.reconcile]);
    const n = Number((await ag1Entries())!.n);
    expect(n).to.equal(26);
    expect(dataRows(wb.getWorksheet(SHEETS.entries)!)).to.equal(n);
    expect(r.counts.entries).to.equal(n);
    expect(dataRows(wb.getWorksheet(SHEETS.admins)!)).to.equal(2); // ag1.admin, ag1u1.admin
    // ag1.auditor, ag1.clerk, ag1u1.clerk (ag1.late was created after the year)
    expect(dataRows(wb.getWorksheet(SHEETS.users)!)).to.equal(3);
    const users = wb.getWorksheet(SHEETS.users)!;
    const accounts = [2, 3, 4].map((i) => cellText(users.getRow(i).getCell(1).value));
    expect(accounts).to.have.members(['ag1.auditor', 'ag1.clerk', 'ag1u1.clerk']);
    const clerkRow = [2, 3, 4].map((i) => users.getRow(i)).find((row) => cellText(row.getCell(1).value) === 'ag1.clerk')!;
    expect(cellText(clerkRow.getCell(8).value)).to.equal('2-1/IN01、2-8/IN01');
    expect(cellText(clerkRow.getCell(10).value)).to.equal('使用中'); // the account pages' word (issue 17: one source of labels)
    expect(dataRows(wb.getWorksheet(SHEETS.checks)!)).to.equal(2);
    expect(dataRows(wb.getWorksheet(SHEETS.audits)!)).to.equal(1); // AG1 2025 only
    expect(wb.getWorksheet(SHEETS.entries)!.views[0]).to.include({ state: 'frozen', ySplit: 1 });
    expect(wb.getWorksheet(SHEETS.entries)!.getColumn(9).width).to.be.greaterThan(20);
    // Every data sheet keeps its header row in view (frozen), not only the query log.
    for (const name of [SHEETS.admins, SHEETS.users, SHEETS.entries, SHEETS.checks, SHEETS.audits]) expect(wb.getWorksheet(name)!.views[0], name).to.include({ state: 'frozen', ySplit: 1 });
  });

  it('prints on A4, one page wide, the header row on every page; the cover wraps its long texts; data rows carry no style', async () => {
    const wb = await readBook(path.join(dir, 'ag1-2025.xlsx'));
    expect((wb as unknown as { language?: string }).language).to.equal('zh-TW');
    for (const ws of wb.worksheets) {
      expect(ws.pageSetup, ws.name).to.include({ paperSize: 9, orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0 });
      if (ws.name === COVER) continue;
      expect(ws.pageSetup.printTitlesRow, ws.name).to.equal('1:1');
      ws.getRow(1).eachCell((c) => {
        expect(c.font, `${ws.name} ${c.address}`).to.include({ bold: true, name: 'Calibri' });
        expect(c.alignment?.wrapText, `${ws.name} ${c.address}`).to.equal(true);
      });
    }
    // Every data row of the query log (none has a line break here) is unstyled: a style per row
    // would slow a million-row sheet down.
    const entries = wb.getWorksheet(SHEETS.entries)!;
    for (let r = 2; r <= entries.rowCount; r++) {
      for (let c = 1; c <= 15; c++) expect(entries.getRow(r).getCell(c).style, `${r}:${c}`).to.deep.equal({});
      expect(entries.getRow(r).height ?? 15).to.equal(15);
    }
    const cover = wb.getWorksheet(COVER)!;
    const row = (label: string) => { let found: ExcelJS.Row | undefined; cover.eachRow((r) => { if (cellText(r.getCell(1).value) === label) found = r; }); return found!; };
    expect(cover.getRow(1).getCell(1).font).to.include({ bold: true, name: 'Calibri' });
    for (const label of ['依據', '雜湊計算方式']) {
      expect(row(label).getCell(2).alignment?.wrapText, label).to.equal(true);
      expect(row(label).height, label).to.be.greaterThan(30); // the whole text shows, not its first line
    }
    // Hashes are not wrapped: the chain head runs on into the empty column C, the sheet hashes fit C.
    expect(row('年底查詢日誌鏈頭雜湊').getCell(2).alignment?.wrapText).not.to.equal(true);
    expect(row(SHEETS.entries).getCell(3).alignment?.wrapText).not.to.equal(true);
    expect(row('工作表').getCell(3).font).to.include({ bold: true, name: 'Calibri' });
    const width = [1, 2, 3].reduce((n, c) => n + cover.getColumn(c).width!, 0);
    expect(width).to.be.within(120, 160); // fits A4 landscape at about full size
  });

  it('shows subjects masked only, and marks the sampled entries', async () => {
    const file = path.join(dir, 'ag1-2025.xlsx');
    const wb = await readBook(file);
    const ws = wb.getWorksheet(SHEETS.entries)!;
    expect(cellText(ws.getRow(1).getCell(10).value)).to.contain('遮罩');
    const marks: string[] = [];
    for (let r = 2; r <= ws.rowCount; r++) {
      const subject = cellText(ws.getRow(r).getCell(10).value);
      expect(subject).to.match(/^A1\d\*{4}\d{3}$/);
      for (let c = 1; c <= 15; c++) expect(cellText(ws.getRow(r).getCell(c).value)).not.to.match(/A1\d{8}/);
      const m = cellText(ws.getRow(r).getCell(14).value);
      if (m) marks.push(m);
    }
    expect(marks.sort()).to.deep.equal(['抽查（隨機抽樣）', '抽查（風險：非上班時間查詢）'].sort());
  });

  it('stores formula-like text as text, never as a formula', async () => {
    const wb = await readBook(path.join(dir, 'ag1-2025.xlsx'));
    const ws = wb.getWorksheet(SHEETS.entries)!;
    const found: Record<string, ExcelJS.Cell> = {};
    ws.eachRow((row) => row.eachCell((cell) => { found[cellText(cell.value)] = cell; }));
    for (const text of [FORMULA_REASON, '+886-49-222', '@SUM(A1:A9)', '-1+2']) {
      const cell = found[text];
      expect(cell, text).to.exist;
      expect(cell.type).not.to.equal(ExcelJS.ValueType.Formula);
      expect((cell as any).formula).to.equal(undefined);
    }
    const checks = wb.getWorksheet(SHEETS.checks)!;
    let note: ExcelJS.Cell | undefined;
    checks.eachRow((row) => row.eachCell((c) => { if (cellText(c.value) === '=1+1 非上班時間查詢') note = c; }));
    expect(note!.type).not.to.equal(ExcelJS.ValueType.Formula);
  });

  it('puts each sheet\'s SHA-256 on the cover; the verifier matches, and a changed cell is caught', async () => {
    const file = path.join(dir, 'ag1-2025.xlsx');
    const v = await verifyWorkbook(file);
    expect(v.ok).to.equal(true);
    expect(v.sheets.map((s) => s.name)).to.deep.equal([SHEETS.admins, SHEETS.users, SHEETS.entries, SHEETS.checks, SHEETS.audits, SHEETS.reconcile]);
    expect(v.sheets.find((s) => s.name === SHEETS.entries)!.rows).to.equal(26);
    const wb = await readBook(file);
    wb.getWorksheet(SHEETS.entries)!.getRow(3).getCell(9).value = '改過的事由';
    const tampered = path.join(dir, 'tampered.xlsx');
    await wb.xlsx.writeFile(tampered);
    const v2 = await verifyWorkbook(tampered);
    expect(v2.ok).to.equal(false);
    expect(v2.sheets.filter((s) => s.actual !== s.expected).map((s) => s.name)).to.deep.equal([SHEETS.entries]);
  });

  it('prints the chain head at year end: the last entry recorded before 1 January', async () => {
    const wb = await readBook(path.join(dir, 'ag1-2025.xlsx'));
    const cover = wb.getWorksheet(COVER)!;
    const last = await t.db('query_logs').where('queried_at', '<', yearRange(2025)[1]).orderBy('seq', 'desc').first('seq', 'hash');
    expect(coverValue(cover, '年底查詢日誌鏈頭雜湊')).to.equal(last.hash);
    expect(coverValue(cover, '年底查詢日誌鏈頭序號')).to.equal(String(last.seq));
    expect((await chainHeadAt(t.db, yearRange(2025)[1])).hash).to.equal(last.hash);
    expect(coverValue(cover, '年度')).to.contain('民國 114 年');
    expect(coverValue(cover, '查詢紀錄筆數')).to.equal('26');
  });

  it('a year with no data gives a workbook that says so', async () => {
    const file = path.join(dir, 'ag1-2020.xlsx');
    const r = await writeAnnualWorkbook(t.db, { year: 2020, unitId: tree.AG1, out: file, countyName: '南投縣政府' });
    expect(r.noData).to.equal(true);
    const wb = await readBook(file);
    expect(coverValue(wb.getWorksheet(COVER)!, '說明')).to.contain('本年度無查詢紀錄');
    expect(cellText(wb.getWorksheet(SHEETS.entries)!.getRow(2).getCell(1).value)).to.equal(NO_DATA);
    expect((await verifyWorkbook(file)).ok).to.equal(true);
  });

  it('the county-wide workbook summarises every agency', async () => {
    const file = path.join(dir, 'county-2025.xlsx');
    await writeAnnualWorkbook(t.db, { year: 2025, unitId: null, out: file, countyName: '南投縣政府' });
    const wb = await readBook(file);
    const s = wb.getWorksheet(SHEETS.summary)!;
    expect(dataRows(s)).to.equal(2);
    const rows = [2, 3].map((i) => s.getRow(i));
    expect(rows.map((r) => [cellText(r.getCell(1).value), cellText(r.getCell(5).value)])).to.deep.equal([['AG1', '26'], ['AG2', '5']]);
    expect((await verifyWorkbook(file)).ok).to.equal(true);
    for (const ws of wb.worksheets) expect(ws.pageSetup, ws.name).to.include({ paperSize: 9, orientation: 'landscape', fitToWidth: 1, fitToHeight: 0 });
    expect(s.pageSetup.printTitlesRow).to.equal('1:1');
  });

  it('two exports of the same agency and year at once run once', async () => {
    const actor = { id: ids.aud1, account: 'ag1.auditor' };
    const [a, b] = await Promise.all([
      startExport({ db: t.db, cfg: t.cfg }, actor, { kind: 'annual', year: 2025, unitId: tree.AG1 }),
      startExport({ db: t.db, cfg: t.cfg }, actor, { kind: 'annual', year: 2025, unitId: tree.AG1 }),
    ]);
    expect(a.id).to.equal(b.id);
    expect([a.joined, b.joined].sort()).to.deep.equal([false, true]);
    const row = await awaitExport(t.db, a.id);
    expect(row.status).to.equal('done');
    expect(row.active_key).to.equal(null);
    expect(Number(row.progress)).to.equal(1);
    expect((await verifyWorkbook(row.file_path)).ok).to.equal(true);
    const events = await t.db('system_events').where({ target_type: 'export', target_id: String(a.id) }).pluck('action');
    expect(events).to.have.members(['export-started', 'export-finished']);
  });

  it('POST /api/v1/reports/annual makes the xlsx within the caller\'s reach, clear errors otherwise', async () => {
    const s = await signIn(app, 'ag1.auditor');
    const post = (who: Signed, body: object) => who.agent.post('/api/v1/reports/annual').set('X-CSRF-Token', who.csrf).send(body);
    const res = await asFile(post(s, { year: 2025, unit: 'AG1' }));
    expect(res.status).to.be.oneOf([200, 201]);
    expect(res.headers.location).to.match(/^\/api\/v1\/exports\/\d+$/);
    expect(res.headers['content-type']).to.contain('spreadsheetml');
    const wb = await readBook(res.body as Buffer);
    expect(dataRows(wb.getWorksheet(SHEETS.entries)!)).to.equal(26);
    expect((await post(s, { year: 2025, unit: 'AG2' })).status).to.equal(403);
    const unknown = await post(s, { year: 2025, unit: 'NOPE' });
    expect(unknown.status).to.equal(404);
    expect(unknown.headers['content-type']).to.contain('application/problem+json');
    expect(unknown.body.errors[0].field).to.equal('unit');
    const future = await post(s, { year: 2999, unit: 'AG1' });
    expect(future.status).to.equal(400);
    expect(future.body.errors[0].field).to.equal('year');
    expect((await post(s, {})).status).to.equal(400);
    // A cookie session needs the CSRF token, as on every POST.
    expect((await s.agent.post('/api/v1/reports/annual').send({ year: 2025, unit: 'AG1' })).status).to.equal(403);
    expect((await post(await signIn(app, 'ag1.clerk'), { year: 2025, unit: 'AG1' })).status).to.equal(403);
    // A subordinate unit's admin reaches only its own subtree.
    expect((await post(await signIn(app, 'ag1u1.admin'), { year: 2025, unit: 'AG1' })).status).to.equal(403);
  });

  it('GET /api/v1/reports/annual (the contract) answers the newest workbook already made and never starts one', async () => {
    const s = await signIn(app, 'ag1.auditor');
    const rows = async () => Number((await t.db('export_jobs').count({ n: '*' }))[0].n);
    const made = await asFile(s.agent.post('/api/v1/reports/annual').set('X-CSRF-Token', s.csrf).send({ year: 2025, unit: 'AG1' }));
    expect(made.status).to.be.oneOf([200, 201]);
    const before = await rows();
    const got = await getFile(s.agent, '/api/v1/reports/annual?year=2025&unit=AG1');
    expect(got.status).to.equal(200);
    expect(got.headers['x-content-sha256']).to.equal(made.headers['x-content-sha256']);
    expect(got.headers['content-location']).to.equal(made.headers.location);
    expect(got.headers['last-modified']).to.be.a('string');
    expect(dataRows((await readBook(got.body as Buffer)).getWorksheet(SHEETS.entries)!)).to.equal(26);
    // Nothing made for this year and unit: a problem saying to POST, and no export row, no file.
    const none = await s.agent.get('/api/v1/reports/annual?year=2024&unit=AG1-U1');
    expect(none.status).to.equal(404);
    expect(none.headers['content-type']).to.contain('application/problem+json');
    expect(none.body.type).to.match(/\/export-not-made$/);
    expect(none.body.detail).to.contain('POST');
    expect(await rows(), 'a GET writes no export').to.equal(before);
    expect((await s.agent.get('/api/v1/reports/annual?year=2025&unit=AG2')).status).to.equal(403);
    expect((await s.agent.get('/api/v1/reports/annual?year=2025&unit=NOPE')).status).to.equal(404);
    expect((await s.agent.get('/api/v1/reports/annual?year=2999&unit=AG1')).status).to.equal(400);
    expect((await s.agent.get('/api/v1/reports/annual')).status).to.equal(400);
    expect((await (await signIn(app, 'ag1.clerk')).agent.get('/api/v1/reports/annual?year=2025&unit=AG1')).status).to.equal(403);
    expect((await request(app).get('/api/v1/reports/annual?year=2025')).status).to.equal(401);
    expect(await rows()).to.equal(before);
  });

  it('the annual workbook as .ods (issue 19): ?format=ods or Accept on the API, a choice on the page; an unknown format is a 400 naming format', async () => {
    const s = await signIn(app, 'ag1.auditor');
    const post = (body: object) => asFile(s.agent.post('/api/v1/reports/annual').set('X-CSRF-Token', s.csrf).send(body));
    const ods = await post({ year: 2025, unit: 'AG1', format: 'ods' });
    expect(ods.status).to.be.oneOf([200, 201]);
    expect(ods.headers['content-type']).to.contain('application/vnd.oasis.opendocument.spreadsheet');
    expect(ods.headers['content-disposition']).to.contain('.ods');
    const f = path.join(dir, 'api.ods');
    fs.writeFileSync(f, ods.body as Buffer);
    const v = await verifyWorkbook(f);
    expect(v.format).to.equal('ods');
    expect(v.ok).to.equal(true);
    // The same data as the xlsx: the same sheet hashes.
    const xlsx = await post({ year: 2025, unit: 'AG1' });
    fs.writeFileSync(path.join(dir, 'api.xlsx'), xlsx.body as Buffer);
    expect((await verifyWorkbook(path.join(dir, 'api.xlsx'))).sheets).to.deep.equal(v.sheets);
    const byQuery = await asFile(s.agent.get('/api/v1/reports/annual?year=2025&unit=AG1&format=ods'));
    expect(byQuery.status).to.equal(200);
    expect(byQuery.headers['x-content-sha256']).to.equal(ods.headers['x-content-sha256']);
    const byAccept = await asFile(s.agent.get('/api/v1/reports/annual?year=2025&unit=AG1').set('Accept', 'application/vnd.oasis.opendocument.spreadsheet'));
    expect(byAccept.headers['x-content-sha256']).to.equal(ods.headers['x-content-sha256']);
    const plain = await asFile(s.agent.get('/api/v1/reports/annual?year=2025&unit=AG1'));
    expect(plain.headers['content-type']).to.contain('spreadsheetml');
    for (const bad of [await s.agent.get('/api/v1/reports/annual?year=2025&unit=AG1&format=pdf'), await s.agent.post('/api/v1/reports/annual').set('X-CSRF-Token', s.csrf).send({ year: 2025, unit: 'AG1', format: 'csv' })]) {
      expect(bad.status).to.equal(400);
      expect(bad.headers['content-type']).to.contain('application/problem+json');
      expect(bad.body.errors.map((e: { field: string }) => e.field)).to.deep.equal(['format']);
    }
    const a = await signIn(app, 'ag1.admin');
    const page = await a.agent.get('/audits/annual?year=2025');
    expect(page.text).to.contain('name="format"');
    const csrf = csrfFromHtml(page.text);
    const wrong = await a.agent.post('/audits/annual/exports').type('form').send({ _csrf: csrf, year: '114', unit: '', format: 'pdf' });
    expect(wrong.status).to.equal(400);
    expect(wrong.text).to.contain('檔案格式');
    const made = await a.agent.post('/audits/annual/exports').type('form').send({ _csrf: csrf, year: '114', unit: '', format: 'ods' });
    expect(made.status).to.equal(303);
  });

  it('the export page polls progress; the agency files and the planning department acknowledges', async () => {
    const s = await signIn(app, 'ag1.admin');
    const page = await s.agent.get('/audits/annual?year=2025');
    expect(page.status, page.text).to.equal(200);
    const csrf = csrfFromHtml(page.text);
    const started = await s.agent.post('/audits/annual/exports').type('form').send({ _csrf: csrf, year: '2025', unit: '' });
    expect(started.status).to.equal(303);
    const id = Number(/\/audits\/exports\/(\d+)/.exec(started.headers.location)![1]);
    const prog = await s.agent.get(`/audits/exports/${id}`);
    expect(prog.text).to.contain('/assets/js/audits.js').and.contain(`data-export-id="${id}"`);
    expect(prog.text).not.to.match(/<script>(?!<\/script>)/);
    await awaitExport(t.db, id);
    const json = await s.agent.get(`/api/v1/exports/${id}`);
    expect(json.body).to.include({ status: 'done', progress: 1 });
    expect(json.body.sha256).to.match(/^[0-9a-f]{64}$/);
    const file = await s.agent.get(`/audits/exports/${id}/file`);
    expect(file.status).to.equal(200);

    const plan = await signIn(app, 'plan.admin');
    const before = await svc.filingStatus(t.db, 2025);
    expect(before.map((x) => x.state)).to.deep.equal(['missing', 'missing']);
    const filed = await s.agent.post('/audits/annual/filings').type('form').send({ _csrf: csrf, export: String(id) });
    expect(filed.status).to.equal(303);
    const again = await s.agent.post('/audits/annual/filings').set('Accept', 'application/json').type('form').send({ _csrf: csrf, export: String(id) });
    expect(again.status).to.equal(409);
    const st = await svc.filingStatus(t.db, 2025);
    expect(st.find((x) => x.unit.code === 'AG1')!.state).to.equal('late'); // filed now (after 1 February 2026)
    expect(st.find((x) => x.unit.code === 'AG2')!.state).to.equal('missing');
    const filing = await t.db('annual_filings').where({ unit_id: tree.AG1, year: 2025 }).first();
    expect(filing.workbook_sha256).to.equal(json.body.sha256);
    const planPage = await plan.agent.get('/audits/annual?year=2025');
    expect(planPage.text).to.contain('尚未報送').and.contain('確認收件');
    const pcsrf = csrfFromHtml(planPage.text);
    const ack = await plan.agent.post(`/audits/annual/filings/${filing.id}/ack`).type('form').send({ _csrf: pcsrf, year: '2025' });
    expect(ack.status).to.equal(303);
    expect((await t.db('annual_filings').where({ id: filing.id }).first()).acknowledged_by).to.equal(ids.plan);
    const home = await plan.agent.get('/');
    expect(home.text).to.contain('114 年度報府備查').and.contain('尚未報送').and.contain('逾期報送');
    // Another agency's auditor neither sees this export's progress nor downloads it.
    const other = await signIn(app, 'ag2.auditor');
    expect((await other.agent.get(`/api/v1/exports/${id}`)).status).to.equal(403);
    expect((await other.agent.get(`/audits/exports/${id}/file`)).status).to.equal(403);
    expect((await other.agent.get('/api/v1/exports/999999')).status).to.equal(404);
    // The agency cannot acknowledge its own filing.
    expect((await s.agent.post(`/audits/annual/filings/${filing.id}/ack`).type('form').send({ _csrf: csrf })).status).to.equal(403);
  });

  it('report annual on the command line: writes the workbook; future year and unknown unit are usage errors', async () => {
    const out = path.join(dir, 'cli.xlsx');
    const ok = await cli(['report', 'annual', '--year', '2025', '--unit', 'AG1', '--out', out], { ...t.env, EXPORT_DIR: dir });
    expect(ok.code, ok.stderr).to.equal(0);
    expect(ok.stdout).to.match(/sha256 [0-9a-f]{64}/);
    expect((await verifyWorkbook(out)).ok).to.equal(true);
    const future = await cli(['report', 'annual', '--year', '2999', '--out', out], t.env);
    expect(future.code).to.equal(2);
    expect(future.stderr).to.contain('future');
    const unknown = await cli(['report', 'annual', '--year', '2025', '--unit', 'NOPE', '--out', out], t.env);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.contain('unknown unit NOPE');
  });

  it('job run annual-report --period 2025 builds every agency\'s workbook and the county one, once', async () => {
    const r = await cli(['job', 'run', 'annual-report', '--period', '2025'], { ...t.env, EXPORT_DIR: dir });
    expect(r.code, r.stderr).to.equal(0);
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(result.workbooks.map((w: any) => w.unit)).to.deep.equal(['AG1', 'AG2', 'county']);
    expect(result.workbooks.every((w: any) => w.status === 'done')).to.equal(true);
    const again = await cli(['job', 'run', 'annual-report', '--period', '2025'], { ...t.env, EXPORT_DIR: dir });
    expect(again.code).to.equal(3);
    const bad = await cli(['job', 'run', 'annual-report', '--period', '2999'], t.env);
    expect(bad.code).to.equal(2);
  });

  it('entries recorded exist as expected (sanity)', () => {
    expect(entryIds.length).to.equal(34);
  });
});
