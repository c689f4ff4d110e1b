// Input at the boundary (issue 13, "Input"): hostile but valid text round-trips byte for byte
// through every text field of recording, over the API and the page, and the chain still verifies;
// text that is not well-formed Unicode, control characters and bidirectional overrides are refused
// naming the field, with nothing stored, in every field (the boundary check as the backstop);
// full-width IDs record under the same HMAC as half-width ones; deeply nested JSON is refused
// before it is parsed.
import { expect } from 'chai';
import request from 'supertest';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, csrfFromHtml, signIn, type Signed } from '../support/app.ts';
import { makeApprovedRequest, makeUser, seedTree, type Tree } from '../support/fixtures.ts';
import { cli } from '../support/cli.ts';
import { appendEntries, verifyChain } from '../../server/queries/chain.ts';
import { normalise, openEntrySubject, subjectHmac, type SubjectType } from '../../server/queries/subject.ts';

/** Valid text that has broken systems before; each must come back exactly as sent. */
const VALID: Array<[string, string]> = [
  ['CJK', '臺灣南投縣政府社會處'],
  ['astral and emoji', '𠮷野家 👨‍👩‍👧‍👦 🏥'],
  ['combining marks', 'Z\u0351\u0362a\u0315\u0337l\u0346g\u0311o'],
  ['quotes', `'"\`「」『』«»`],
  ['script', '<script>alert(1)</script>'],
  ['formula', '=HYPERLINK("http://evil.example","點我")'],
  ['U+FFFD typed on purpose', '替換字元\uFFFD保留'],
  ['NFC', 'caf\u00e9 Gr\u00fc\u00dfe'],
  ['NFD', 'cafe\u0301 Gru\u0308\u00dfe'],
  ['right-to-left letters', 'שלום مرحبا'],
  ['joiners and marks', 'a\u200db\u200cc\u200ed\u200fe'],
];
/** Text refused in every field: not well-formed, control characters, bidirectional overrides. */
const INVALID: Array<[string, string]> = [
  ['lone high surrogate', 'a\uD800b'],
  ['lone low surrogate', 'a\uDC00b'],
  ['U+0000', 'a\u0000b'],
  ['U+0007', 'a\u0007b'],
  ['U+202E', 'a\u202Eb'],
  ['U+2066', 'a\u2066b'],
];

