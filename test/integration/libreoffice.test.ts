// The workbooks the app writes, opened by a real LibreOffice Calc (headless soffice): every sheet
// loads, in the app's order, with the Chinese text, the row counts and the cell text the app
// hashed; formula-like text stays text; subjects stay masked. soffice is required (CI installs
// libreoffice-calc-nogui from .ci/apt-packages): without it these tests fail, they never skip.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { makeUser, nationalId, seedTree, type Tree } from '../support/fixtures.ts';
import { CSV_ALL_SHEETS, parseCsv, sofficeConvert, type Conversion } from '../support/libreoffice.ts';
import { appendEntries } from '../../server/queries/chain.ts';
import { protectSubject } from '../../server/queries/subject.ts';
import { COVER, NO_DATA, SHEETS, canonicalRow, writeAnnualWorkbook, type AnnualResult } from '../../reports/annual.ts';
import { SHEET_COLUMNS, sheetHeader, writeMonthlySheetXlsx } from '../../reports/monthly-sheet.ts';
import { writeAuditPackage } from '../../reports/audit-package.ts';
import { cellText } from '../../reports/cells.ts';
import ExcelJS from 'exceljs';


const at = (iso: string) => Date.parse(iso);
const FORMULA_REASON = '=HYPERLINK("http://evil.example/x","點我")';
const FORMULA_LIKE = [FORMULA_REASON, '+886-49-222', '@SUM(A1:A9)', '-1+2'];
/** A reason with the characters CSV must quote: comma, double quote, line break. */
const AWKWARD_REASON = '訪視，確認"投保"狀態, 第一行\n第二行';
const CHECK_NOTE = '=1+1 非上班時間查詢';
const CHECKLIST_NOTE = '=SUM(1,2) 已抽核';
const COUNTY = '南投縣政府';
const FULL_ID = /[A-Z][12]\d{8}/;
const MASKED_ID = /^A1\d\*{4}\d{3}$/;

interface Entry { userId: number; account: string; unitId: number; queriedAt: number; scope?: string; reason?: string; caseNo?: string; subject: string }

