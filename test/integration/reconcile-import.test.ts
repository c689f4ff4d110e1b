// Reconciliation import (issue 16) on both databases: sources and versioned mappings, account
// links, previews, and imports through the page, the API and the command line. Prepared files
// (test/fixtures/reconcile/, made by test/support/reconcile-fixtures.ts): Big5 with ROC compact
// dates, UTF-8 with a BOM, xlsx, full-width digits, an unknown account, a count-only source, and
// each kind of bad input — refused with its row and column named and nothing stored.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import type { Express } from 'express';
import { ENGINE, migratedDb, rowCounts, testConfig, type TestDb } from '../support/db.ts';
import request from 'supertest';
import { appFor, asFile, csrfFromHtml, signIn, type Signed } from '../support/app.ts';
import { cli } from '../support/cli.ts';
import { PASSWORD, makeUser, seedAccountPeople, seedTree, type Tree } from '../support/fixtures.ts';
import { ACCOUNTS, IDS, MAPPINGS, PERIOD, badCheck, fixture } from '../support/reconcile-fixtures.ts';
import { decryptSubject, subjectHmac } from '../../server/queries/subject.ts';
import { sourceRecordAad } from '../../server/reconcile/rules.ts';
import { cellText } from '../../reports/cells.ts';
import { CAPABILITIES } from '../../server/capabilities.ts';
import { seededRandom } from '../../server/cli.ts';
import { monthRange, localMonth, now, previousMonth, startOfLocalDay } from '../../server/time.ts';
import { allUnits, subtreeOf } from '../../server/accounts/units.ts';

const TABLES = ['reconcile_sources', 'reconcile_mappings', 'source_account_links', 'reconcile_imports', 'source_records'];
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const taipei = (day: string, h: number, m: number, s = 0) => startOfLocalDay(day) + ((h * 60 + m) * 60 + s) * 1000;

