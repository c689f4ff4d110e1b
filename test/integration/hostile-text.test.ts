// Hostile text end to end (ASVS V5.3 output encoding, V5.3.4 parameterised queries, formula
// injection): SQL-injection strings are stored literally, script payloads are shown escaped and
// nothing executes in a real browser (Chromium), formula payloads come out of the export as text.
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import { ENGINE } from '../support/db.ts';
import { DEMO_PASSWORD, signIn as browserSignIn, startBrowserApp, type BrowserApp } from '../support/browser.ts';
import { Recorder } from '../support/server-process.ts';

const SQLI = ["' OR '1'='1", "'; DROP TABLE query_logs; --", '" OR 1=1 --', "') UNION SELECT password_hash FROM users --", "\\'; DELETE FROM users; --"];
const XSS = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "'><svg onload=alert(1)>", '<%= it.csrfToken %>{{7*7}}${7*7}', '</textarea><script>alert(1)</script>'];
const EXECUTING = [
  '<img src=x onerror="window.__xss=1">',
  '<script>window.__xss=2</script>',
  '"><svg onload="window.__xss=3">',
  "');window.__xss=4;//",
];
const FORMULAS = ['=HYPERLINK("http://evil.example","點我")', '+SUM(1,1)', '-1+2', '@cmd', '=1+1'];

// The browser harness runs the server on SQLite: run once, in the SQLite pass.
const sqlitePass = ENGINE === 'sqlite' ? describe : (_title: string, _fn: (this: Mocha.Suite) => void) => undefined;

sqlitePass('hostile text: stored literally, shown escaped, exported inert (real server, Chromium)', function () {
  this.timeout(300_000);
  let app: BrowserApp;
  let clerk: string;
  let rec: Recorder;
  const stored: Array<{ id: number; caseNo: string; reason: string }> = [];

  before(async () => {
    app = await startBrowserApp();
    clerk = app.account('clerk');
    rec = await new Recorder(app.base, 'hostile').prepare(clerk, DEMO_PASSWORD);
    for (const [i, payload] of [...SQLI, ...XSS, ...EXECUTING, ...FORMULAS].entries()) {
      const body = { ...rec.entry(), caseNo: payload.slice(0, 64), reason: `查詢事由 ${payload}` };
      let r = await rec.request('POST', '/api/v1/query-logs', body);
      if (r.status === 400 && (r.body.errors ?? []).every((e: { field: string }) => e.field === 'caseNo')) {
        // The agency may restrict case numbers to a pattern: the payload goes in the reason alone.
        body.caseNo = `H-${i}`;
        r = await rec.request('POST', '/api/v1/query-logs', body);
      }
      expect(r.status, `${payload}: ${r.text}`).to.equal(201);
      stored.push({ id: r.body.id, caseNo: body.caseNo as string, reason: body.reason });
    }
  });
  after(() => app?.close());

  it('stores SQL-injection and script strings exactly as typed, and the schema is untouched', async () => {
    for (const s of stored) {
      const row = await app.db('query_logs').where({ id: s.id }).first('case_no', 'reason');
      expect(row, `entry ${s.id}`).to.deep.equal({ case_no: s.caseNo, reason: s.reason });
    }
    expect(Number((await app.db('users').count({ n: '*' }))[0].n)).to.be.greaterThan(10);
    expect(Number((await app.db('query_logs').count({ n: '*' }))[0].n)).to.be.greaterThan(stored.length);
    const api = await rec.request('GET', `/api/v1/query-logs/${stored[0].id}`);
    expect(api.status).to.equal(200);
    expect(JSON.stringify(api.body)).to.contain(JSON.stringify(stored[0].reason).slice(1, -1));
  });

  it('shows script payloads as text in the pages: escaped in the HTML, nothing runs in Chromium', async () => {
    const page = await app.page();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await browserSignIn(page, clerk);
    for (const s of stored.filter((x) => /[<>"']/.test(x.reason))) {
      const res = await page.goto(`/query-logs/${s.id}`);
      expect(res!.status(), `/query-logs/${s.id}`).to.equal(200);
      const html = await res!.text();
      const raw = s.reason.replace(/^查詢事由 /, '');
      if (/[<>]/.test(raw)) expect(html, `raw markup of ${raw}`).not.to.contain(raw);
      expect(await page.locator('body').innerText(), `the payload is shown as text: ${raw}`).to.contain(raw);
      expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), raw).to.equal(undefined);
    }
    await page.goto('/query-logs');
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).to.equal(undefined);
    expect(dialogs, 'no alert/confirm ever opened').to.deep.equal([]);
  });

  it('writes formula payloads into the export as text, never as formulas', async () => {
    const res = await fetch(`${app.base}/query-logs/export.xlsx`, { headers: { cookie: rec.cookie } });
    expect(res.status).to.equal(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(Buffer.from(await res.arrayBuffer()) as any);
    const texts: string[] = [];
    wb.eachSheet((ws) => ws.eachRow((row) => row.eachCell((cell) => {
      expect(cell.type, `${ws.name}!${cell.address}`).not.to.equal(ExcelJS.ValueType.Formula);
      texts.push(cell.text);
    })));
    for (const f of FORMULAS) expect(texts.some((t) => t.includes(f)), `${f} is in the export as text`).to.equal(true);
  });
});