describe(`input at the boundary (${ENGINE})`, function () {
  this.timeout(180_000);
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  let clerk: Signed;
  let clerkId: number;
  let form: number;
  const count = async () => Number((await t.db('query_logs').count({ n: '*' }))[0].n);

  before(async () => {
    t = await migratedDb({ LOGIN_RATE_PER_MINUTE: '1000' });
    tree = await seedTree(t.db);
    app = appFor(t);
    clerkId = await makeUser(t.db, { account: 'ag1.clerk', unitId: tree.AG1, roles: ['clerk'], permissions: [['2-1', 'IN01']] });
    await makeUser(t.db, { account: 'ag1.sup', unitId: tree.AG1, roles: ['supervisor'], rank: 'section_chief' });
    form = await makeApprovedRequest(t.db, { userId: clerkId, unitId: tree.AG1, scope: '2-1' });
    clerk = await signIn(app, 'ag1.clerk');
  });
  after(() => t.drop());

  const entry = (caseNo: string, reason: string, subject: { type: SubjectType; value: string }) => ({ caseNo, reason, opCode: 'IN01', scope: '2-1', queryRequestId: form, subject });
  const api = (body: object) => clerk.agent.post('/api/v1/query-logs').set('X-CSRF-Token', clerk.csrf).send(body);
  const page = async (e: ReturnType<typeof entry>) => {
    const csrf = csrfFromHtml((await clerk.agent.get('/query-logs/new')).text);
    return clerk.agent.post('/query-logs/new').type('form').redirects(0)
      .send({ _csrf: csrf, caseNo: e.caseNo, reason: e.reason, opCode: e.opCode, scope: e.scope, queryRequestId: String(e.queryRequestId), subjectType: e.subject.type, subjectValue: e.subject.value });
  };
  const lastId = async () => Number((await t.db('query_logs').where({ user_id: clerkId }).max({ m: 'id' }))[0].m);

  describe('hostile but valid text', () => {
    const sent: Array<{ id: number; e: ReturnType<typeof entry>; via: string }> = [];

    it('records every such text in every field (case number, reason, subject of type other and name-birthdate) over the API and the page', async () => {
      const cases: Array<[string, ReturnType<typeof entry>]> = [];
      for (const [label, x] of VALID) {
        cases.push([`${label} / other`, entry(`C-${x}`, `訪視確認 ${x}`, { type: 'other', value: `戶號 ${x}` })]);
        cases.push([`${label} / name-birthdate`, entry(`D-${x}`, `訪視確認 ${x}`, { type: 'name-birthdate', value: `${x} 1980-05-06` })]);
      }
      // As long as each field allows (code points; BMP so the UTF-16 limits agree).
      cases.push(['longest', entry(`L${'案'.repeat(63)}`, `訪視${'查'.repeat(498)}`, { type: 'other', value: `戶${'號'.repeat(199)}` })]);
      cases.push(['multi-line reason', entry('M-1', '第一行說明\n第二行\t補充', { type: 'name-birthdate', value: `${'名'.repeat(50)} 1980-05-06` })]);
      for (const [label, e] of cases) {
        const a = await api(e);
        expect(a.status, `API ${label}: ${a.text}`).to.equal(201);
        sent.push({ id: a.body.id, e, via: `API ${label}` });
        const p = await page(e);
        expect(p.status, `page ${label}: ${p.text.slice(0, 300)}`).to.equal(303);
        sent.push({ id: await lastId(), e, via: `page ${label}` });
      }
    });

    it('reads each back byte for byte (GET /api/v1/query-logs/:id and the stored subject), and verify-log passes', async () => {
      expect(sent.length).to.be.greaterThan(2 * VALID.length);
      for (const s of sent) {
        const got = await clerk.agent.get(`/api/v1/query-logs/${s.id}`);
        expect(got.status, s.via).to.equal(200);
        expect(got.body.caseNo, s.via).to.equal(s.e.caseNo);
        expect(got.body.reason, s.via).to.equal(s.e.reason);
        const row = await t.db('query_logs').where({ id: s.id }).first('case_no', 'reason', 'subject_cipher', 'subject_hmac', 'subject_type', 'user_id', 'queried_at');
        expect(Buffer.from(row.case_no).equals(Buffer.from(s.e.caseNo)), s.via).to.equal(true);
        expect(Buffer.from(row.reason).equals(Buffer.from(s.e.reason)), s.via).to.equal(true);
        // The subject is kept in its documented normal form (NFC, whitespace collapsed).
        expect(openEntrySubject([t.cfg.subjectEncKey], row), s.via).to.equal(normalise(s.e.subject));
        expect(row.subject_hmac, s.via).to.equal(subjectHmac(t.cfg.SUBJECT_HMAC_KEY, s.e.subject));
      }
      // NFC and NFD are different texts, each kept as typed.
      const nfc = sent.find((s) => s.via === 'API NFC / other')!;
      const nfd = sent.find((s) => s.via === 'API NFD / other')!;
      expect((await clerk.agent.get(`/api/v1/query-logs/${nfc.id}`)).body.reason).not.to.equal((await clerk.agent.get(`/api/v1/query-logs/${nfd.id}`)).body.reason);
      const v = await verifyChain(t.db);
      expect(v, JSON.stringify(v)).to.include({ ok: true, count: await count() });
      const r = await cli(['verify-log'], t.env);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
    });
  });

  describe('text that cannot be accepted', () => {
    const fields = (x: string): Array<[string, ReturnType<typeof entry>, string]> => [
      ['caseNo', entry(`C-${x}`, '訪視確認投保狀態', { type: 'other', value: '戶號 123' }), 'caseNo'],
      ['reason', entry('C-1', `訪視確認 ${x}`, { type: 'other', value: '戶號 123' }), 'reason'],
      ['subject (other)', entry('C-1', '訪視確認投保狀態', { type: 'other', value: `戶號 ${x}` }), 'subject.value'],
      ['subject (name-birthdate)', entry('C-1', '訪視確認投保狀態', { type: 'name-birthdate', value: `王${x}明 1980-05-06` }), 'subject.value'],
    ];

    it('is refused over the API naming the field, and nothing is stored', async () => {
      for (const [label, x] of INVALID) {
        for (const [name, e, field] of fields(x)) {
          const before = await count();
          const res = await api(e);
          expect(res.status, `${label} in ${name}: ${res.text}`).to.equal(400);
          expect(res.headers['content-type']).to.contain('application/problem+json');
          expect(res.body.errors.map((f: { field: string }) => f.field), `${label} in ${name}`).to.include(field);
          expect(await count(), `${label} in ${name}: nothing stored`).to.equal(before);
        }
        const batch = await api({ entries: [entry('B-1', '訪視確認投保狀態', { type: 'other', value: '戶號 1' }), entry('B-2', `訪視確認 ${x}`, { type: 'other', value: '戶號 2' })] });
        expect(batch.status, label).to.equal(400);
        expect(batch.body.errors.map((f: { field: string }) => f.field)).to.include('entries.1.reason');
      }
      expect((await verifyChain(t.db)).ok).to.equal(true);
    });

    it('is refused on the recording page with the message beside the field, and nothing is stored', async () => {
      // A form cannot carry a lone surrogate (browsers send U+FFFD): the control and bidi characters.
      const ids: Record<string, string> = { caseNo: 'f-caseNo-error', reason: 'f-reason-error', 'subject.value': 'f-subjectValue-error' };
      for (const [label, x] of INVALID.slice(2)) {
        for (const [name, e, field] of fields(x)) {
          const before = await count();
          const res = await page(e);
          expect(res.status, `${label} in ${name}`).to.equal(400);
          expect(res.text, `${label} in ${name}`).to.contain(`id="${ids[field]}"`);
          expect(res.text).to.match(/控制字元|文字方向/);
          expect(await count(), `${label} in ${name}: nothing stored`).to.equal(before);
        }
      }
    });

    it('is refused in every other field too: query strings, request-form decisions over the API and the page, object keys', async () => {
      const q = await clerk.agent.get(`/api/v1/query-logs?caseNo=${encodeURIComponent('a\u202Eb')}`);
      expect(q.status).to.equal(400);
      expect(q.body.errors[0].field).to.equal('caseNo');
      const pending = await makeApprovedRequest(t.db, { userId: clerkId, unitId: tree.AG1, status: 'pending' });
      const sup = await signIn(app, 'ag1.sup');
      const viaApi = await sup.agent.post(`/api/v1/query-requests/${pending}/decision`).set('X-CSRF-Token', sup.csrf).send({ decision: 'reject', note: '資料不全\u202E請補件' });
      expect(viaApi.status).to.equal(400);
      expect(viaApi.body.errors).to.deep.equal([{ field: 'note', message: '含有改變文字方向的控制字元（U+202A–202E、U+2066–2069）' }]);
      const inbox = await sup.agent.get('/query-requests/inbox');
      const viaPage = await sup.agent.post(`/query-requests/${pending}/decision`).type('form').send({ _csrf: csrfFromHtml(inbox.text), decision: 'reject', note: '資料不全\u0007請補件' });
      expect(viaPage.status).to.equal(400);
      expect(viaPage.headers['content-type']).to.contain('text/html');
      expect(viaPage.text).to.contain('note').and.contain('含有不可用的控制字元');
      expect((await t.db('query_requests').where({ id: pending }).first('status')).status, 'still undecided').to.equal('pending');
      const key = await api({ ['case\u202ENo']: 'x' });
      expect(key.status).to.equal(400);
      expect(key.body.errors[0].message).to.contain('欄位名稱');
    });

    it('never reaches the chain: an append of text that is not well-formed is refused whole, and the chain still verifies', async () => {
      const before = await count();
      const good = { user_id: clerkId, account: 'ag1.clerk', unit_id: tree.AG1, queried_at: Date.now(), op_code: 'IN01', scope_code: '2-1', query_request_id: null, case_no: 'G-1', reason: '訪視確認投保狀態',
        subject_type: 'other', subject_hmac: 'h'.repeat(64), subject_cipher: 'c', subject_mask: '戶號**', client_ip: null, source: 'web', token_id: null };
      let refused: unknown = null;
      await appendEntries(t.db, [good, { ...good, reason: '訪視確認\uD800投保' }]).catch((e) => (refused = e));
      expect(String(refused)).to.contain('reason');
      expect(await count()).to.equal(before);
      expect((await verifyChain(t.db)).ok).to.equal(true);
    });
  });

  describe('full-width identifiers', () => {
    it('record under the same HMAC, ciphertext and mask as the half-width ID; a bad one is refused saying why', async () => {
      const hmac = subjectHmac(t.cfg.SUBJECT_HMAC_KEY, { type: 'national-id', value: 'A123456789' });
      const ids: number[] = [];
      for (const value of ['Ａ１２３４５６７８９', 'ａ１２３４５６７８９', 'A123456789', '　Ａ１２３４５６７８９　']) {
        const res = await api(entry('FW-1', '訪視確認投保狀態', { type: 'national-id', value }));
        expect(res.status, `${value}: ${res.text}`).to.equal(201);
        ids.push(res.body.id);
      }
      const page1 = await page(entry('FW-2', '訪視確認投保狀態', { type: 'national-id', value: 'Ａ１２３４５６７８９' }));
      expect(page1.status).to.equal(303);
      ids.push(await lastId());
      const rc = await api(entry('FW-3', '訪視確認投保狀態', { type: 'resident-certificate', value: 'Ａ８００００００１４' }));
      expect(rc.status, rc.text).to.equal(201);
      for (const id of ids) {
        const row = await t.db('query_logs').where({ id }).first('subject_hmac', 'subject_mask', 'subject_cipher', 'subject_type', 'user_id', 'queried_at');
        expect(row.subject_hmac).to.equal(hmac);
        expect(row.subject_mask).to.equal('A12****789');
        expect(openEntrySubject([t.cfg.subjectEncKey], row)).to.equal('A123456789');
      }
      const checksum = await api(entry('FW-4', '訪視確認投保狀態', { type: 'national-id', value: 'Ａ１２３４５６７８８' }));
      expect(checksum.status).to.equal(400);
      expect(checksum.body.errors).to.deep.equal([{ field: 'subject.value', message: '身分證統一編號的檢查碼不符，請核對是否打錯' }]);
      const short = await api(entry('FW-5', '訪視確認投保狀態', { type: 'national-id', value: 'Ａ１２３４' }));
      expect(short.body.errors[0].message).to.contain('1 個英文字母加 9 位數字');
      expect((await verifyChain(t.db)).ok).to.equal(true);
    });
  });

  describe('nesting depth of JSON bodies', () => {
    const nest = (depth: number, inner = '1') => '{"caseNo":'.repeat(depth) + inner + '}'.repeat(depth);

    it('refuses a body nested deeper than 32 before parsing it, naming body, even unauthenticated; 32 deep is parsed as usual', async () => {
      const send = (body: string, who: Signed | null = clerk) => {
        const r = who ? who.agent.post('/api/v1/query-logs').set('X-CSRF-Token', who.csrf) : request(app).post('/api/v1/query-logs');
        return r.set('Content-Type', 'application/json').send(body);
      };
      const deep = await send(nest(33));
      expect(deep.status).to.equal(400);
      expect(deep.headers['content-type']).to.contain('application/problem+json');
      expect(deep.body.errors).to.deep.equal([{ field: 'body', message: 'JSON 巢狀層數超過 32 層' }]);
      // 32 deep reaches the route: the schema names caseNo (an object where text belongs).
      const ok = await send(nest(32));
      expect(ok.status).to.equal(400);
      expect(ok.body.errors.map((e: { field: string }) => e.field)).to.include('caseNo');
      // Malformed past depth 32: the depth answer, not the parser's — the parser never ran.
      const malformed = await send('['.repeat(40) + 'not json');
      expect(malformed.body.errors).to.deep.equal([{ field: 'body', message: 'JSON 巢狀層數超過 32 層' }]);
      expect((await send('[1,'.repeat(20) + 'not json')).body.errors[0].message).to.equal('請求內容不是有效的 JSON。');
      // Brackets inside strings (escaped quotes too) are text, not nesting.
      const text = await send(JSON.stringify(entry('S-1', `訪視確認 \\" ${'[{'.repeat(100)}`, { type: 'other', value: '戶號 9' })));
      expect(text.status, text.text).to.equal(201);
      // Before authentication: an anonymous deep body is refused the same way.
      expect((await send(nest(33), null)).body.errors[0].field).to.equal('body');
      // A million deep (2 MB): refused at once.
      const started = Date.now();
      const huge = await send('['.repeat(1_000_000) + ']'.repeat(1_000_000), null);
      expect(huge.status).to.equal(400);
      expect(huge.body.errors[0].message).to.contain('巢狀');
      expect(Date.now() - started).to.be.lessThan(10_000);
    });

    it('refuses JSON that is not UTF-8 (415)', async () => {
      const res = await clerk.agent.post('/api/v1/query-logs').set('X-CSRF-Token', clerk.csrf).set('Content-Type', 'application/json; charset=utf-16le')
        .send(Buffer.from(JSON.stringify(entry('U-1', '訪視確認投保狀態', { type: 'other', value: '戶號 1' })), 'utf16le'));
      expect(res.status).to.equal(415);
      expect(res.headers['content-type']).to.contain('application/problem+json');
    });
  });
});