describe(`reconciliation import (${ENGINE})`, function () {
  this.timeout(120_000);
  let t: TestDb;
  let app: Express;
  let tree: Tree;
  let ids: Record<string, number>;
  const as: Record<string, Signed> = {};
  /** Source ids by name: county (records, Big5), ag1 (AG1's own, UTF-8 header row 2), xlsx, counts, ag2 (AG2's own). */
  const src: Record<string, number> = {};

  const api = (who: string) => as[who];
  const post = (who: string, url: string, body: unknown) => api(who).agent.post(url).set('X-CSRF-Token', api(who).csrf).send(body as object);
  const get = (who: string, url: string) => api(who).agent.get(url).set('Accept', 'application/json');
  /** Multipart upload through the API (CSRF header) of a file with the given fields. */
  const upload = (who: string, url: string, fields: Record<string, string>, file: { name: string; bytes: Buffer } | null) => {
    let r = api(who).agent.post(url).set('X-CSRF-Token', api(who).csrf).set('Accept', 'application/json');
    for (const [k, v] of Object.entries(fields)) r = r.field(k, v);
    if (file) r = r.attach('file', file.bytes, file.name);
    return r;
  };
  const importApi = (who: string, source: string, name: string, opts: { unit?: string; period?: string; bytes?: Buffer } = {}) =>
    upload(who, '/api/v1/reconcile-imports', { source, unit: opts.unit ?? 'AG1', period: opts.period ?? PERIOD }, { name, bytes: opts.bytes ?? fixture(name) });
  const counts = () => rowCounts(t, TABLES);
  /**
   * A multipart POST to the import API over a real socket, as ag1.admin: the body parts are written
   * and, unless `end`, the request is left open (a client still sending). Resolves on the answer.
   */
  async function rawPost(target: Express, headers: Record<string, string>, parts: Buffer[], end: boolean): Promise<{ status: number; body: string }> {
    const login = await request(target).post('/api/v1/auth/login').send({ account: 'ag1.admin', password: PASSWORD });
    const cookie = String(login.headers['set-cookie'][0]).split(';')[0];
    const csrf = (await request(target).get('/api/v1/me').set('Cookie', cookie)).body.csrfToken;
    const server = http.createServer(target);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      return await new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, method: 'POST', path: '/api/v1/reconcile-imports', headers: {
          'Content-Type': 'multipart/form-data; boundary=x-nhi-boundary', 'X-CSRF-Token': csrf, Accept: 'application/json', Cookie: cookie, ...headers,
        } });
        req.on('response', (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', (e) => (/EPIPE|ECONNRESET/.test(String(e)) ? undefined : reject(e)));
        for (const p of parts) req.write(p);
        if (end) req.end();
      });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }

  before(async () => {
    t = await migratedDb({ LOGIN_RATE_PER_MINUTE: '1000' });
    app = appFor(t);
    tree = await seedTree(t.db);
    ids = await seedAccountPeople(t.db, tree);
    ids['ag1.clerk2'] = await makeUser(t.db, { account: 'ag1.clerk2', unitId: tree.AG1U1, roles: ['clerk'], permissions: [['2-1', 'IN01']] });
    for (const a of ['plan.admin', 'ag1.admin', 'u1.admin', 'ag2.admin', 'ag1.clerk', 'ag1.auditor', 'plan.auditor']) as[a] = await signIn(app, a);
  });
  after(() => t.drop());

  // ---------------------------------------------------------------------------------------------
  describe('sources and mappings', () => {
    it('the planning department defines county-wide sources; an agency admin its own agency’s; others are refused', async () => {
      const county = await post('plan.admin', '/api/v1/reconcile-sources', { code: 'NHI-VPN', name: '健保署查詢紀錄', kind: 'records', complete: true });
      expect(county.status, JSON.stringify(county.body)).to.equal(201);
      expect(county.body).to.include({ code: 'NHI-VPN', kind: 'records', complete: true, unit: null, mappingVersion: null, canManage: true });
      src.county = county.body.id;
      const own = await post('ag1.admin', '/api/v1/reconcile-sources', { code: 'AG1-SYS', name: '社會處業務系統日誌', kind: 'records' });
      expect(own.status).to.equal(201);
      expect(own.body, 'an agency admin’s source is its agency’s').to.include({ unit: 'AG1', complete: false });
      src.ag1 = own.body.id;
      for (const [code, kind] of [['AG1-XLSX', 'records'], ['AG1-COUNT', 'counts']] as const) {
        const r = await post('plan.admin', '/api/v1/reconcile-sources', { code, name: `來源 ${code}`, kind, unit: 'AG1' });
        expect(r.status).to.equal(201);
        src[code === 'AG1-XLSX' ? 'xlsx' : 'counts'] = r.body.id;
      }
      src.ag2 = (await post('ag2.admin', '/api/v1/reconcile-sources', { code: 'AG2-SYS', name: '衛生局系統', kind: 'records' })).body.id;
      // Another agency named by an agency admin answers as an unknown one.
      const other = await post('ag1.admin', '/api/v1/reconcile-sources', { code: 'X-1', name: '其他機關', kind: 'records', unit: 'AG2' });
      const unknown = await post('ag1.admin', '/api/v1/reconcile-sources', { code: 'X-2', name: '其他機關', kind: 'records', unit: 'NOPE' });
      expect(other.status).to.equal(400);
      expect(other.body.errors).to.deep.equal(unknown.body.errors);
      expect((await post('u1.admin', '/api/v1/reconcile-sources', { code: 'X-3', name: '轄屬單位', kind: 'records' })).status, 'a subordinate unit’s admin').to.equal(403);
      expect((await post('ag1.clerk', '/api/v1/reconcile-sources', { code: 'X-4', name: '查詢人員', kind: 'records' })).status).to.equal(403);
      const dup = await post('plan.admin', '/api/v1/reconcile-sources', { code: 'NHI-VPN', name: '重複', kind: 'records' });
      expect(dup.status).to.equal(400);
      expect(dup.body.errors[0].field).to.equal('code');
    });

    it('lists county-wide sources and the own agency’s only; another agency’s source is not found', async () => {
      const codes = async (who: string) => (await get(who, '/api/v1/reconcile-sources')).body.items.map((s: any) => s.code).sort();
      expect(await codes('ag1.admin')).to.deep.equal(['AG1-COUNT', 'AG1-SYS', 'AG1-XLSX', 'NHI-VPN']);
      expect(await codes('ag2.admin')).to.deep.equal(['AG2-SYS', 'NHI-VPN']);
      expect(await codes('plan.admin')).to.deep.equal(['AG1-COUNT', 'AG1-SYS', 'AG1-XLSX', 'AG2-SYS', 'NHI-VPN']);
      expect(await codes('ag1.auditor')).to.deep.equal(['AG1-COUNT', 'AG1-SYS', 'AG1-XLSX', 'NHI-VPN']);
      expect((await get('ag2.admin', `/api/v1/reconcile-sources/${src.ag1}`)).status).to.equal(404);
      expect((await get('ag2.admin', '/api/v1/reconcile-sources/987654')).status).to.equal(404);
      expect((await post('ag2.admin', `/api/v1/reconcile-sources/${src.ag1}`, { name: '改名' })).status).to.equal(404);
    });

    it('keeps every mapping version; only the planning department changes a county-wide source’s; a bad mapping names its field', async () => {
      const v1 = await post('plan.admin', `/api/v1/reconcile-sources/${src.county}/mappings`, { ...MAPPINGS.big5, columns: { ...MAPPINGS.big5.columns, opCode: '代號' } });
      expect(v1.status, JSON.stringify(v1.body)).to.equal(201);
      expect(v1.body.version).to.equal(1);
      const v2 = await post('plan.admin', `/api/v1/reconcile-sources/${src.county}/mappings`, MAPPINGS.big5);
      expect(v2.body.version).to.equal(2);
      const detail = await get('ag1.admin', `/api/v1/reconcile-sources/${src.county}`);
      expect(detail.body.mappings.map((m: any) => [m.version, m.columns.opCode, m.encoding, m.dateStyle, m.createdBy])).to.deep.equal([[2, '作業代號', 'big5', 'roc-compact', 'plan.admin'], [1, '代號', 'big5', 'roc-compact', 'plan.admin']]);
      expect(detail.body.canManage).to.equal(false);
      expect((await post('ag1.admin', `/api/v1/reconcile-sources/${src.county}/mappings`, MAPPINGS.big5)).status).to.equal(403);
      const bad = await post('ag1.admin', `/api/v1/reconcile-sources/${src.ag1}/mappings`, { columns: { account: '帳號', date: '日期' }, encoding: 'utf-16', dateStyle: 'roc-slash' });
      expect(bad.status).to.equal(400);
      expect(bad.body.errors.map((e: any) => e.field)).to.include('encoding');
      const noSubject = await post('ag1.admin', `/api/v1/reconcile-sources/${src.ag1}/mappings`, { columns: { account: '帳號', date: '日期' }, dateStyle: 'roc-slash' });
      expect(noSubject.body.errors.map((e: any) => e.field)).to.deep.equal(['columns.subject']);
      expect((await post('ag1.admin', `/api/v1/reconcile-sources/${src.ag1}/mappings`, MAPPINGS.utf8)).status).to.equal(201);
      expect((await post('plan.admin', `/api/v1/reconcile-sources/${src.xlsx}/mappings`, MAPPINGS.xlsx)).status).to.equal(201);
      expect((await post('plan.admin', `/api/v1/reconcile-sources/${src.counts}/mappings`, MAPPINGS.counts)).status).to.equal(201);
      expect((await post('ag2.admin', `/api/v1/reconcile-sources/${src.ag2}/mappings`, MAPPINGS.big5)).status).to.equal(201);
      const events = await t.db('system_events').where({ action: 'reconcile.mapping-created' }).count({ n: '*' }).first();
      expect(Number(events?.n)).to.equal(6);
    });

    it('changes a source’s name and completeness claim, recorded', async () => {
      const r = await post('plan.admin', `/api/v1/reconcile-sources/${src.xlsx}`, { complete: true });
      expect(r.status).to.equal(200);
      expect(r.body.complete).to.equal(true);
      const ev = await t.db('system_events').where({ action: 'reconcile.source-changed' }).orderBy('id', 'desc').first();
      expect(JSON.parse(ev.detail)).to.include({ code: 'AG1-XLSX', complete: true });
      expect((await post('ag1.auditor', `/api/v1/reconcile-sources/${src.xlsx}`, { complete: false })).status, 'an auditor reads, never changes').to.equal(403);
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('account links', () => {
    it('sets each person’s account at a source within the admin’s agency; one per person, one person per account', async () => {
      const set = (who: string, source: number, account: string, sourceAccount: string) => post(who, `/api/v1/reconcile-sources/${source}/links`, { account, sourceAccount });
      const first = await set('ag1.admin', src.county, 'ag1.clerk', 'OLD001');
      expect(first.status, JSON.stringify(first.body)).to.equal(201);
      const again = await set('ag1.admin', src.county, 'ag1.clerk', ACCOUNTS.clerk);
      expect(again.status).to.equal(201);
      const links = (await get('ag1.admin', `/api/v1/reconcile-sources/${src.county}/links`)).body.items;
      expect(links.map((l: any) => [l.account, l.sourceAccount]), 'the earlier link is replaced').to.deep.equal([['ag1.clerk', 'SOC001']]);
      expect((await set('plan.admin', src.county, 'ag1.clerk2', ACCOUNTS.clerk2)).status).to.equal(201);
      for (const s of [src.ag1, src.xlsx, src.counts]) {
        expect((await set('ag1.admin', s, 'ag1.clerk', ACCOUNTS.clerk)).status).to.equal(201);
        expect((await set('ag1.admin', s, 'ag1.clerk2', ACCOUNTS.clerk2)).status).to.equal(201);
      }
      const taken = await set('ag1.admin', src.county, 'u1.clerk', ACCOUNTS.clerk);
      expect(taken.status).to.equal(409);
      expect(taken.body.type).to.match(/link-taken$/);
      // Another agency's person answers as an unknown account; its admin does not see AG1's links.
      const other = await set('ag2.admin', src.county, 'ag1.clerk', 'X1');
      const none = await set('ag2.admin', src.county, 'nobody', 'X1');
      expect(other.status).to.equal(400);
      expect(other.body.errors).to.deep.equal(none.body.errors);
      expect((await get('ag2.admin', `/api/v1/reconcile-sources/${src.county}/links`)).body.items).to.deep.equal([]);
    });

    it('records link changes without the source account in clear, and removes a link', async () => {
      const events = await t.db('system_events').whereIn('action', ['reconcile.link-set', 'reconcile.link-removed']);
      expect(events.length).to.be.greaterThan(3);
      for (const e of events) expect(e.detail).to.not.contain('SOC001').and.not.contain('OLD001');
      const tmp = await post('ag1.admin', `/api/v1/reconcile-sources/${src.county}/links`, { account: 'u1.clerk', sourceAccount: 'TMP9' });
      expect((await post('ag2.admin', `/api/v1/source-account-links/${tmp.body.id}/remove`, {})).status, 'outside reach').to.equal(404);
      expect((await post('ag1.admin', `/api/v1/source-account-links/${tmp.body.id}/remove`, {})).status).to.equal(204);
      expect(await t.db('source_account_links').where({ id: tmp.body.id }).first()).to.equal(undefined);
      expect(await t.db('system_events').where({ action: 'reconcile.link-removed', target_id: String(tmp.body.id) }).first()).to.not.equal(undefined);
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('preview', () => {
    it('shows the first rows as parsed, with a draft mapping, subjects masked; stores nothing', async () => {
      const before = await counts();
      const r = await upload('ag1.admin', `/api/v1/reconcile-sources/${src.county}/preview`, {}, { name: 'x.csv', bytes: fixture('big5-roc-compact.csv') });
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body.errors).to.deep.equal([]);
      expect(r.body.rows.map((x: any) => [x.row, x.account, x.person, x.atText, x.subject, x.opCode])).to.deep.equal([
        [2, 'SOC001', 'ag1.clerk', '115/11/03 09:15', 'A10****010', 'IN01'],
        [3, 'SOC001', 'ag1.clerk', '115/11/03 14:05', 'A10****029', 'IN02'],
        [4, 'SOC002', 'ag1.clerk2', '115/11/15 10:07', 'A10****038', 'IN01'],
        [5, 'ZZ999', null, '115/11/20 15:30', 'A10****047', 'IN01'],
      ]);
      expect(JSON.stringify(r.body)).to.not.contain(IDS.a);
      const draft = await upload('ag1.admin', `/api/v1/reconcile-sources/${src.county}/preview`, { account: '使用者代號', date: '查詢日期', time: '查詢時間', subject: '身分證', dateStyle: 'roc-compact', encoding: 'big5' }, { name: 'x.csv', bytes: fixture('big5-roc-compact.csv') });
      expect(draft.status).to.equal(200);
      expect(draft.body.errors[0]).to.include({ row: 1, column: '身分證' });
      expect(await counts()).to.deep.equal(before);
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('imports', () => {
    let big5Import: number;

    it('imports Big5 with ROC compact dates: file SHA-256, rows, mapping version and importer recorded; subjects HMAC-ed, bound ciphertexts, masks', async () => {
      const bytes = fixture('big5-roc-compact.csv');
      const r = await importApi('plan.admin', 'NHI-VPN', 'big5-roc-compact.csv');
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.headers.location).to.equal(`/api/v1/reconcile-imports/${r.body.id}`);
      expect(r.body).to.include({ source: 'NHI-VPN', unit: 'AG1', period: PERIOD, fileName: 'big5-roc-compact.csv', rows: 4, records: 4, mappingVersion: 2, importedBy: 'plan.admin', via: 'api', unknownAccounts: 1, unknownRecords: 1 });
      expect(r.body.sha256).to.equal(crypto.createHash('sha256').update(bytes).digest('hex'));
      big5Import = r.body.id;
      const imp = await t.db('reconcile_imports').where({ id: big5Import }).first();
      expect(imp).to.include({ file_sha256: r.body.sha256, row_count: 4, period: PERIOD, unit_id: tree.AG1, imported_by: ids['plan.admin'], via: 'api' });
      expect(Number(imp.mapping_id)).to.equal(Number((await t.db('reconcile_mappings').where({ source_id: src.county, version: 2 }).first()).id));
      const recs = await t.db('source_records').where({ import_id: big5Import }).orderBy('row_no');
      expect(recs.map((x: any) => [x.row_no, x.source_account, x.user_id, Number(x.occurred_at), x.op_code, x.subject_type, x.subject_mask, x.count])).to.deep.equal([
        [2, 'SOC001', ids['ag1.clerk'], taipei('2026-11-03', 9, 15), 'IN01', 'national-id', 'A10****010', null],
        [3, 'SOC001', ids['ag1.clerk'], taipei('2026-11-03', 14, 5, 22), 'IN02', 'national-id', 'A10****029', null],
        [4, 'SOC002', ids['ag1.clerk2'], taipei('2026-11-15', 10, 7, 30), 'IN01', 'national-id', 'A10****038', null],
        [5, 'ZZ999', null, taipei('2026-11-20', 15, 30), 'IN01', 'national-id', 'A10****047', null],
      ]);
      const plain = [IDS.a, IDS.b, IDS.c, IDS.d];
      recs.forEach((x: any, i: number) => {
        expect(x.subject_hmac, 'the HMAC the query log gives the same person').to.equal(subjectHmac(t.cfg.SUBJECT_HMAC_KEY, { type: 'national-id', value: plain[i] }));
        expect(decryptSubject([t.cfg.subjectEncKey], x.subject_cipher, sourceRecordAad(x))).to.equal(plain[i]);
      });
      // A ciphertext copied to another record does not open there.
      expect(() => decryptSubject([t.cfg.subjectEncKey], recs[0].subject_cipher, sourceRecordAad(recs[1]))).to.throw(/authenticate/);
      // No identifier in clear anywhere the import wrote.
      const dump = JSON.stringify([recs, imp, await t.db('system_events').where({ action: 'reconcile.import' })]);
      for (const id of plain) expect(dump).to.not.contain(id);
      const ev = await t.db('system_events').where({ action: 'reconcile.import', target_id: String(big5Import) }).first();
      expect(JSON.parse(ev.detail)).to.include({ source: 'NHI-VPN', period: PERIOD, sha256: r.body.sha256, rows: 4, records: 4, mappingVersion: 2, unknownAccounts: 1 });
      expect(Number(ev.unit_id)).to.equal(tree.AG1);
    });

    it('refuses the same file twice for a source, storing nothing', async () => {
      const before = await counts();
      const again = await importApi('ag1.admin', 'NHI-VPN', 'renamed.csv', { bytes: fixture('big5-roc-compact.csv') });
      expect(again.status).to.equal(409);
      expect(again.headers['content-type']).to.match(/application\/problem\+json/);
      expect(again.body.type).to.match(/duplicate-import$/);
      expect(again.body.detail).to.contain(`第 ${big5Import} 號`);
      expect(await counts()).to.deep.equal(before);
    });

    it('imports UTF-8 with a BOM (a title line above the header) through the page', async () => {
      const page = await as['ag1.admin'].agent.get('/reconcile/imports');
      expect(page.status).to.equal(200);
      const csrf = csrfFromHtml(page.text);
      const r = await as['ag1.admin'].agent.post('/reconcile/imports').field('_csrf', csrf).field('source', 'AG1-SYS').field('unit', 'AG1').field('period', '115/11')
        .attach('file', fixture('utf8-bom.csv'), '社會處業務系統-115年11月.csv').redirects(0);
      expect(r.status, r.text.slice(0, 500)).to.equal(303);
      const id = Number(/\/reconcile\/imports\/(\d+)$/.exec(r.headers.location)![1]);
      const detail = await as['ag1.admin'].agent.get(r.headers.location);
      expect(detail.text).to.contain('社會處業務系統-115年11月.csv').and.contain('民國 115 年 11 月').and.contain('A10****010');
      expect(detail.text).to.not.contain(IDS.a);
      const recs = await t.db('source_records').where({ import_id: id }).orderBy('row_no');
      expect(recs.map((x: any) => [x.row_no, x.user_id, Number(x.occurred_at)])).to.deep.equal([[3, ids['ag1.clerk'], taipei('2026-11-04', 8, 30, 5)], [4, ids['ag1.clerk2'], taipei('2026-11-05', 16, 45)]]);
      expect(await t.db('reconcile_imports').where({ id }).first()).to.include({ via: 'web', file_name: '社會處業務系統-115年11月.csv', imported_by: ids['ag1.admin'] });
    });

    it('imports an xlsx: real date-time cells read as Taipei wall-clock time', async () => {
      const r = await importApi('ag1.admin', 'AG1-XLSX', 'records.xlsx');
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      const recs = await t.db('source_records').where({ import_id: r.body.id }).orderBy('row_no');
      expect(recs.map((x: any) => Number(x.occurred_at))).to.deep.equal([taipei('2026-11-09', 11, 2, 3), taipei('2026-11-10', 15, 30), taipei('2026-11-11', 8, 5)]);
      expect(recs.map((x: any) => x.op_code)).to.deep.equal(['IN01', 'AD01', 'IN01']);
    });

    it('imports full-width digits and letters as their ASCII forms (the same HMAC)', async () => {
      // The same mapping as AG1-SYS but with the header on row 1.
      const s = (await post('ag1.admin', '/api/v1/reconcile-sources', { code: 'AG1-FW', name: '全形來源', kind: 'records' })).body.id;
      await post('ag1.admin', `/api/v1/reconcile-sources/${s}/mappings`, { ...MAPPINGS.utf8, headerRow: 1 });
      await post('ag1.admin', `/api/v1/reconcile-sources/${s}/links`, { account: 'ag1.clerk', sourceAccount: 'SOC001' });
      const r = await importApi('ag1.admin', 'AG1-FW', 'fullwidth.csv');
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      const rec = await t.db('source_records').where({ import_id: r.body.id }).first();
      expect(rec).to.include({ source_account: 'SOC001', user_id: ids['ag1.clerk'], subject_hmac: subjectHmac(t.cfg.SUBJECT_HMAC_KEY, { type: 'national-id', value: IDS.c }) });
      expect(Number(rec.occurred_at)).to.equal(taipei('2026-11-06', 10, 20, 30));
    });

    it('imports a count-only source: one record per account and day, its total, at the day’s start, no subject', async () => {
      const r = await importApi('ag1.admin', 'AG1-COUNT', 'counts.csv');
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(r.body).to.include({ rows: 4, records: 3, counted: 1226, unknownAccounts: 1, kind: 'counts' });
      const recs = await t.db('source_records').where({ import_id: r.body.id }).orderBy('row_no');
      expect(recs.map((x: any) => [x.source_account, x.user_id, Number(x.occurred_at), x.count, x.subject_hmac, x.subject_cipher])).to.deep.equal([
        ['SOC001', ids['ag1.clerk'], startOfLocalDay('2026-11-03'), 15, null, null],
        ['SOC001', ids['ag1.clerk'], startOfLocalDay('2026-11-04'), 7, null, null],
        ['ZZ999', null, startOfLocalDay('2026-11-05'), 1204, null, null],
      ]);
    });

    it('lists and shows imports within reach only; another agency’s import is not found', async () => {
      const mine = (await get('ag1.admin', '/api/v1/reconcile-imports')).body;
      expect(mine.total).to.equal(5);
      expect(mine.items.every((i: any) => i.unit === 'AG1')).to.equal(true);
      expect((await get('ag1.auditor', `/api/v1/reconcile-imports/${big5Import}`)).body).to.include({ id: big5Import, records: 4, unknownAccounts: 1 });
      expect((await get('ag2.admin', '/api/v1/reconcile-imports')).body.total).to.equal(0);
      expect((await get('ag2.admin', '/api/v1/reconcile-imports?unit=AG1')).body.total).to.equal(0);
      expect((await get('ag2.admin', `/api/v1/reconcile-imports/${big5Import}`)).status).to.equal(404);
      expect((await get('plan.auditor', '/api/v1/reconcile-imports?unit=AG1&period=2026-11')).body.total).to.equal(5);
      expect((await get('ag1.admin', '/api/v1/reconcile-imports?period=115/11&source=NHI-VPN')).body.total).to.equal(1);
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('bad input: refused whole, row and column named, nothing stored', () => {
    /** Imports and returns the answer, checking nothing was stored. */
    async function refused(who: string, source: string, name: string, opts: { unit?: string; period?: string; bytes?: Buffer } = {}) {
      const before = await counts();
      const r = await importApi(who, source, name, opts);
      expect(r.status, JSON.stringify(r.body)).to.be.within(400, 499);
      expect(r.headers['content-type']).to.match(/application\/problem\+json/);
      expect(await counts(), `${name}: nothing stored`).to.deep.equal(before);
      return r;
    }
    const cells = (r: any) => r.body.errors.map((e: any) => [e.row, e.column]);

    it('a file in the wrong encoding, either way', async () => {
      const asUtf8 = await refused('ag1.admin', 'AG1-SYS', 'big5-roc-compact.csv');
      expect(asUtf8.body.type).to.match(/import-refused$/);
      expect(asUtf8.body.errors[0]).to.include({ field: 'file', row: 1, column: '第 1 欄（A）' });
      expect(asUtf8.body.errors[0].message).to.match(/^第 1 列「第 1 欄（A）」欄：不是有效的 UTF-8/);
      const asBig5 = await refused('ag1.admin', 'NHI-VPN', 'utf8-bom.csv');
      expect(asBig5.body.errors).to.have.length(1);
      expect(asBig5.body.errors[0].row).to.equal(1);
      expect(asBig5.body.errors[0].reason).to.contain('UTF-8 編碼');
    });

    it('a mapping that names a missing column', async () => {
      const r = await refused('ag1.admin', 'NHI-VPN', 'missing-column.csv');
      expect(cells(r)).to.deep.equal([[1, '身分證號']]);
      expect(r.body.errors[0].reason).to.contain('找不到「身分證號」欄');
    });

    it('dates that do not parse or fall outside the period, and a time that does not', async () => {
      const r = await refused('ag1.admin', 'NHI-VPN', 'bad-dates.csv');
      expect(cells(r)).to.deep.equal([[3, '查詢日期'], [4, '查詢日期'], [5, '查詢時間']]);
      expect(r.body.errors[1].reason).to.contain('不在匯入期間');
    });

    it('an ID with a bad checksum (the value never echoed)', async () => {
      const r = await refused('ag1.admin', 'NHI-VPN', 'bad-checksum.csv');
      expect(cells(r)).to.deep.equal([[3, '身分證號']]);
      expect(r.body.errors[0].reason).to.contain('檢查碼');
      expect(r.text).to.not.contain(badCheck(IDS.b)).and.not.contain(IDS.a);
    });

    it('an empty file', async () => {
      const r = await refused('ag1.admin', 'NHI-VPN', 'empty.csv');
      expect(r.body.errors[0].reason).to.contain('空的');
    });

    it('a formula in a cell (CSV text and a real xlsx formula); a plain negative number is not one', async () => {
      const r = await refused('ag1.admin', 'NHI-VPN', 'formula.csv');
      expect(cells(r)).to.deep.equal([[2, '作業代號'], [3, '使用者代號']]);
      const x = await refused('ag1.admin', 'AG1-XLSX', 'formula.xlsx');
      expect(cells(x)).to.deep.equal([[2, '作業代號']]);
    });

    it('a period in the future; another agency’s unit answers as an unknown one; a subordinate unit is not an agency', async () => {
      const future = await refused('ag1.admin', 'NHI-VPN', 'big5-roc-compact.csv', { period: '2099-01', bytes: Buffer.from('x') });
      expect(future.body.errors.map((e: any) => e.field)).to.deep.equal(['period']);
      const other = await refused('ag1.admin', 'NHI-VPN', 'big5-roc-compact.csv', { unit: 'AG2', bytes: Buffer.from('x') });
      const unknown = await refused('ag1.admin', 'NHI-VPN', 'big5-roc-compact.csv', { unit: 'NOPE', bytes: Buffer.from('x') });
      expect(other.status).to.equal(unknown.status);
      expect(other.body.errors).to.deep.equal(unknown.body.errors);
      expect(other.body.errors[0].field).to.equal('unit');
      const sub = await refused('ag1.admin', 'NHI-VPN', 'big5-roc-compact.csv', { unit: 'AG1-U1', bytes: Buffer.from('x') });
      expect(sub.body.errors[0].message).to.contain('業務機關');
      // Another agency's own source answers as an unknown one too.
      const theirs = await refused('ag1.admin', 'AG2-SYS', 'big5-roc-compact.csv', { bytes: Buffer.from('x') });
      const none = await refused('ag1.admin', 'NOPE', 'big5-roc-compact.csv', { bytes: Buffer.from('x') });
      expect(theirs.body.errors).to.deep.equal(none.body.errors);
      expect((await refused('u1.admin', 'NHI-VPN', 'big5-roc-compact.csv')).body.errors[0].field, 'a subordinate unit’s admin imports for no agency').to.equal('unit');
      expect((await importApi('ag1.clerk', 'NHI-VPN', 'big5-roc-compact.csv')).status).to.equal(403);
    });

    it('a file over the size limit: refused at its declared length before the body is read, and when a body without one passes it', async () => {
      // 200 MB announced; only the form fields and 64 kB sent, and the request never ends: the answer comes all the same.
      const boundary = 'x-nhi-boundary';
      const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="source"\r\n\r\nNHI-VPN\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.csv"\r\nContent-Type: text/csv\r\n\r\n`);
      const declared = await rawPost(app, { 'Content-Length': String(200 * 1048576) }, [head, Buffer.alloc(64 * 1024, 0x41)], false);
      expect(declared.status).to.equal(413);
      expect(JSON.parse(declared.body).type).to.match(/file-too-large$/);
      // Chunked, no length to go by: refused when the limit (1 MB here) is reached, the rest unsent.
      const small = appFor({ ...t, cfg: testConfig(t.env, { RECONCILE_MAX_FILE_MB: '1' }) });
      const before = await counts();
      const chunked = await rawPost(small, { 'Transfer-Encoding': 'chunked' }, [head, ...Array.from({ length: 24 }, () => Buffer.alloc(64 * 1024, 0x41))], false);
      expect(chunked.status).to.equal(413);
      expect(JSON.parse(chunked.body).detail).to.contain('1 MB');
      expect(await counts()).to.deep.equal(before);
    });

    it('the page re-shows the form with every row, column and reason, and the report downloads as an inert workbook without identifiers', async () => {
      const page = await as['ag1.admin'].agent.get('/reconcile/imports');
      const csrf = csrfFromHtml(page.text);
      const before = await counts();
      const r = await as['ag1.admin'].agent.post('/reconcile/imports').field('_csrf', csrf).field('source', 'NHI-VPN').field('unit', 'AG1').field('period', '115/11')
        .attach('file', fixture('bad-dates.csv'), 'bad-dates.csv').redirects(0);
      expect(r.status).to.equal(400);
      expect(r.text).to.contain('未匯入：檔案有 3 處錯誤').and.contain('<td>3</td><td>查詢日期</td>').and.contain('<td>5</td><td>查詢時間</td>').and.contain('/reconcile/imports/report.xlsx');
      expect(await counts()).to.deep.equal(before);
      const noFile = await as['ag1.admin'].agent.post('/reconcile/imports').type('form').send({ _csrf: csrf, source: 'NHI-VPN', unit: 'AG1', period: '115/11' });
      expect(noFile.status).to.equal(400);
      expect(noFile.text).to.contain('請選擇要匯入的檔案');
      // The API's refusal names the same workbook; it holds the last refusal of the session.
      const bad = await importApi('ag1.admin', 'NHI-VPN', 'formula.csv');
      expect(bad.body.report).to.equal('/reconcile/imports/report.xlsx');
      const file = await asFile(as['ag1.admin'].agent.get(bad.body.report));
      expect(file.status).to.equal(200);
      expect(file.headers['content-type']).to.equal(XLSX);
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.load(file.body as any);
      const ws = wb.getWorksheet('匯入錯誤')!;
      const rows: string[][] = [];
      ws.eachRow((row) => rows.push([1, 2, 3].map((c) => cellText(row.getCell(c).value))));
      expect(rows.map((x) => x.slice(0, 2))).to.deep.equal([['列', '欄'], ['2', '作業代號'], ['3', '使用者代號']]);
      ws.eachRow((row) => row.eachCell((c) => expect(c.type).to.not.equal(ExcelJS.ValueType.Formula)));
      expect(cellText(wb.getWorksheet('說明')!.getRow(1).getCell(2).value)).to.equal('formula.csv');
      const all: string[] = [];
      wb.eachSheet((sheet) => sheet.eachRow((row) => row.eachCell((c) => void all.push(cellText(c.value)))));
      expect(all.join('\n'), 'no refused value, no identifier').to.not.contain('HYPERLINK').and.not.contain('SUM(A1)').and.not.contain(IDS.a);
      expect((await asFile(as['ag2.admin'].agent.get(bad.body.report))).status, 'another session has none').to.equal(404);
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('command line', () => {
    let dir: string;
    before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-reconcile-'))));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const run = (...args: string[]) => cli(['reconcile', 'import', ...args], t.env);

    it('imports a file (--json), then refuses it again with exit 3', async () => {
      const file = path.join(dir, 'ag1-nov.csv');
      // The same rows as the Big5 fixture, but one more: a different file.
      fs.writeFileSync(file, Buffer.concat([fixture('big5-roc-compact.csv'), Buffer.from('SOC001,1151121,08:00,' + IDS.a + ',IN01\r\n')]));
      // One live import per source, agency and month: while the page's import stands, this file is refused (exit 3) …
      const live = await run('--source', 'NHI-VPN', '--unit', 'AG1', '--period', PERIOD, '--file', file);
      expect(live.code).to.equal(3);
      expect(live.stderr).to.contain('撤回');
      // … and taken once it is withdrawn (test/integration/reconcile-withdraw.test.ts tests withdrawal itself).
      const src = await t.db('reconcile_sources').where({ code: 'NHI-VPN' }).first('id');
      for (const id of await t.db('reconcile_imports').where({ source_id: src.id, unit_id: tree.AG1, period: PERIOD }).whereNull('withdrawn_at').pluck('id')) {
        const w = await cli(['reconcile', 'withdraw', '--import', String(id), '--reason', '測試：改以命令列匯入更正後的檔案'], t.env);
        expect(w.code, w.stderr).to.equal(0);
      }
      const r = await run('--source', 'NHI-VPN', '--unit', 'AG1', '--period', PERIOD, '--file', file, '--json');
      expect(r.code, r.stderr).to.equal(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(out).to.include({ source: 'NHI-VPN', unit: 'AG1', rows: 5, records: 5, via: 'cli', importedBy: null, fileName: 'ag1-nov.csv' });
      expect((await t.db('reconcile_imports').where({ id: out.id }).first()).imported_by).to.equal(null);
      const again = await run('--source', 'NHI-VPN', '--unit', 'AG1', '--period', PERIOD, '--file', file);
      expect(again.code).to.equal(3);
      expect(again.stderr).to.contain('已匯入過');
    });

    it('exit 1 for a refused file, each row and column on stderr, and --report writes the workbook; exit 2 for bad arguments', async () => {
      const file = path.join(dir, 'bad.csv');
      fs.writeFileSync(file, fixture('bad-checksum.csv'));
      const report = path.join(dir, 'errors.xlsx');
      const r = await run('--source', 'NHI-VPN', '--unit', 'AG1', '--period', PERIOD, '--file', file, '--report', report);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain('第 3 列「身分證號」欄');
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.readFile(report);
      expect(cellText(wb.getWorksheet('匯入錯誤')!.getRow(2).getCell(2).value)).to.equal('身分證號');
      const json = await run('--source', 'NHI-VPN', '--unit', 'AG1', '--period', PERIOD, '--file', file, '--json');
      expect(json.code).to.equal(1);
      expect(JSON.parse(json.stdout.trim()).errors[0]).to.include({ row: 3, column: '身分證號' });
      expect((await run('--source', 'NHI-VPN', '--unit', 'NOPE', '--period', PERIOD, '--file', file)).code).to.equal(2);
      expect((await run('--source', 'NHI-VPN', '--unit', 'AG1', '--period', '2099-01', '--file', file)).code).to.equal(2);
      expect((await run('--source', 'NHI-VPN', '--unit', 'AG1', '--period', PERIOD)).code).to.equal(2);
    });

    it('a 200 MB file is refused from its size, before it is read', async () => {
      const file = path.join(dir, 'huge.csv');
      const fd = fs.openSync(file, 'w');
      fs.ftruncateSync(fd, 200 * 1048576); // sparse: takes no disk, and is never read
      fs.closeSync(fd);
      const before = await counts();
      const r = await run('--source', 'NHI-VPN', '--unit', 'AG1', '--period', PERIOD, '--file', file, '--json');
      expect(r.code).to.equal(1);
      expect(JSON.parse(r.stdout.trim())).to.include({ status: 413 });
      expect(await counts()).to.deep.equal(before);
    });
  });
});

describe(`reconciliation demo data (${ENGINE})`, function () {
  this.timeout(600_000);
  let t: TestDb;
  before(async () => {
    t = await migratedDb();
    const random = seededRandom(20260101);
    for (const c of CAPABILITIES) if (c.seedDemo) await c.seedDemo({ cfg: t.cfg, db: t.db }, { password: 'Demo-Passw0rd-2026', random });
  });
  after(() => t.drop());

  it('has a source, its mapping, every demo clerk’s account at it and last month of SOC imported: each record an entry’s, and two queries never logged', async () => {
    const source = await t.db('reconcile_sources').where({ code: 'NHI-VPN' }).first();
    expect(source).to.include({ kind: 'records', unit_id: null });
    expect(await t.db('reconcile_mappings').where({ source_id: source.id }).pluck('version')).to.deep.equal([1]);
    const clerks = await t.db('users as u').join('user_roles as r', 'r.user_id', 'u.id').where('r.role', 'clerk').andWhere('u.account', 'like', '%.clerk%').pluck('u.id');
    const linked = await t.db('source_account_links').where({ source_id: source.id }).pluck('user_id');
    expect(linked.map(Number).sort()).to.deep.equal(clerks.map(Number).sort());
    const imports = await t.db('reconcile_imports').where({ source_id: source.id });
    expect(imports).to.have.length(1);
    const period = previousMonth(localMonth(now()));
    const units = await allUnits(t.db);
    const soc = units.find((u) => u.code === 'SOC')!;
    expect(imports[0]).to.include({ unit_id: soc.id, period, via: 'demo' });
    const [from, to] = monthRange(period);
    const entries = await t.db('query_logs').whereIn('unit_id', subtreeOf(units, soc.id)).where('queried_at', '>=', from).where('queried_at', '<', to).select('id', 'user_id', 'queried_at', 'subject_hmac');
    const records = await t.db('source_records').where({ import_id: imports[0].id }).select('user_id', 'occurred_at', 'subject_hmac');
    expect(records.every((r: any) => r.user_id != null), 'every account is linked').to.equal(true);
    const matches = (r: any) => entries.some((e: any) => Number(e.user_id) === Number(r.user_id) && e.subject_hmac === r.subject_hmac && Math.abs(Number(e.queried_at) - Number(r.occurred_at)) <= 30 * 60_000);
    const unlogged = records.filter((r: any) => !matches(r));
    expect(unlogged.length).to.equal(2);
    expect(records.length).to.be.greaterThan(20);
    expect(Number((await t.db('system_events').where({ action: 'reconcile.import' }).count({ n: '*' }).first())?.n)).to.equal(1);
  });
});