describe(`workbooks opened by LibreOffice Calc (${ENGINE})`, function () {
  this.timeout(240_000);
  let t: TestDb;
  let tree: Tree;
  let dir: string;
  const ids: Record<string, number> = {};
  const subjects: string[] = [];
  let agency: AnnualResult;
  let county: AnnualResult;
  let monthly: { rows: number };
  let pkg: Awaited<ReturnType<typeof writeAuditPackage>>;
  const books = { agency: '', county: '', monthly: '', package: '' };
  /** One soffice run per output format, for all four workbooks at once; started on first use. */
  let csvRun: Promise<Conversion> | undefined;
  let fodsRun: Promise<Conversion> | undefined;
  const csvDir = () => path.join(dir, 'csv');
  const fodsDir = () => path.join(dir, 'fods');
  const toCsv = () => (csvRun ??= sofficeConvert(Object.values(books), CSV_ALL_SHEETS, csvDir()));
  const toFods = () => (fodsRun ??= sofficeConvert(Object.values(books), 'fods', fodsDir()));

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-lo-'));
    t = await migratedDb({ EXPORT_DIR: dir });
    tree = await seedTree(t.db);
    ids.admin1 = await makeUser(t.db, { account: 'ag1.admin', unitId: tree.AG1, roles: ['admin'], name: '王管理' });
    ids.aud1 = await makeUser(t.db, { account: 'ag1.auditor', unitId: tree.AG1, roles: ['auditor'], name: '陳稽核' });
    ids.clerk1 = await makeUser(t.db, { account: 'ag1.clerk', unitId: tree.AG1, roles: ['clerk'], name: '林承辦', permissions: [['2-1', 'IN01'], ['2-8', 'IN01']] });
    ids.clerk2 = await makeUser(t.db, { account: 'ag1u1.clerk', unitId: tree.AG1U1, roles: ['clerk'], name: '張埔里', permissions: [['2-1', 'IN01']] });
    ids.clerk3 = await makeUser(t.db, { account: 'ag2.clerk', unitId: tree.AG2, roles: ['clerk'], name: '黃衛生' });
    await t.db('users').update({ created_at: at('2024-06-01T00:00:00Z') });

    const e: Omit<Entry, 'subject'>[] = [];
    const c1 = { userId: ids.clerk1, account: 'ag1.clerk', unitId: tree.AG1 };
    const c2 = { userId: ids.clerk2, account: 'ag1u1.clerk', unitId: tree.AG1U1 };
    e.push({ ...c1, queriedAt: at('2024-12-20T02:00:00Z') }); // previous year
    for (let i = 0; i < 10; i++) e.push({ ...(i % 3 ? c1 : c2), queriedAt: at(`2025-${String(i + 1).padStart(2, '0')}-0${(i % 8) + 1}T02:00:00Z`), scope: i % 4 ? '2-1' : '2-8' });
    e.push({ ...c1, queriedAt: at('2025-06-10T02:00:00Z'), reason: FORMULA_REASON, caseNo: '+886-49-222' });
    e.push({ ...c1, queriedAt: at('2025-06-11T02:00:00Z'), reason: '@SUM(A1:A9)', caseNo: '-1+2' });
    e.push({ ...c2, queriedAt: at('2025-06-12T02:00:00Z'), reason: AWKWARD_REASON });
    for (let i = 0; i < 3; i++) e.push({ userId: ids.clerk3, account: 'ag2.clerk', unitId: tree.AG2, queriedAt: at(`2025-0${i + 2}-05T03:00:00Z`), scope: '2-4' });
    e.sort((a, b) => a.queriedAt - b.queriedAt);
    const keys = { enc: t.cfg.subjectEncKey, hmac: t.cfg.SUBJECT_HMAC_KEY };
    const appended = await t.db.transaction((trx) => appendEntries(trx, e.map((x, i) => {
      const subject = nationalId(2000 + i);
      subjects.push(subject);
      return {
        user_id: x.userId, account: x.account, unit_id: x.unitId, queried_at: x.queriedAt, op_code: 'IN01', scope_code: x.scope ?? '2-1', query_request_id: null,
        case_no: x.caseNo ?? `CASE-${i}`, reason: x.reason ?? '個案訪視前確認投保狀態', ...protectSubject(keys, { type: 'national-id', value: subject }, { user_id: x.userId, queried_at: x.queriedAt }),
        client_ip: '10.0.0.1', source: 'web', token_id: null,
      };
    })));
    const formulaEntry = appended[e.findIndex((x) => x.reason === FORMULA_REASON)].id;

    // A signed June check of AG1 sampling the formula-like entry; an investigation; an internal
    // audit of the first half-year; one destroyed piece of retained data.
    const t0 = at('2025-07-10T02:00:00Z');
    const [checkId] = await t.db('checks').insert({ unit_id: tree.AG1, period: '2025-06', generation: 1, seed: 'ab'.repeat(32), population: 3, population_digest: 'cd'.repeat(32), sample_size: 1, rate_percent: 3, minimum: 10, checker_id: ids.aud1, status: 'signed-off', created_at: t0, signed_off_by: ids.aud1, signed_off_at: t0 });
    await t.db('check_items').insert({ check_id: checkId, entry_id: formulaEntry, basis: 'random', flags: '', verdict: 'proper', note: CHECK_NOTE, decided_by: ids.aud1, decided_at: t0 });
    await t.db('audit_records').insert([
      { unit_id: tree.AG1, kind: 'investigation', title: '六月異常查詢調查', period: '2025-06', findings: '事由含公式字元', conclusion: '經查屬實，已告誡', signed_by: ids.aud1, signed_at: t0, created_by: ids.aud1, created_at: t0 },
      { unit_id: tree.AG2, kind: 'other', title: '衛生局紀錄', period: '2025', conclusion: '無', created_at: t0 },
    ]);
    const checklist = [
      { clause: '5(三)1', label: '帳號清查', evidence: '使用者清冊 5 筆', result: 'pass', note: CHECKLIST_NOTE },
      { clause: '5(三)2', label: '查詢紀錄抽核', evidence: '六月抽查 1 筆', result: 'fail', note: '' },
    ];
    await t.db('internal_audits').insert({ unit_id: tree.AG1, period: '2025-H1', status: 'signed', auditor_id: ids.aud1, checklist: JSON.stringify(checklist), evidence_at: t0, findings: '無', conclusion: '符合', opened_by: ids.aud1, opened_at: t0, signed_by: ids.aud1, signed_at: t0, keep_until: '2030-07-10' });
    const [retainedId] = await t.db('retained_data').insert({ unit_id: tree.AG1, case_no: 'CASE-R1', description: '個案投保資料列印紙本', location: '社會處檔案櫃', medium: 'paper', custodian: '林承辦', access: '承辦人', destroy_by: '2025-08-01', status: 'destroyed', created_by: ids.clerk1, created_at: t0 });
    await t.db('data_destructions').insert({ retained_id: retainedId, destroyed_on: '2025-08-01', method: '碎紙', witness: '陳稽核', recorded_by: ids.aud1, recorded_at: at('2025-08-01T03:00:00Z') });

    // The workbooks, each written by the app's own code.
    books.agency = path.join(dir, 'agency.xlsx');
    books.county = path.join(dir, 'county.xlsx');
    books.monthly = path.join(dir, 'monthly.xlsx');
    books.package = path.join(dir, 'package.xlsx');
    agency = await writeAnnualWorkbook(t.db, { year: 2025, unitId: tree.AG1, out: books.agency, countyName: COUNTY });
    county = await writeAnnualWorkbook(t.db, { year: 2025, unitId: null, out: books.county, countyName: COUNTY });
    monthly = await writeMonthlySheetXlsx(t.db, await sheetHeader(t.db, 'AG1', '2025-06'), { filename: books.monthly });
    pkg = await writeAuditPackage(t.db, { from: '2025-01-01', to: '2025-12-31', unitId: tree.AG1, out: books.package, countyName: COUNTY });
  });
  after(async () => {
    // Let a conversion still running finish before its folder goes.
    await Promise.allSettled([csvRun, fodsRun]);
    await t.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The app's tab order of each workbook's sheets. */
  const ORDER = {
    agency: [COVER, SHEETS.admins, SHEETS.users, SHEETS.entries, SHEETS.checks, SHEETS.audits, SHEETS.reconcile],
    county: [COVER, SHEETS.summary, SHEETS.admins, SHEETS.users, SHEETS.checks, SHEETS.audits, SHEETS.reconcile],
    monthly: ['查詢紀錄單', '說明'],
    package: [COVER, '使用者清冊', '稽核紀錄', '內部稽核查核項目', '資料銷毀紀錄'],
  };
  const csvFiles = Object.entries(ORDER).flatMap(([book, names]) => names.map((n) => `${book}-${n}.csv`));
  /** The sheet of a workbook as LibreOffice exported it, parsed. */
  const sheet = (book: keyof typeof books, name: string): string[][] => parseCsv(fs.readFileSync(path.join(csvDir(), `${book}-${name}.csv`), 'utf8'));
  const allCsv = () => fs.readdirSync(csvDir()).map((f) => fs.readFileSync(path.join(csvDir(), f), 'utf8')).join('\n');
  const coverTable = (rows: string[][]) => {
    const i = rows.findIndex((r) => r[0] === '工作表' && r[2] === 'SHA-256');
    const out: Array<{ name: string; rows: number; sha256: string }> = [];
    for (const r of rows.slice(i + 1)) {
      if (!/^[0-9a-f]{64}$/.test(r[2] ?? '')) break;
      out.push({ name: r[0], rows: Number(r[1]), sha256: r[2] });
    }
    return out;
  };
  /** The app's sheet hash (reports/annual.ts) recomputed over the text LibreOffice read. */
  const hashOf = (rows: string[][]) => {
    const columns = rows[0].filter((h) => h !== '').length;
    const h = crypto.createHash('sha256');
    for (const r of rows) h.update(canonicalRow(r.slice(0, columns), columns));
    return h.digest('hex');
  };

  it('soffice converts every workbook, each sheet to its own CSV, exit 0', async () => {
    const r = await toCsv();
    expect(r.signal, `soffice killed after ${r.ms} ms: ${r.stderr}`).to.equal(null);
    expect(r.code, r.stderr).to.equal(0);
    // soffice exits 0 even when a file fails to load ("Error: source file could not be loaded").
    expect(r.stderr).not.to.match(/^Error/m);
    for (const f of Object.values(books)) expect(r.stdout).to.contain(`convert ${f} using filter`);
    // It writes the sheets in tab order: "Writing sheet 封面 -> …/agency-封面.csv".
    const written = [...r.stdout.matchAll(/^Writing sheet (.*) -> .*\/([a-z]+)-[^/]*\.csv$/gm)].map((m) => `${m[2]}-${m[1]}.csv`);
    expect(written).to.deep.equal(csvFiles);
    expect(r.files).to.deep.equal([...csvFiles].sort());
    for (const f of r.files) expect(fs.statSync(path.join(csvDir(), f)).size, f).to.be.greaterThan(0);
  });

  it('flat ODS: the app\'s sheet names in its order (cover first), and not one cell became a formula', async () => {
    const r = await toFods();
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).not.to.match(/^Error/m);
    expect(r.files).to.deep.equal(Object.keys(books).map((b) => `${b}.fods`).sort());
    for (const [book, names] of Object.entries(ORDER)) {
      const xml = fs.readFileSync(path.join(fodsDir(), `${book}.fods`), 'utf8');
      const tables = [...xml.matchAll(/<table:table\s[^>]*?table:name="([^"]*)"/g)].map((m) => m[1]);
      expect(tables, book).to.deep.equal(names);
      expect(xml, book).not.to.contain('table:formula=');
    }
  });

  /** The sheets of a flat ODS file: name → its XML, its page layout's properties, its row and cell styles. */
  const fodsBook = (book: keyof typeof books) => {
    const xml = fs.readFileSync(path.join(fodsDir(), `${book}.fods`), 'utf8');
    const attr = (tag: string, name: string) => new RegExp(`${name}="([^"]*)"`).exec(tag)?.[1];
    const style = (name: string) => new RegExp(`<style:style style:name="${name}"[^>]*>([\\s\\S]*?)</style:style>`).exec(xml)?.[1] ?? '';
    const tables = [...xml.matchAll(/<table:table (table:name="[^"]*" table:style-name="[^"]*")[^>]*>([\s\S]*?)<\/table:table>/g)].map((m) => {
      const name = attr(m[1], 'table:name')!;
      const tableStyle = new RegExp(`<style:style style:name="${attr(m[1], 'table:style-name')}"[^>]*>`).exec(xml)![0];
      const masterTag = new RegExp(`<style:master-page style:name="${attr(tableStyle, 'style:master-page-name')}"[^>]*>`).exec(xml)![0];
      const layout = new RegExp(`<style:page-layout style:name="${attr(masterTag, 'style:page-layout-name')}">\\s*<style:page-layout-properties ([^>]*)>`).exec(xml)![1];
      return { name, xml: m[2], layout };
    });
    /** The row holding `text`, with its height and the style of the cell holding it. */
    const rowWith = (table: string, text: string) => {
      const t = tables.find((x) => x.name === table)!;
      const row = [...t.xml.matchAll(/<table:table-row [^>]*>[\s\S]*?<\/table:table-row>/g)].map((m) => m[0]).find((r) => r.includes(text))!;
      const rowStyle = style(attr(row, 'table:style-name')!);
      const cell = [...row.matchAll(/<table:table-cell\b[^>]*?(?:\/>|>[\s\S]*?<\/table:table-cell>)/g)].map((m) => m[0]).find((c) => c.includes(text))!;
      return { height: parseFloat(attr(rowStyle, 'style:row-height') ?? '0'), cellStyle: style(attr(cell, 'table:style-name') ?? '') };
    };
    return { tables, rowWith, attr };
  };

  it('prints on A4, one page wide, the header row on every page: the page setup as LibreOffice read it', async () => {
    await toFods();
    for (const [book, names] of Object.entries(ORDER) as Array<[keyof typeof books, string[]]>) {
      const { tables, attr } = fodsBook(book);
      expect(tables.map((x) => x.name), book).to.deep.equal(names);
      for (const t of tables) {
        const portrait = book === 'monthly' && t.name === '說明';
        const [w, h] = [attr(t.layout, 'fo:page-width'), attr(t.layout, 'fo:page-height')].map((v) => parseFloat(v!));
        // A4 is 8.27 × 11.69 in (not US Letter, 8.5 × 11).
        expect([w, h].map((v) => v.toFixed(2)), `${book} ${t.name}`).to.deep.equal(portrait ? ['8.27', '11.69'] : ['11.69', '8.27']);
        expect(attr(t.layout, 'style:print-orientation'), `${book} ${t.name}`).to.equal(portrait ? 'portrait' : 'landscape');
        expect(attr(t.layout, 'style:scale-to-X'), `${book} ${t.name}`).to.equal('1'); // one page wide
        expect(attr(t.layout, 'style:scale-to-Y'), `${book} ${t.name}`).to.equal(undefined); // as many pages tall as needed
        const titled = t.name !== COVER && t.name !== '說明';
        expect(/^\s*(<table:table-column[^>]*\/>\s*)*<table:table-header-rows>/.test(t.xml.replace(/<office:forms[^>]*\/>/, '')), `${book} ${t.name}`).to.equal(titled);
      }
    }
  });

  it('a reason with a line break wraps and its row grows; bold rows name the same font family as the others', async () => {
    // As written (exceljs) …
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(books.monthly);
    const ws = wb.getWorksheet('查詢紀錄單')!;
    const reasonCol = SHEET_COLUMNS.findIndex((c) => c.header === '查詢事由') + 1;
    let awkward: ExcelJS.Row | undefined;
    let sampled: ExcelJS.Row | undefined;
    ws.eachRow((row) => {
      if (cellText(row.getCell(reasonCol).value) === AWKWARD_REASON) awkward = row;
      if (cellText(row.getCell(reasonCol).value) === FORMULA_REASON) sampled = row;
    });
    expect(awkward!.getCell(reasonCol).alignment).to.include({ wrapText: true });
    expect(awkward!.height).to.be.greaterThan(30);
    sampled!.eachCell((c) => expect(c.font, c.address).to.include({ bold: true, name: 'Calibri' }));
    // … and as LibreOffice read it: the cell wraps, the row is two lines high, the bold text is in
    // Calibri (or its substitute), not in the default serif face.
    await toFods();
    for (const [book, table] of [['monthly', '查詢紀錄單'], ['agency', SHEETS.entries]] as const) {
      const { rowWith } = fodsBook(book);
      const two = rowWith(table, '第二行');
      expect(two.cellStyle, `${book}: ${two.cellStyle}`).to.contain('fo:wrap-option="wrap"');
      const one = rowWith(table, 'CASE-');
      expect(two.height, book).to.be.greaterThan(one.height * 1.8);
    }
    const bold = fodsBook('monthly').rowWith('查詢紀錄單', '+886-49-222').cellStyle;
    expect(bold).to.contain('fo:font-weight="bold"').and.contain('style:font-name="Calibri"');
  });

  it('the agency workbook: Chinese headers, cover figures and row counts as the app reported', async () => {
    await toCsv();
    const cover = sheet('agency', COVER);
    expect(cover[0][0]).to.equal(`${COUNTY} 應用健保資料 年度報府備查資料`);
    expect(cover.find((r) => r[0] === '機關')?.[1]).to.equal('社會處（AG1）');
    expect(cover.find((r) => r[0] === '查詢紀錄筆數')?.[1]).to.equal(String(agency.counts.entries));
    expect(cover.find((r) => r[0] === '年底查詢日誌鏈頭雜湊')?.[1]).to.equal(agency.chainHead.hash);
    expect(coverTable(cover)).to.deep.equal(agency.sheets);
    expect(agency.counts.entries).to.equal(13); // AG1 and AG1-U1 in 2025
    const entries = sheet('agency', SHEETS.entries);
    expect(entries[0].slice(0, 4)).to.deep.equal(['序號', '查詢日期', '查詢時間', '查詢者帳號']);
    expect(entries[0][9]).to.equal('被查詢者查詢條件（遮罩）');
    expect(entries.length - 1).to.equal(agency.counts.entries);
    expect(sheet('agency', SHEETS.admins).length - 1).to.equal(agency.counts.admins);
    expect(sheet('agency', SHEETS.users).length - 1).to.equal(agency.counts.users);
    expect(sheet('agency', SHEETS.users)[0][7]).to.equal('健保查詢權限（業務範圍/作業代號）');
    expect(sheet('agency', SHEETS.users).find((r) => r[0] === 'ag1.clerk')?.slice(1, 4)).to.deep.equal(['林承辦', 'AG1', '社會處']);
    expect(sheet('agency', SHEETS.checks).length - 1).to.equal(agency.counts.checkItems);
    expect(sheet('agency', SHEETS.audits).length - 1).to.equal(agency.counts.auditRecords);
    expect(entries.some((r) => r[4] === '社會處埔里中心')).to.equal(true);
  });

  it('LibreOffice reads exactly the text the app hashed: every sheet\'s SHA-256 on the cover matches', async () => {
    await toCsv();
    for (const [book, result] of [['agency', agency], ['county', county], ['package', pkg]] as const) {
      for (const s of result.sheets) {
        const rows = sheet(book, s.name);
        expect(rows.length - 1, `${book} ${s.name}`).to.equal(s.rows === 0 ? 1 : s.rows);
        if (s.rows === 0) expect(rows[1][0]).to.equal(NO_DATA);
        expect(hashOf(rows), `${book} ${s.name}`).to.equal(s.sha256);
      }
    }
  });

  it('formula-like text is shown literally, never evaluated', async () => {
    await toCsv();
    const entries = sheet('agency', SHEETS.entries);
    const cells = new Set(entries.flat());
    for (const text of [...FORMULA_LIKE, AWKWARD_REASON]) expect(cells.has(text), text).to.equal(true);
    const row = entries.find((r) => r[8] === FORMULA_REASON)!;
    expect(row[7]).to.equal('+886-49-222');
    expect(row[13]).to.equal('抽查（隨機抽樣）');
    expect(sheet('agency', SHEETS.checks).flat()).to.include(CHECK_NOTE);
    const monthlyRows = sheet('monthly', '查詢紀錄單');
    expect(monthlyRows.map((r) => r[7])).to.include.members([FORMULA_REASON, '@SUM(A1:A9)', AWKWARD_REASON]);
    expect(monthlyRows.map((r) => r[6])).to.include.members(['+886-49-222', '-1+2']);
    expect(sheet('package', '內部稽核查核項目').flat()).to.include(CHECKLIST_NOTE);
    // The values of the formulas, had they been evaluated: the hyperlink's label, 2, 3, 1.
    const everything = fs.readdirSync(csvDir()).flatMap((f) => parseCsv(fs.readFileSync(path.join(csvDir(), f), 'utf8')).flat());
    expect(everything).not.to.include('點我');
    for (const v of ['#NAME?', '#VALUE!', 'Err:508', 'Err:509']) expect(everything, v).not.to.include(v);
    expect(everything.filter((c) => c.includes('HYPERLINK'))).to.deep.equal([FORMULA_REASON, FORMULA_REASON]); // agency + monthly
  });

  it('subjects stay masked: no full national ID anywhere in what LibreOffice read', async () => {
    await toCsv();
    const text = allCsv();
    expect(text).not.to.match(FULL_ID);
    for (const id of subjects) expect(text).not.to.contain(id);
    const entries = sheet('agency', SHEETS.entries).slice(1);
    expect(entries.map((r) => r[9]).every((m) => MASKED_ID.test(m)), entries.map((r) => r[9]).join(' ')).to.equal(true);
    const monthlyRows = sheet('monthly', '查詢紀錄單').slice(1);
    expect(monthlyRows.length).to.be.greaterThan(0);
    expect(monthlyRows.every((r) => MASKED_ID.test(r[8]))).to.equal(true);
  });

  it('the county-wide workbook sums up every agency', async () => {
    await toCsv();
    expect(sheet('county', COVER)[0][0]).to.equal(`${COUNTY} 應用健保資料 全縣年度彙總`);
    const summary = sheet('county', SHEETS.summary);
    expect(summary[0].slice(0, 5)).to.deep.equal(['機關代碼', '機關名稱', '管理者數', '使用者數', '查詢筆數']);
    expect(summary.slice(1).map((r) => [r[0], r[1], r[4], r[7]])).to.deep.equal([['AG1', '社會處', '13', '未報送'], ['AG2', '衛生局', '3', '未報送']]);
    expect(coverTable(sheet('county', COVER))).to.deep.equal(county.sheets);
  });

  it('the monthly query record sheet and the audit package', async () => {
    await toCsv();
    const rows = sheet('monthly', '查詢紀錄單');
    expect(rows[0].slice(0, SHEET_COLUMNS.length)).to.deep.equal(SHEET_COLUMNS.map((c) => c.header));
    expect(monthly.rows).to.equal(4); // June: one ordinary entry, two formula-like reasons, the awkward one
    expect(rows.length - 1).to.equal(monthly.rows);
    expect(rows.find((r) => r[7] === FORMULA_REASON)?.[9]).to.equal('抽');
    const info = sheet('monthly', '說明');
    expect(info.find((r) => r[0] === '機關')?.[1]).to.equal('社會處（AG1）');
    expect(info.find((r) => r[0] === '查詢筆數')?.[1]).to.equal(String(monthly.rows));
    expect(info.find((r) => r[0] === '標記說明')?.[1]).to.equal('抽＝隨機抽樣；風＝風險註記加抽（不取代隨機抽樣）；未登錄查詢另列於「未登錄查詢」工作表');

    const cover = sheet('package', COVER);
    expect(cover[0][0]).to.equal(`${COUNTY} 健保資料稽核資料（提供資料提供機關稽核用）`);
    expect(coverTable(cover)).to.deep.equal(pkg.sheets);
    expect(pkg.sheets.map((s) => s.rows)).to.deep.equal([4, 1, 2, 1]);
    expect(sheet('package', '資料銷毀紀錄')[1].slice(0, 4)).to.deep.equal(['社會處', 'CASE-R1', '個案投保資料列印紙本', '紙本']);
  });
});
