// One source of labels (issue 17): every key of the system's enumerations has its words in
// server/labels.ts, and no key, UTC timestamp or internal reference reaches what people read —
// every page each role opens on the demo county, and every workbook they download.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import type { Express } from 'express';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, asFile, getFile, signIn, type Signed } from '../support/app.ts';
import { CAPABILITIES } from '../../server/capabilities.ts';
import { seededRandom } from '../../server/cli.ts';
import { accessTable } from '../../server/web/access.ts';
import { runJob } from '../../jobs/runner.ts';
import { accountReviewJob, FINDINGS } from '../../server/accounts/review.ts';
import { ROLES, RANKS, type Role } from '../../server/accounts/roles.ts';
import { VERDICTS, FLAG_RULES } from '../../server/checks/rules.ts';
import { SUBJECT_TYPES } from '../../server/queries/subject.ts';
import { writeAnnualWorkbook } from '../../reports/annual.ts';
import { cellText } from '../../reports/cells.ts';
import * as L from '../../server/labels.ts';
import { localDate, now } from '../../server/time.ts';

const PASSWORD = 'Demo-Passw0rd-2026';
const SERVER = path.resolve(import.meta.dirname, '../../server');

/** Every `.ts` file under server/ and jobs/. */
function sources(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) out.push(fs.readFileSync(p, 'utf8'));
    }
  };
  walk(SERVER);
  walk(path.resolve(SERVER, '../jobs'));
  return out;
}

/** The event actions the code records: literals, and the templated ones with their cases. */
function recordedActions(): string[] {
  const found = new Set<string>();
  for (const src of sources()) {
    for (const m of src.matchAll(/action: '([a-z][a-z.-]*)'/g)) found.add(m[1]);
    for (const m of src.matchAll(/action: [a-zA-Z]+ \? '([a-z][a-z.-]*)' : '([a-z][a-z.-]*)'/g)) found.add(m[1]).add(m[2]);
    for (const m of src.matchAll(/export const [A-Z_]+ = '((?:query-log|query-request|reconcile)\.[a-z-]+)'/g)) found.add(m[1]);
  }
  for (const k of ['new', 'change', 'disable', 'handover']) found.add(`provision-${k}`); // provision-${req.kind}
  for (const d of ['approve', 'reject']) found.add(`query-request.${d}`); // query-request.${input.decision}
  for (const a of ['unit-close', 'unit-move', 'unit-update']) found.add(a);
  return [...found].sort();
}

/** Keys that must never show as such to a person (pages and workbooks). */
function forbiddenKeys(): string[] {
  const keys = new Set<string>([
    ...VERDICTS, ...FLAG_RULES, ...SUBJECT_TYPES, ...Object.keys(L.CHANNEL_LABELS), ...ROLES, ...RANKS, ...FINDINGS,
    ...Object.keys(L.EVENT_ACTION_LABELS), ...Object.keys(L.OUTCOME_LABELS), ...Object.keys(L.USER_STATUS_LABELS),
    ...Object.keys(L.CHECK_STATUS_LABELS), ...Object.keys(L.AUDIT_KIND_LABELS),
    // account-review detail keys
    'lastLoginAt', 'passwordChangedAt', 'createdAt', 'disableOn',
  ]);
  // Words too common to tell a key from text: 'it' (a role), 'other', 'open', 'new', 'na', 'pass', 'fail'.
  for (const k of ['it', 'other', 'open', 'new', 'change', 'disable', 'handover']) keys.delete(k);
  return [...keys];
}

