// OpenDocument workbooks (issue 19): every workbook written as .ods beside .xlsx from the same data
// has the same sheets in the same order and the same sheet hashes; the verifier accepts both; a
// real LibreOffice (headless soffice, required: it fails, never skips) opens every .ods, keeps the
// sheet order, cell text and hashes when it saves it as xlsx, and converts it to PDF; text that
// looks like a formula stays text.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { makeUser, recordTestEntries, seedTree, type Tree } from '../support/fixtures.ts';
import { cli } from '../support/cli.ts';
import { appFor, asFile, csrfFromHtml, signIn } from '../support/app.ts';
import { createApp } from '../../server/app.ts';
import { DbSessionStore } from '../../server/web/session-store.ts';
import { CSV_ALL_SHEETS, parseCsv, sofficeConvert } from '../support/libreoffice.ts';
import { COVER, SHEETS, odsSheetHashes, verifyWorkbook, writeAnnualWorkbook, type AnnualResult } from '../../reports/annual.ts';
import { sheetHeader, writeMonthlySheetXlsx } from '../../reports/monthly-sheet.ts';
import { writeAuditPackage } from '../../reports/audit-package.ts';
import { ODS_MIME } from '../../reports/ods.ts';

const at = (iso: string) => Date.parse(iso);
const FORMULA = '=HYPERLINK("http://evil.example/x","點我")';
/** Longer than a spreadsheet cell of Excel (32,767): an audit record's findings (TEXT on MariaDB). */
const LONG = '長'.repeat(5_000) + 'x'.repeat(30_000);
/** The longest reason the log holds (500). */
const LONG_REASON = '長'.repeat(250) + 'x'.repeat(250);
const SPACED = '  前後 兩空白  與  中間  ';
const CONTROL = '控制\u0001字元\u001f與\r\n換行';
const COUNTY = '南投縣政府';