/** What a person reads of a page: text without tags, attributes, scripts and styles. */
function readable(html: string): string {
  return html
    .replace(/<script[\s\S]*?<\/script>/gi, ' ').replace(/<style[\s\S]*?<\/style>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** The keys, UTC timestamps and raw references found in a text (a key as a whole word: not part of an account or file name). */
function leaks(text: string, keys: string[], workbook = false): string[] {
  const out = new Set<string>();
  for (const k of keys) {
    const re = new RegExp(`(?<![A-Za-z0-9_.@/-])${k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_@/-]|\\.[A-Za-z0-9])`);
    if (re.test(text)) out.add(k);
  }
  for (const m of text.matchAll(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}[^\s；，,)）]*/g)) out.add(m[0]);
  for (const m of text.matchAll(/\b(?:query_logs|source_records)#\d+/g)) out.add(m[0]);
  for (const w of ['風險:', 'null']) if (text.includes(w)) out.add(w);
  // The annual workbook once said 不適當／待說明 for the screens' 不當／請說明 (on pages 待說明 is a to-do's word).
  if (workbook) for (const w of ['不適當', '待說明']) if (text.includes(w)) out.add(w);
  return [...out];
}

async function workbookText(bytes: Buffer): Promise<string> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(bytes as any);
  const parts: string[] = [];
  wb.eachSheet((ws) => ws.eachRow((row) => row.eachCell((c) => { parts.push(cellText(c.value)); })));
  return parts.join('\n');
}

describe(`labels: one source, no raw keys in pages or workbooks (${ENGINE})`, function () {
  this.timeout(600_000);

  describe('every key has its label', () => {
    const missing = (table: Record<string, string>, keys: readonly string[]) => keys.filter((k) => !table[k]?.trim());
    it('verdicts, risk flags, subject types, channels, roles, ranks, statuses, review findings', () => {
      expect(missing(L.VERDICT_LABELS, VERDICTS), 'verdicts').to.deep.equal([]);
      expect(missing(L.FLAG_LABELS, FLAG_RULES), 'risk flags').to.deep.equal([]);
      expect(missing(L.SUBJECT_LABELS, SUBJECT_TYPES), 'subject types').to.deep.equal([]);
      expect(missing(L.CHANNEL_LABELS, ['web', 'api']), 'channels').to.deep.equal([]);
      expect(missing(L.ROLE_LABELS, ROLES), 'roles').to.deep.equal([]);
      expect(missing(L.RANK_LABELS, RANKS), 'ranks').to.deep.equal([]);
      expect(missing(L.FINDING_LABELS, FINDINGS), 'review findings').to.deep.equal([]);
      expect(missing(L.USER_STATUS_LABELS, ['pending', 'active', 'disabled']), 'account statuses').to.deep.equal([]);
      expect(missing(L.CHECK_STATUS_LABELS, ['open', 'signed-off', 'superseded']), 'check statuses').to.deep.equal([]);
      expect(missing(L.OUTCOME_LABELS, ['ok', 'denied', 'failed']), 'event outcomes').to.deep.equal([]);
    });
    it('every event action the code records', () => {
      const actions = recordedActions();
      expect(actions.length).to.be.greaterThan(40);
      expect(missing(L.EVENT_ACTION_LABELS, actions)).to.deep.equal([]);
    });
    it('the screens\' terms are the workbooks\' terms (不當, 請說明), and a basis reads in words', () => {
      expect(L.VERDICT_LABELS.improper).to.equal('不當');
      expect(L.VERDICT_LABELS['explanation-needed']).to.equal('請說明');
      expect(L.basisLabel('flag:after-hours')).to.equal('風險：非上班時間查詢');
      expect(L.evidenceRefLabel('query_logs#6932')).to.equal('查詢日誌第 6932 筆');
      expect(L.reviewDetailText({ lastLoginAt: null, days: 90 })).to.equal('最後登入：從未登入；閒置天數上限：90 天');
      expect(L.rocTitle('2026-11 查核不當：查詢日誌第 3 筆')).to.equal('民國 115 年 11 月查核不當：查詢日誌第 3 筆');
      expect(L.rocTitle('示範：異常查詢調查')).to.equal('示範：異常查詢調查');
    });
  });

  describe('on the demo county', () => {
    let t: TestDb;
    let app: Express;
    const byRole = new Map<Role, Signed>();
    const accountOf = new Map<Role, string>();
    const keys = forbiddenKeys();
    let year = 0;
    let scratch = '';
    /** Rows the known cases live in: the clerk (with sign-in events), the investigation with the note. */
    const pinned = new Map<string, string>();

    before(async () => {
      scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-labels-'));
      t = await migratedDb({ LOGIN_RATE_PER_MINUTE: '1000', EXPORT_DIR: path.join(scratch, 'exports'), WITNESS_DIR: path.join(scratch, 'witness') });
      app = appFor(t);
      const random = seededRandom(20260101);
      const accounts = [];
      for (const c of CAPABILITIES) if (c.seedDemo) accounts.push(...(await c.seedDemo({ cfg: t.cfg, db: t.db }, { password: PASSWORD, random })));
      // What the known cases need: an idle account never signed in (review detail), an investigation
      // note pointing at a log entry, and check items judged 不當/請說明 on a risk flag.
      await t.db('users').where({ account: 'civ.clerk3' }).update({ last_login_at: null });
      await runJob({ db: t.db, cfg: t.cfg }, accountReviewJob, { force: true });
      const inv = await t.db('investigations').orderBy('id').first('id', 'unit_id');
      pinned.set('/investigations/:id', String(inv.id));
      const entry = await t.db('query_logs').orderBy('id').first('id');
      await t.db('investigation_notes').insert({ investigation_id: inv.id, kind: 'evidence', body: '抽查發現', evidence_ref: `query_logs#${entry.id}`, author_id: null, created_at: now() });
      const items = await t.db('check_items').whereNotNull('entry_id').orderBy('id').limit(2).select('id', 'check_id');
      expect(items.length, 'the demo county has check items').to.equal(2);
      await t.db('check_items').where({ id: items[0].id }).update({ basis: 'flag:after-hours', verdict: 'improper', note: '非業務需要' });
      await t.db('check_items').where({ id: items[1].id }).update({ verdict: 'explanation-needed', note: '請說明查詢目的' });
      const period = (await t.db('checks').where({ id: items[0].check_id }).first('period')).period as string;
      year = Number(period.slice(0, 4));
      for (const role of ROLES) {
        const a = accounts.find((x) => x.roles.length === 1 && x.roles[0] === role) ?? accounts.find((x) => x.roles.includes(role));
        if (!a) continue;
        accountOf.set(role, a.account);
        byRole.set(role, await signIn(app, a.account, PASSWORD));
      }
      expect([...byRole.keys()].sort()).to.deep.equal([...ROLES].sort());
      pinned.set('/accounts/users/:id', String((await t.db('users').where({ account: accountOf.get('clerk') }).first('id')).id));
      // A service token that has been used: its last use is shown (once as a UTC timestamp).
      const planning = byRole.get('planning_admin')!;
      const clerk = await t.db('users as u').join('units as n', 'n.id', 'u.unit_id').where('u.account', accountOf.get('clerk')).first('u.account', 'n.code');
      const tok = await planning.agent.post('/api/v1/service-tokens').set('X-CSRF-Token', planning.csrf).send({ name: '業務系統介接', unit: clerk.code, account: clerk.account });
      expect(tok.status, JSON.stringify(tok.body)).to.equal(201);
      await t.db('service_tokens').update({ last_used_at: now() });
    });
    after(async () => {
      await t?.drop();
      if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    });

    /** A row id for a page's `:id`, from the table its path names. */
    async function idFor(p: string): Promise<string | null> {
      const table: Record<string, string> = {
        '/checks/:id': 'checks', '/investigations/:id': 'investigations', '/accounts/users/:id': 'users', '/accounts/reviews/:id': 'account_reviews',
        '/accounts/requests/:id': 'account_requests', '/query-logs/:id': 'query_logs', '/audits/:id': 'internal_audits', '/destructions/:id': 'destruction_lists',
        '/reconciliations/:id': 'reconcile_runs', '/reconcile/imports/:id': 'reconcile_imports', '/reconcile/sources/:id': 'reconcile_sources',
        '/query-batches/:id': 'query_batches', '/checks/:id/sheet': 'checks',
      };
      if (pinned.has(p)) return pinned.get(p)!;
      const name = table[p];
      if (!name || !(await t.db.schema.hasTable(name))) return null;
      const row = await t.db(name).orderBy('id', 'desc').first('id');
      return row ? String(row.id) : null;
    }

    it('no page any role opens shows a raw key, a UTC timestamp or an internal reference', async () => {
      const pages = accessTable().filter((e) => e.method === 'GET' && !e.path.startsWith('/api/') && !/\.xlsx$|\/file$|witness|logout|\/assets|\.(ods|pdf|json)$/.test(e.path) && (e.path.match(/:/g) ?? []).length <= 1);
      const problems: string[] = [];
      const seen = new Set<string>();
      for (const [role, s] of byRole) {
        for (const e of pages) {
          if (e.who !== 'signed-in' && Array.isArray(e.who) && !e.who.includes(role)) continue;
          let url = e.path;
          if (url.includes(':')) {
            const id = await idFor(e.path);
            if (!id) continue;
            url = url.replace(/:[A-Za-z]+/, id);
          }
          const res = await s.agent.get(url);
          if (res.status !== 200 || !/html/.test(String(res.headers['content-type']))) continue;
          seen.add(e.path);
          const found = leaks(readable(res.text), keys);
          if (found.length) problems.push(`${role} ${url}: ${found.join(', ')}`);
        }
      }
      // The pages of the known cases were among those read.
      for (const p of ['/accounts/reviews/:id', '/accounts/users/:id', '/investigations/:id', '/checks/:id', '/dashboard', '/query-logs', '/service-tokens']) expect([...seen], p).to.include(p);
      expect(seen.size, 'pages read').to.be.greaterThan(30);
      expect(problems).to.deep.equal([]);
    });

    it('the account review reads in words and ROC time, the events in words, the timeline names the entry', async () => {
      const admin = byRole.get('planning_admin')!;
      const run = await t.db('account_reviews').orderBy('id', 'desc').first('id');
      const review = readable((await admin.agent.get(`/accounts/reviews/${run.id}`)).text);
      expect(review).to.contain('最後登入：從未登入').and.contain('閒置天數上限：90 天');
      const me = await t.db('users').where({ account: accountOf.get('clerk') }).first('id');
      const user = readable((await admin.agent.get(`/accounts/users/${me.id}`)).text);
      expect(user).to.match(/登入\s+成功/);
      const inv = await t.db('investigations').orderBy('id').first('id');
      const ethics = await t.db('investigation_participants').where({ investigation_id: inv.id }).first('user_id');
      const reader = byRole.get('planning_admin')!;
      const page = readable((await reader.agent.get(`/investigations/${inv.id}`)).text);
      if (ethics) expect(page).to.match(/查詢日誌第 \d+ 筆/);
    });

    it('no workbook shows a raw key; downloads are named for people (RFC 5987 and an ASCII fallback)', async () => {
      const planning = byRole.get('planning_admin')!;
      const problems: string[] = [];
      const check = async (what: string, bytes: Buffer) => {
        const found = leaks(await workbookText(bytes), keys, true);
        if (found.length) problems.push(`${what}: ${found.join(', ')}`);
      };
      // The annual workbook of the county, through the API that makes it.
      const made = await asFile(planning.agent.post('/api/v1/reports/annual').set('X-CSRF-Token', planning.csrf).send({ year }));
      expect(made.status, String(made.body)).to.be.oneOf([200, 201]);
      expect(made.headers['content-disposition']).to.contain(`filename*=UTF-8''${encodeURIComponent(`${year - 1911}年度_全縣彙總_報府資料.xlsx`)}`).and.match(/filename="annual-\d{4}-county\.xlsx"/);
      await check('annual', made.body);
      // The same, written directly for one agency.
      const dir = scratch;
      const unit = await t.db('checks').where('period', 'like', `${year}-%`).first('unit_id');
      await writeAnnualWorkbook(t.db, { year, unitId: unit.unit_id, out: path.join(dir, 'a.xlsx'), countyName: '南投縣政府' });
      await check('annual (agency)', fs.readFileSync(path.join(dir, 'a.xlsx')));
      // The query-log export, the monthly sheet, the audit package.
      const q = await getFile(planning.agent, '/query-logs/export.xlsx');
      expect(q.status).to.equal(200);
      expect(q.headers['content-disposition']).to.match(/filename="query-logs-\d{4}-\d{2}-\d{2}\.xlsx"; filename\*=UTF-8''/).and.contain(encodeURIComponent('查詢日誌_'));
      await check('query-log export', q.body);
      const c = await t.db('checks as c').join('units as u', 'u.id', 'c.unit_id').where('c.period', 'like', `${year}-%`).first('c.id', 'c.period', 'u.name');
      const sheet = await getFile(planning.agent, `/checks/${c.id}/sheet.xlsx`);
      expect(sheet.status).to.equal(200);
      expect(sheet.headers['content-disposition']).to.contain(encodeURIComponent(`${year - 1911}年${Number(c.period.slice(5))}月_${c.name}_查詢紀錄單.xlsx`));
      await check('monthly sheet', sheet.body);
      const pkg = await asFile(planning.agent.post('/api/v1/reports/audit-package').set('X-CSRF-Token', planning.csrf).send({ from: `${year}-01-01`, to: localDate(now()) }));
      expect(pkg.status).to.be.oneOf([200, 201]);
      expect(pkg.headers['content-disposition']).to.contain(encodeURIComponent('稽核資料_全縣彙總_'));
      await check('audit package', pkg.body);
      expect(problems).to.deep.equal([]);
      expect(await workbookText(made.body)).to.contain('風險：非上班時間查詢').and.contain('不當').and.contain('請說明');
      expect(await workbookText(q.body)).to.contain('網頁登錄').and.contain('身分證統一編號').and.match(/\n1\d\d\/\d\d\/\d\d\n/);
    });

    it('a witness file downloads under a name in words, with its own name as the ASCII fallback', async () => {
      const dir = t.cfg.WITNESS_DIR;
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'witness-2026-11.jsonl'), '{}\n');
      const res = await getFile(byRole.get('planning_admin')!.agent, '/integrity/witness/witness-2026-11.jsonl');
      expect(res.status).to.equal(200);
      expect(res.headers['content-disposition']).to.equal(`attachment; filename="witness-2026-11.jsonl"; filename*=UTF-8''${encodeURIComponent('日誌見證檔_115年11月.jsonl')}`);
    });

    it('the list of exports shows the agency', async () => {
      const page = readable((await byRole.get('planning_admin')!.agent.get(`/audits/annual?year=${year}`)).text);
      expect(page).to.contain('全縣彙總');
    });
  });
});