describe(`OpenDocument workbooks beside xlsx, read back by LibreOffice (${ENGINE})`, function () {
  this.timeout(240_000);
  let t: TestDb;
  let tree: Tree;
  let dir: string;
  const r: Record<string, AnnualResult> = {};
  const pkg: Record<string, Awaited<ReturnType<typeof writeAuditPackage>>> = {};
  const file = (name: string) => path.join(dir, name);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-ods-'));
    t = await migratedDb({ EXPORT_DIR: dir });
    tree = await seedTree(t.db);
    const clerk = await makeUser(t.db, { account: 'ag1.clerk', unitId: tree.AG1, roles: ['clerk'], name: '林承辦', permissions: [['2-1', 'IN01']] });
    const auditor = await makeUser(t.db, { account: 'ag1.auditor', unitId: tree.AG1, roles: ['auditor'], name: '陳稽核' });
    await t.db('users').update({ created_at: at('2024-06-01T00:00:00Z') });
    const who = { userId: clerk, account: 'ag1.clerk', unitId: tree.AG1 };
    await recordTestEntries(t.db, t.cfg, [
      { ...who, queriedAt: at('2025-03-01T02:00:00Z') },
      { ...who, queriedAt: at('2025-03-02T02:00:00Z'), reason: FORMULA, caseNo: '+886-49-222' },
      { ...who, queriedAt: at('2025-03-03T02:00:00Z'), reason: LONG_REASON, caseNo: '@SUM(A1:A9)' },
      { ...who, queriedAt: at('2025-03-04T02:00:00Z'), reason: SPACED, caseNo: '-1+2' },
      { ...who, queriedAt: at('2025-03-05T02:00:00Z'), reason: CONTROL },
    ]);
    const t0 = at('2025-04-10T02:00:00Z');
    await t.db('audit_records').insert({ unit_id: tree.AG1, kind: 'investigation', title: '=1+1 三月調查', period: '2025-03', findings: LONG, conclusion: '已告誡', signed_by: auditor, signed_at: t0, created_by: auditor, created_at: t0 });
    for (const f of ['xlsx', 'ods'] as const) {
      r[`agency.${f}`] = await writeAnnualWorkbook(t.db, { year: 2025, unitId: tree.AG1, out: file(`agency.${f}`), countyName: COUNTY });
      r[`county.${f}`] = await writeAnnualWorkbook(t.db, { year: 2025, unitId: null, out: file(`county.${f}`), countyName: COUNTY });
      pkg[f] = await writeAuditPackage(t.db, { from: '2025-01-01', to: '2025-12-31', unitId: tree.AG1, out: file(`package.${f}`), countyName: COUNTY });
      await writeMonthlySheetXlsx(t.db, await sheetHeader(t.db, 'AG1', '2025-03'), { filename: file(`monthly.${f}`) }, f);
    }
  });
  after(async () => {
    await t.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const ODS = ['agency.ods', 'county.ods', 'package.ods', 'monthly.ods'];

  it('each .ods is an OpenDocument package: mimetype first, stored (not compressed), then the manifest', () => {
    for (const f of ODS) {
      const b = fs.readFileSync(file(f));
      expect(b.readUInt32LE(0), f).to.equal(0x04034b50);
      expect(b.readUInt16LE(8), `${f}: mimetype compression method`).to.equal(0);
      const nameLength = b.readUInt16LE(26);
      expect(b.subarray(30, 30 + nameLength).toString(), f).to.equal('mimetype');
      expect(b.subarray(30 + nameLength + b.readUInt16LE(28), 30 + nameLength + b.readUInt16LE(28) + ODS_MIME.length).toString(), f).to.equal(ODS_MIME);
    }
  });

  it('the same data gives the same sheets, in the same order, with the same hashes, in both formats; the verifier accepts both', async () => {
    for (const b of ['agency', 'county']) {
      expect(r[`${b}.ods`].sheets, b).to.deep.equal(r[`${b}.xlsx`].sheets);
      expect(r[`${b}.ods`].counts, b).to.deep.equal(r[`${b}.xlsx`].counts);
    }
    expect(pkg.ods.sheets).to.deep.equal(pkg.xlsx.sheets);
    for (const f of ['agency', 'county', 'package']) {
      const x = await verifyWorkbook(file(`${f}.xlsx`));
      const o = await verifyWorkbook(file(`${f}.ods`));
      expect(x.ok, `${f}.xlsx`).to.equal(true);
      expect(o.ok, `${f}.ods: ${JSON.stringify(o.sheets)}`).to.equal(true);
      expect(o.format).to.equal('ods');
      expect(o.sheets).to.deep.equal(x.sheets);
    }
    const order = (await odsSheetHashes(file('agency.ods'))).order;
    expect(order).to.deep.equal([COVER, SHEETS.admins, SHEETS.users, SHEETS.entries, SHEETS.checks, SHEETS.audits, SHEETS.reconcile]);
    expect((await odsSheetHashes(file('monthly.ods'))).order).to.deep.equal(['查詢紀錄單', '說明']);
  });

  it('a changed cell in an .ods fails the verifier, naming the sheet', async () => {
    const JSZip = (await import('jszip')).default;
    const zip = await JSZip.loadAsync(fs.readFileSync(file('agency.ods')));
    const content = await zip.file('content.xml')!.async('string');
    expect(content).to.contain('+886-49-222');
    zip.file('content.xml', content.replace('+886-49-222', '+886-49-223'));
    const mime = await zip.file('mimetype')!.async('string');
    zip.remove('mimetype');
    const out = new JSZip();
    out.file('mimetype', mime, { compression: 'STORE' });
    for (const [name, f] of Object.entries(zip.files)) if (!f.dir) out.file(name, await f.async('nodebuffer'));
    fs.writeFileSync(file('tampered.ods'), await out.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' }));
    const v = await verifyWorkbook(file('tampered.ods'));
    expect(v.ok).to.equal(false);
    expect(v.sheets.filter((s) => s.actual !== s.expected).map((s) => s.name)).to.deep.equal([SHEETS.entries]);
  });

  it('cells are inert and valid: formula-like text is string-typed, control characters are gone, long and spaced text is whole', async () => {
    const JSZip = (await import('jszip')).default;
    const content = await (await JSZip.loadAsync(fs.readFileSync(file('agency.ods')))).file('content.xml')!.async('string');
    expect(content).not.to.contain('table:formula');
    expect(content, 'a cell longer than Excel allows is whole').to.contain(`<text:p>${LONG}</text:p>`);
    expect(content).not.to.match(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
    for (const v of ['=HYPERLINK(&quot;http://evil.example/x&quot;,&quot;點我&quot;)', '+886-49-222', '@SUM(A1:A9)', '-1+2']) {
      expect(content).to.match(new RegExp(`office:value-type="string"><text:p>${v.replace(/[()+.]/g, '\\$&')}</text:p>`), v);
    }
  });

  it('downloads: the query-log export and the monthly sheet as .ods with ?format=ods or Accept, read by LibreOffice; a bad format is a 400', async () => {
    const app = appFor(t);
    const s = await signIn(app, 'ag1.auditor');
    const t0 = at('2025-04-10T02:00:00Z');
    const [checkId] = await t.db('checks').insert({ unit_id: tree.AG1, period: '2025-03', generation: 1, seed: 'ab'.repeat(32), population: 5, population_digest: 'cd'.repeat(32), sample_size: 5, rate_percent: 3, minimum: 10, checker_id: await t.db('users').where({ account: 'ag1.auditor' }).first('id').then((u) => u.id), status: 'signed-off', created_at: t0, signed_off_at: t0 });
    const logs = await asFile(s.agent.get('/query-logs/export.xlsx?format=ods'));
    expect(logs.status).to.equal(200);
    expect(logs.headers['content-type']).to.contain(ODS_MIME);
    expect(logs.headers['content-disposition']).to.match(/\.ods/);
    fs.writeFileSync(file('logs.ods'), logs.body as Buffer);
    const sheet = await asFile(s.agent.get(`/checks/${checkId}/sheet.xlsx`).set('Accept', ODS_MIME));
    expect(sheet.status).to.equal(200);
    expect(sheet.headers['content-type']).to.contain(ODS_MIME);
    fs.writeFileSync(file('sheet.ods'), sheet.body as Buffer);
    expect((await odsSheetHashes(file('sheet.ods'))).order).to.deep.equal(['查詢紀錄單', '說明']);
    const plain = await s.agent.get(`/checks/${checkId}/sheet.xlsx`);
    expect(plain.headers['content-type']).to.contain('spreadsheetml');
    expect((await s.agent.get('/query-logs/export.xlsx?format=pdf')).status).to.equal(400);
    expect((await s.agent.get(`/checks/${checkId}/sheet.xlsx?format=csv`)).status).to.equal(400);
    const csv = await sofficeConvert([file('logs.ods'), file('sheet.ods')], CSV_ALL_SHEETS, path.join(dir, 'dl-csv'));
    expect(csv.code, csv.stderr).to.equal(0);
    const logRows = parseCsv(fs.readFileSync(path.join(dir, 'dl-csv', 'logs-查詢日誌.csv'), 'utf8'));
    expect(logRows.length).to.equal(1 + 5);
    expect(logRows.map((r) => r[11])).to.include(FORMULA);
    const sheetRows = parseCsv(fs.readFileSync(path.join(dir, 'dl-csv', 'sheet-查詢紀錄單.csv'), 'utf8'));
    expect(sheetRows.length).to.equal(1 + 5);
  });

  it('the covering letter (函) as .odt: 發文字號 typed (the form re-shown with the field marked when missing), filled from the filing, opened by LibreOffice Writer', async () => {
    const app = appFor(t);
    const s = await signIn(app, 'ag1.auditor');
    const made = await asFile(s.agent.post('/api/v1/reports/annual').set('X-CSRF-Token', s.csrf).send({ year: 2025, unit: 'AG1', format: 'ods' }));
    expect(made.status).to.be.oneOf([200, 201]);
    const id = Number(/\/(\d+)$/.exec(made.headers.location)![1]);
    const form = await s.agent.get(`/audits/exports/${id}/letter`);
    expect(form.status).to.equal(200);
    const csrf = csrfFromHtml(form.text);
    const missing = await s.agent.post(`/audits/exports/${id}/letter`).type('form').send({ _csrf: csrf, number: '  ', speed: '普通件', secrecy: '密' });
    expect(missing.status).to.equal(400);
    expect(missing.text).to.match(/id="f-number"[^>]*aria-invalid="true"/);
    expect(missing.text).to.contain('請輸入發文字號');
    const NUMBER = '投社字第1150000001號';
    const letter = await asFile(s.agent.post(`/audits/exports/${id}/letter`).type('form').send({ _csrf: csrf, number: NUMBER, speed: '速件', secrecy: '密（含個人資料），附件抽存後解密' }));
    expect(letter.status).to.equal(200);
    expect(letter.headers['content-type']).to.contain('application/vnd.oasis.opendocument.text');
    fs.writeFileSync(file('letter.odt'), letter.body as Buffer);
    const conv = await sofficeConvert([file('letter.odt')], 'txt:Text (encoded):UTF8', path.join(dir, 'letter-txt'));
    expect(conv.code, conv.stderr).to.equal(0);
    const txt = fs.readFileSync(path.join(dir, 'letter-txt', 'letter.txt'), 'utf8');
    for (const want of ['社會處　函', '受文者：', '（計畫處）', '發文日期：中華民國', `發文字號：${NUMBER}`, '速別：速件', '密等及解密條件或保密期限：密（含個人資料）', `SHA-256：${made.headers['x-content-sha256']}`, '年底查詢日誌鏈頭：序號', '主旨：', '114年度', '查詢紀錄5筆', '稽核紀錄1件', '未完成']) {
      expect(txt, want).to.contain(want);
    }
    const pdf = await sofficeConvert([file('letter.odt')], 'pdf', path.join(dir, 'letter-pdf'));
    expect(pdf.code, pdf.stderr).to.equal(0);
    expect(fs.readFileSync(path.join(dir, 'letter-pdf', 'letter.pdf')).subarray(0, 5).toString()).to.equal('%PDF-');
  });

  it('PDF of the signed sheets: the monthly sheet the checker signs and the internal audit record, A4, the Chinese glyphs embedded', async () => {
    const app = appFor(t);
    const s = await signIn(app, 'ag1.auditor');
    const check = await t.db('checks').where({ unit_id: tree.AG1, period: '2025-03' }).first('id');
    const t0 = at('2025-07-10T02:00:00Z');
    const auditor = (await t.db('users').where({ account: 'ag1.auditor' }).first('id')).id;
    const [auditId] = await t.db('internal_audits').insert({ unit_id: tree.AG1, period: '2025-H1', status: 'signed', auditor_id: auditor, checklist: JSON.stringify([{ key: 'roster', clause: '5(三)1', label: '帳號清查', evidence: '使用者清冊', result: 'pass', note: '=SUM(1,2) 已抽核' }]), evidence_at: t0, findings: '無', conclusion: '符合', opened_by: auditor, opened_at: t0, signed_by: auditor, signed_at: t0, keep_until: '2030-07-10' });
    const detail = await s.agent.get(`/audits/${auditId}`);
    expect(detail.text).to.contain(`/audits/${auditId}/record.pdf`);
    for (const url of [`/checks/${check.id}/sheet.pdf`, `/audits/${auditId}/record.pdf`]) {
      const res = await asFile(s.agent.get(url));
      expect(res.status, url).to.equal(200);
      expect(res.headers['content-type']).to.contain('application/pdf');
      expect(res.headers['content-disposition']).to.contain('.pdf');
      const pdf = (res.body as Buffer).toString('latin1');
      expect(pdf.slice(0, 5)).to.equal('%PDF-');
      // A4 (the wide sheet prints landscape): 595 × 842 points either way round.
      const box = /\/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]/.exec(pdf)!.slice(1).map((n) => Math.round(Number(n))).sort();
      expect(box, `${url}: A4`).to.deep.equal([595, 842]);
      // Chromium (Skia) embeds the CJK glyphs it drew (Noto Sans CJK, a CFF collection) as Type 3
      // glyph programs with a ToUnicode map: the PDF needs no font on the reader's side, and its text can be searched.
      expect(pdf, `${url}: glyphs embedded`).to.match(/\/Subtype \/Type3/);
      expect(pdf, `${url}: text extractable`).to.match(/\/ToUnicode/);
    }
    // The same page asked for again is the same PDF, from the last prints kept (no second print).
    const again = async () => ((await asFile(s.agent.get(`/checks/${check.id}/sheet.pdf`))).body as Buffer);
    expect(Buffer.compare(await again(), await again())).to.equal(0);
    expect((await (await signIn(app, 'ag1.clerk')).agent.get(`/audits/${auditId}/record.pdf`)).status).to.equal(403);
  });

  it('PDF without Chromium: 503 saying so (the page still prints from the browser), never a 500', async () => {
    const sessions = new DbSessionStore(t.db, t.cfg.SESSION_IDLE_MINUTES * 60_000);
    sessions.close();
    const app = createApp({ cfg: { ...t.cfg, CHROMIUM_PATH: path.join(dir, 'no-chromium-here') }, db: t.db, sessions });
    const s = await signIn(app, 'ag1.auditor');
    const check = await t.db('checks').where({ unit_id: tree.AG1, period: '2025-03' }).first('id');
    const page = await s.agent.get(`/checks/${check.id}/sheet.pdf`);
    expect(page.status).to.equal(503);
    expect(page.text).to.contain('CHROMIUM_PATH').and.contain('請以瀏覽器列印本頁');
    const api = await s.agent.get(`/checks/${check.id}/sheet.pdf`).set('Accept', 'application/json');
    expect(api.status).to.equal(503);
    expect(api.body.type).to.match(/pdf-unavailable$/);
  });

  it('LibreOffice opens every .ods and saves it again as .ods with the same sheet order and every hash', async () => {
    const conv = await sofficeConvert(ODS.map(file), 'ods', path.join(dir, 'lo-ods'));
    expect(conv.code, conv.stderr).to.equal(0);
    expect(conv.stderr).not.to.match(/^Error/m);
    for (const f of ['agency', 'county', 'package']) {
      const back = path.join(dir, 'lo-ods', `${f}.ods`);
      const v = await verifyWorkbook(back);
      expect(v.format).to.equal('ods');
      expect(v.ok, `${f} as LibreOffice saved it: ${JSON.stringify(v.sheets.filter((s) => s.actual !== s.expected))}`).to.equal(true);
      expect((await odsSheetHashes(back)).order, f).to.deep.equal((await odsSheetHashes(file(`${f}.ods`))).order);
    }
  });

  it('LibreOffice reads formula-like text as text: saved as xlsx, no cell is a formula', async () => {
    const conv = await sofficeConvert([file('agency.ods')], 'xlsx', path.join(dir, 'lo-xlsx'));
    expect(conv.code, conv.stderr).to.equal(0);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(path.join(dir, 'lo-xlsx', 'agency.xlsx'));
    expect(wb.worksheets.map((w) => w.name)).to.deep.equal((await odsSheetHashes(file('agency.ods'))).order);
    let formulas = 0;
    const texts: string[] = [];
    for (const ws of wb.worksheets) ws.eachRow((row) => row.eachCell((c) => {
      if (c.type === ExcelJS.ValueType.Formula) formulas++;
      texts.push(String(c.text));
    }));
    expect(formulas).to.equal(0);
    expect(texts).to.include.members([FORMULA, '+886-49-222', '@SUM(A1:A9)', '-1+2', '=1+1 三月調查', SPACED, '控制字元與\n換行']);
  });

  it('LibreOffice reads the cell counts of every sheet, and converts every .ods to PDF', async () => {
    const csv = await sofficeConvert([file('monthly.ods')], CSV_ALL_SHEETS, path.join(dir, 'csv'));
    expect(csv.code, csv.stderr).to.equal(0);
    const rows = parseCsv(fs.readFileSync(path.join(dir, 'csv', 'monthly-查詢紀錄單.csv'), 'utf8'));
    expect(rows.length).to.equal(1 + 5);
    expect(rows.slice(1).every((row) => row.length === rows[0].length)).to.equal(true);
    const pdf = await sofficeConvert(ODS.map(file), 'pdf', path.join(dir, 'pdf'));
    expect(pdf.code, pdf.stderr).to.equal(0);
    for (const f of ODS) {
      const out = path.join(dir, 'pdf', f.replace(/\.ods$/, '.pdf'));
      expect(fs.existsSync(out), out).to.equal(true);
      expect(fs.readFileSync(out).subarray(0, 5).toString()).to.equal('%PDF-');
    }
  });

  it('the command line: --format ods or an .ods --out writes ODS; an unknown format is exit 2 naming --format; report verify checks either', async () => {
    const run = (...args: string[]) => cli(args, { ...t.env, EXPORT_DIR: dir });
    const bad = await run('report', 'annual', '--year', '2025', '--unit', 'AG1', '--format', 'pdf', '--out', file('x.ods'));
    expect(bad.code, bad.stderr).to.equal(2);
    expect(bad.stderr).to.contain('--format');
    const mismatch = await run('report', 'annual', '--year', '2025', '--unit', 'AG1', '--format', 'ods', '--out', file('x.xlsx'));
    expect(mismatch.code, mismatch.stderr).to.equal(2);
    const ok = await run('report', 'annual', '--year', '2025', '--unit', 'AG1', '--out', file('cli.ods'));
    expect(ok.code, ok.stderr + ok.stdout).to.equal(0);
    const v = await run('report', 'verify', file('cli.ods'));
    expect(v.code, v.stderr + v.stdout).to.equal(0);
    expect(v.stdout).to.contain('ods ok');
    const tampered = await run('report', 'verify', file('tampered.ods'));
    expect(tampered.code).to.equal(1);
    expect(tampered.stdout).to.contain(`BAD\t${SHEETS.entries}`);
    const vx = await run('report', 'verify', file('agency.xlsx'));
    expect(vx.code, vx.stderr + vx.stdout).to.equal(0);
    const sheet = await run('report', 'monthly-sheet', '--month', '2025-03', '--unit', 'AG1', '--format', 'ods', '--out', file('cli-monthly.ods'));
    expect(sheet.code, sheet.stderr + sheet.stdout).to.equal(0);
    expect((await odsSheetHashes(file('cli-monthly.ods'))).order).to.deep.equal(['查詢紀錄單', '說明']);
  });
});
