// Query request forms and query log recording over HTTP (clause 4(一)): field validation, the
// request-form rules, batches all or nothing, service tokens, visibility per role, "who queried
// this person?", display of the full subject, export, pages and the OpenAPI document.
import { expect } from 'chai';
import request from 'supertest';
import ExcelJS from 'exceljs';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, csrfFromHtml, signIn, type Signed, getFile } from '../support/app.ts';
import { makeApprovedRequest, makeUser, seedTree, type Tree } from '../support/fixtures.ts';
import { verifyChain } from '../../server/queries/chain.ts';
import { decryptSubject, generateNationalId, generateResidentCertificate, openEntrySubject, requestAad, subjectHmac, SubjectCipherError } from '../../server/queries/subject.ts';
import { addDays, localDate } from '../../server/time.ts';

describe(`query requests and query log over HTTP (${ENGINE})`, function () {
  // Generous under a loaded machine: each case creates a database and runs the command line.
  this.timeout(180_000);
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  const ids: Record<string, number> = {};
  const s: Record<string, Signed> = {};
  let formA: number; // clerk.a's approved form for 2-1
  const count = async () => Number((await t.db('query_logs').count({ n: '*' }))[0].n);
  const entry = (over: Record<string, unknown> = {}) => ({ caseNo: 'AG1-1130001', reason: '個案訪視前確認投保狀態', opCode: 'IN01', scope: '2-1', queryRequestId: formA, subject: { type: 'national-id', value: 'A123456789' }, ...over });
  const post = (who: string, body: unknown) => s[who].agent.post('/api/v1/query-logs').set('X-CSRF-Token', s[who].csrf).send(body as object);

  before(async () => {
    t = await migratedDb();
    tree = await seedTree(t.db);
    app = appFor(t);
    await t.db('units').where({ id: tree.AG2 }).update({ require_query_request: false });
    ids.clerkA = await makeUser(t.db, { account: 'clerk.a', unitId: tree.AG1, roles: ['clerk'], permissions: [['2-1', 'IN01'], ['2-1', 'AD01'], ['2-8', 'IN01']] });
    ids.clerkB = await makeUser(t.db, { account: 'clerk.b', unitId: tree.AG1U1, roles: ['clerk'], permissions: [['2-1', 'IN01']] });
    ids.clerkC = await makeUser(t.db, { account: 'clerk.c', unitId: tree.AG2, roles: ['clerk'], permissions: [['2-4', 'IN01']] });
    ids.supA = await makeUser(t.db, { account: 'sup.a', unitId: tree.AG1, roles: ['supervisor', 'checker'], rank: 'division_chief' });
    ids.supClerk = await makeUser(t.db, { account: 'supclerk', unitId: tree.AG1, roles: ['supervisor', 'clerk'], permissions: [['2-1', 'IN01']] });
    ids.supU1 = await makeUser(t.db, { account: 'sup.u1', unitId: tree.AG1U1, roles: ['supervisor'] });
    ids.supAg2 = await makeUser(t.db, { account: 'sup.ag2', unitId: tree.AG2, roles: ['supervisor'] });
    ids.auditor = await makeUser(t.db, { account: 'auditor.x', unitId: tree.AG2, roles: ['auditor'] });
    ids.ethics = await makeUser(t.db, { account: 'ethics.x', unitId: tree.AG1, roles: ['ethics'] });
    ids.admin = await makeUser(t.db, { account: 'admin.a', unitId: tree.AG1, roles: ['admin'] });
    ids.plan = await makeUser(t.db, { account: 'plan.it', unitId: tree.PLAN, roles: ['it'] });
    ids.auditorA = await makeUser(t.db, { account: 'auditor.a', unitId: tree.AG1U1, roles: ['auditor'] });
    ids.planAuditor = await makeUser(t.db, { account: 'plan.auditor', unitId: tree.PLAN, roles: ['auditor'] });
    for (const a of ['clerk.a', 'clerk.b', 'clerk.c', 'sup.a', 'supclerk', 'sup.u1', 'sup.ag2', 'auditor.x', 'ethics.x', 'admin.a', 'plan.it', 'auditor.a', 'plan.auditor']) s[a] = await signIn(app, a);
    formA = await makeApprovedRequest(t.db, { userId: ids.clerkA, unitId: tree.AG1, scope: '2-1' });
  });
  after(() => t.drop());

  describe('query request forms (申請單)', () => {
    const today = () => localDate(Date.now());
    let filed: number;
    it('a clerk files a form: 201 pending, expected subjects stored only encrypted', async () => {
      const id = generateNationalId();
      const res = await s['clerk.a'].agent.post('/api/v1/query-requests').set('X-CSRF-Token', s['clerk.a'].csrf)
        .send({ caseNo: 'AG1-1130077', purpose: '辦理身障保費補助資格審查', scope: '2-1', validFrom: today(), validTo: addDays(today(), 30), expectedSubjects: [{ type: 'national-id', value: id }] });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body.status).to.equal('pending');
      expect(res.body.expectedSubjects).to.equal(1);
      filed = res.body.id;
      const row = await t.db('query_requests').where({ id: filed }).first();
      expect(row.expected_subjects_cipher).to.be.a('string').and.not.contain(id);
    });
    it('entries under a pending form are refused naming queryRequestId', async () => {
      const before = await count();
      const res = await post('clerk.a', entry({ queryRequestId: filed }));
      expect(res.status).to.equal(400);
      expect(res.body.errors.map((e: any) => e.field)).to.deep.equal(['queryRequestId']);
      expect(await count()).to.equal(before);
    });
    it('expected subjects are bound to their form: they open under its own requester and filing time only; copied to another form they count as none', async () => {
      const { queryRequestView } = await import('../../server/queries/service.ts');
      const { queryRequestById } = await import('../../server/queries/repo.ts');
      const row = await t.db('query_requests').where({ id: filed }).first('expected_subjects_cipher', 'requester_id', 'created_at');
      expect(row.expected_subjects_cipher.startsWith('v2.')).to.equal(true);
      expect(JSON.parse(decryptSubject([t.cfg.subjectEncKey], row.expected_subjects_cipher, requestAad(row)))).to.have.length(1);
      const other = await makeApprovedRequest(t.db, { userId: ids.clerkB, unitId: tree.AG1U1, scope: '2-1' });
      const otherRow = await t.db('query_requests').where({ id: other }).first('requester_id', 'created_at');
      expect(() => decryptSubject([t.cfg.subjectEncKey], row.expected_subjects_cipher, requestAad(otherRow))).to.throw(SubjectCipherError);
      await t.db('query_requests').where({ id: other }).update({ expected_subjects_cipher: row.expected_subjects_cipher });
      expect(queryRequestView(await queryRequestById(t.db, other), t.cfg).expectedSubjects).to.equal(0);
      expect(queryRequestView(await queryRequestById(t.db, filed), t.cfg).expectedSubjects).to.equal(1);
      await t.db('query_requests').where({ id: other }).del(); // leaves the file's later cases as they were
    });
    it('bad form input names each field', async () => {
      const res = await s['clerk.a'].agent.post('/api/v1/query-requests').set('X-CSRF-Token', s['clerk.a'].csrf)
        .send({ caseNo: 'test', purpose: '無', scope: '2-4', validFrom: addDays(today(), -1), validTo: addDays(today(), 30), expectedSubjects: [{ type: 'national-id', value: 'A123456788' }] });
      expect(res.status).to.equal(400);
      expect(res.headers['content-type']).to.contain('application/problem+json');
      expect(res.body.errors.map((e: any) => e.field).sort()).to.deep.equal(['caseNo', 'expectedSubjects.0.value', 'purpose', 'scope', 'validFrom']);
    });
    it('only a supervisor of the same agency above the clerk decides; never their own form', async () => {
      const own = await s['supclerk'].agent.post('/api/v1/query-requests').set('X-CSRF-Token', s['supclerk'].csrf)
        .send({ caseNo: 'AG1-1130078', purpose: '辦理身障保費補助資格審查', scope: '2-1', validFrom: today(), validTo: addDays(today(), 30) });
      expect(own.status).to.equal(201);
      const self = await s['supclerk'].agent.post(`/api/v1/query-requests/${own.body.id}/decision`).set('X-CSRF-Token', s['supclerk'].csrf).send({ decision: 'approve' });
      expect(self.status).to.equal(403);
      const otherAgency = await s['sup.ag2'].agent.post(`/api/v1/query-requests/${filed}/decision`).set('X-CSRF-Token', s['sup.ag2'].csrf).send({ decision: 'approve' });
      expect(otherAgency.status).to.equal(403);
      const below = await s['sup.u1'].agent.post(`/api/v1/query-requests/${filed}/decision`).set('X-CSRF-Token', s['sup.u1'].csrf).send({ decision: 'approve' });
      expect(below.status).to.equal(403);
      const clerk = await s['clerk.b'].agent.post(`/api/v1/query-requests/${filed}/decision`).set('X-CSRF-Token', s['clerk.b'].csrf).send({ decision: 'approve' });
      expect(clerk.status).to.equal(403);
      const noNote = await s['sup.a'].agent.post(`/api/v1/query-requests/${own.body.id}/decision`).set('X-CSRF-Token', s['sup.a'].csrf).send({ decision: 'reject' });
      expect(noNote.status).to.equal(400);
      expect(noNote.body.errors[0].field).to.equal('note');
      expect((await t.db('query_requests').where({ id: filed }).first()).status).to.equal('pending');
    });
    it('the supervisor approves; a second decision is 409; the event is recorded; entries are then accepted', async () => {
      const inbox = await s['sup.a'].agent.get('/api/v1/query-requests?inbox=1');
      expect(inbox.body.items.map((r: any) => r.id)).to.include(filed);
      const ok = await s['sup.a'].agent.post(`/api/v1/query-requests/${filed}/decision`).set('X-CSRF-Token', s['sup.a'].csrf).send({ decision: 'approve', note: '同意' });
      expect(ok.status).to.equal(200);
      expect(ok.body.status).to.equal('approved');
      expect(ok.body.open).to.equal(true);
      const again = await s['sup.a'].agent.post(`/api/v1/query-requests/${filed}/decision`).set('X-CSRF-Token', s['sup.a'].csrf).send({ decision: 'reject', note: '改判' });
      expect(again.status).to.equal(409);
      const ev = await t.db('system_events').where({ action: 'query-request.approve', target_id: String(filed) }).first();
      expect(ev.actor_account).to.equal('sup.a');
      const res = await post('clerk.a', entry({ queryRequestId: filed }));
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
    });
    it('a clerk lists their own forms; others’ forms are not listed to them', async () => {
      const res = await s['clerk.b'].agent.get('/api/v1/query-requests');
      expect(res.body.items.every((r: any) => r.requester === 'clerk.b')).to.equal(true);
      const mine = await s['clerk.a'].agent.get('/api/v1/query-requests?open=1');
      expect(mine.body.items.map((r: any) => r.id)).to.include.members([formA, filed]);
    });
  });

  describe('recording', () => {
    it('records one entry: 201 {id, hash}, server clock, subject masked, HMAC and ciphertext stored', async () => {
      const before = Date.now();
      const res = await post('clerk.a', entry({ subject: { type: 'national-id', value: 'a123456789' } }));
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body).to.have.keys(['id', 'hash']);
      const row = await t.db('query_logs').where({ id: res.body.id }).first();
      expect(row.hash).to.equal(res.body.hash);
      expect(row.account).to.equal('clerk.a');
      expect(Number(row.unit_id)).to.equal(tree.AG1);
      expect(Number(row.queried_at)).to.be.within(before - 1000, Date.now() + 1000);
      expect(row.subject_mask).to.equal('A12****789');
      expect(row.subject_cipher).not.to.contain('A123456789');
      expect(openEntrySubject([t.cfg.subjectEncKey], row)).to.equal('A123456789');
      expect(row.subject_hmac).to.equal(subjectHmac(t.cfg.SUBJECT_HMAC_KEY, { type: 'national-id', value: 'A123456789' }));
      expect(row.source).to.equal('web');
      expect(row.client_ip).to.be.a('string');
    });

    const bad: Array<[string, Record<string, unknown>, string]> = [
      ['missing case number', { caseNo: undefined }, 'caseNo'],
      ['blank case number', { caseNo: '   ' }, 'caseNo'],
      ['placeholder case number "test"', { caseNo: 'test' }, 'caseNo'],
      ['placeholder case number "xxx"', { caseNo: 'xxx' }, 'caseNo'],
      ['missing reason', { reason: undefined }, 'reason'],
      ['blank reason', { reason: ' ' }, 'reason'],
      ['placeholder reason 查詢', { reason: '查詢' }, 'reason'],
      ['placeholder reason 無', { reason: '無' }, 'reason'],
      ['placeholder reason …', { reason: '……' }, 'reason'],
      ['too short reason', { reason: '訪視' }, 'reason'],
      ['bad national ID checksum', { subject: { type: 'national-id', value: 'A123456788' } }, 'subject.value'],
      ['bad resident certificate checksum', { subject: { type: 'resident-certificate', value: 'A800000015' } }, 'subject.value'],
      ['unknown subject type', { subject: { type: 'passport', value: 'X' } }, 'subject.type'],
      ['unknown operation code', { opCode: 'ZZ99' }, 'opCode'],
      ['operation code outside the permission', { scope: '2-8', opCode: 'AD01', queryRequestId: null }, 'opCode'],
      ['scope not authorised for the agency', { scope: '2-4' }, 'scope'],
      ['deleted scope (六)', { scope: '2-6' }, 'scope'],
      ['no request form where the agency requires one', { queryRequestId: null }, 'queryRequestId'],
      ['unknown request form', { queryRequestId: 999999 }, 'queryRequestId'],
      ['request form id not a number', { queryRequestId: 'abc' }, 'queryRequestId'],
      ['request form for another scope', { scope: '2-8', opCode: 'IN01' }, 'queryRequestId'],
      ['naming another account with a session', { account: 'clerk.b' }, 'account'],
    ];
    for (const [name, over, field] of bad) {
      it(`refuses ${name}: 400 problem naming ${field}, nothing stored`, async () => {
        const before = await count();
        const body = entry(over);
        for (const k of Object.keys(body)) if ((body as any)[k] === undefined) delete (body as any)[k];
        const res = await post('clerk.a', body);
        expect(res.status, JSON.stringify(res.body)).to.equal(400);
        expect(res.headers['content-type']).to.contain('application/problem+json');
        expect(res.body.type).to.match(/validation$/);
        expect(res.body.errors.map((e: any) => e.field)).to.include(field);
        expect(await count()).to.equal(before);
      });
    }

    it('refuses expired and unapproved forms, and another clerk’s form', async () => {
      const expired = await makeApprovedRequest(t.db, { userId: ids.clerkA, unitId: tree.AG1, validFrom: '2020-01-01', validTo: addDays(localDate(Date.now()), -1) });
      const rejected = await makeApprovedRequest(t.db, { userId: ids.clerkA, unitId: tree.AG1, status: 'rejected' });
      const pending = await makeApprovedRequest(t.db, { userId: ids.clerkA, unitId: tree.AG1, status: 'pending' });
      const future = await makeApprovedRequest(t.db, { userId: ids.clerkA, unitId: tree.AG1, validFrom: addDays(localDate(Date.now()), 2) });
      const others = await makeApprovedRequest(t.db, { userId: ids.clerkB, unitId: tree.AG1U1 });
      const before = await count();
      for (const [id, text] of [[expired, '到期'], [rejected, '未獲核准'], [pending, '尚未經單位主管核准'], [future, '尚未生效'], [others, '非本人']] as const) {
        const res = await post('clerk.a', entry({ queryRequestId: id }));
        expect(res.status).to.equal(400);
        expect(res.body.errors[0].field).to.equal('queryRequestId');
        expect(res.body.errors[0].message).to.contain(text);
      }
      expect(await count()).to.equal(before);
    });

    it('a malformed JSON body is a 400 naming the body; a non-JSON body is 415', async () => {
      const before = await count();
      const res = await s['clerk.a'].agent.post('/api/v1/query-logs').set('X-CSRF-Token', s['clerk.a'].csrf).set('content-type', 'application/json').send('{"caseNo":');
      expect(res.status).to.equal(400);
      expect(res.body.errors[0].field).to.equal('body');
      const form = await s['clerk.a'].agent.post('/api/v1/query-logs').set('X-CSRF-Token', s['clerk.a'].csrf).type('form').send('caseNo=1');
      expect(form.status).to.equal(415);
      const arr = await post('clerk.a', [entry()]);
      expect(arr.status).to.equal(400);
      expect(await count()).to.equal(before);
    });

    it('a batch is all or nothing: one bad entry names entries.N.field and stores nothing', async () => {
      const before = await count();
      const entries = [entry(), entry(), entry(), entry({ caseNo: 'test', reason: '無' }), entry({ subject: { type: 'national-id', value: 'B123456781' } })];
      const res = await post('clerk.a', { entries });
      expect(res.status).to.equal(400);
      const fields = res.body.errors.map((e: any) => e.field);
      expect(fields).to.include.members(['entries.3.caseNo', 'entries.3.reason', 'entries.4.subject.value']);
      expect(fields.some((f: string) => /^entries\.[012]\./.test(f))).to.equal(false);
      expect(await count()).to.equal(before);
    });

    it('a batch of 501 is refused naming entries; an empty batch too', async () => {
      const before = await count();
      const res = await post('clerk.a', { entries: Array.from({ length: 501 }, () => entry()) });
      expect(res.status).to.equal(400);
      expect(res.body.errors[0].field).to.equal('entries');
      expect((await post('clerk.a', { entries: [] })).status).to.equal(400);
      expect(await count()).to.equal(before);
    });

    it('a batch of 500 is recorded in order and the chain verifies', async () => {
      const entries = Array.from({ length: 500 }, (_, i) => entry({ caseNo: `AG1-115${String(i).padStart(4, '0')}`, /* not another approved form's 案號 (AG1-1130077) */ subject: { type: i % 2 ? 'national-id' : 'resident-certificate', value: i % 2 ? generateNationalId() : generateResidentCertificate(Math.random, i % 4 ? 'new' : 'old') } }));
      const res = await post('clerk.a', { entries });
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).to.equal(201);
      expect(res.body.entries).to.have.length(500);
      const rows = await t.db('query_logs').whereIn('id', res.body.entries.map((e: any) => e.id)).orderBy('seq').select('id', 'case_no', 'hash');
      expect(rows.map((r: any) => r.case_no)).to.deep.equal(entries.map((e) => e.caseNo));
      expect(rows.map((r: any) => r.hash)).to.deep.equal(res.body.entries.map((e: any) => e.hash));
      const v = await verifyChain(t.db);
      expect(v.ok).to.equal(true);
    });

    it('a clerk’s session call without X-CSRF-Token is refused; a person without NHI permissions may not record', async () => {
      expect((await s['clerk.a'].agent.post('/api/v1/query-logs').send(entry())).status).to.equal(403);
      // A supervisor without NHI query permissions: refused by the permission check, nothing stored.
      const res = await s['sup.a'].agent.post('/api/v1/query-logs').set('X-CSRF-Token', s['sup.a'].csrf).send(entry());
      expect(res.status).to.equal(400);
      expect(res.body.errors.map((e: any) => e.field)).to.include('opCode');
      expect((await request(app).post('/api/v1/query-logs').send(entry())).status).to.be.oneOf([401, 403]);
    });

    it('an agency that allows recording without a form accepts it and flags the entry', async () => {
      const res = await post('clerk.c', entry({ scope: '2-4', queryRequestId: null, caseNo: 'AG2-0001' }));
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      const got = await s['clerk.c'].agent.get(`/api/v1/query-logs/${res.body.id}`);
      expect(got.body.flags).to.deep.equal(['no-request']);
    });

    it('a case number must match the agency’s pattern when it has one', async () => {
      await t.db('units').where({ id: tree.AG2 }).update({ case_no_pattern: '衛\\d{4}' });
      const bad = await post('clerk.c', entry({ scope: '2-4', queryRequestId: null, caseNo: 'AG2-0001' }));
      expect(bad.status).to.equal(400);
      expect(bad.body.errors[0].field).to.equal('caseNo');
      const good = await post('clerk.c', entry({ scope: '2-4', queryRequestId: null, caseNo: '衛1234' }));
      expect(good.status).to.equal(201);
      await t.db('units').where({ id: tree.AG2 }).update({ case_no_pattern: null });
    });
  });

  describe('service tokens', () => {
    let token: string;
    let tokenId: number;
    it('an admin creates a token bound to a unit: shown once, only its SHA-256 stored', async () => {
      const res = await s['admin.a'].agent.post('/api/v1/service-tokens').set('X-CSRF-Token', s['admin.a'].csrf).send({ name: '社福個案系統', unit: 'AG1', account: 'clerk.a' });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      token = res.body.token;
      tokenId = res.body.id;
      expect(token).to.match(/^nhiq_/);
      const row = await t.db('service_tokens').where({ id: tokenId }).first();
      expect(row.token_hash).to.have.length(64).and.not.equal(token);
      const list = await s['admin.a'].agent.get('/api/v1/service-tokens');
      expect(JSON.stringify(list.body)).not.to.contain(token);
      const outside = await s['admin.a'].agent.post('/api/v1/service-tokens').set('X-CSRF-Token', s['admin.a'].csrf).send({ name: 'x', unit: 'AG2', account: 'clerk.c' });
      expect(outside.status).to.equal(400);
      expect(outside.body.errors.map((e: any) => e.field)).to.include('unit');
      expect((await s['clerk.a'].agent.post('/api/v1/service-tokens').set('X-CSRF-Token', s['clerk.a'].csrf).send({ name: 'x', unit: 'AG1', account: 'clerk.a' })).status).to.equal(403);
    });
    it('records with the token (no CSRF), defaulting to the service account, or naming a clerk of the unit', async () => {
      const res = await request(app).post('/api/v1/query-logs').set('Authorization', `Bearer ${token}`).send(entry());
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      const row = await t.db('query_logs').where({ id: res.body.id }).first();
      expect(row.account).to.equal('clerk.a');
      expect(row.source).to.equal('api');
      expect(Number(row.token_id)).to.equal(tokenId);
      const formB = await makeApprovedRequest(t.db, { userId: ids.clerkB, unitId: tree.AG1U1 });
      const named = await request(app).post('/api/v1/query-logs').set('Authorization', `Bearer ${token}`).send({ entries: [entry({ account: 'clerk.b', queryRequestId: formB })] });
      expect(named.status, JSON.stringify(named.body)).to.equal(201);
      expect((await t.db('query_logs').where({ id: named.body.entries[0].id }).first()).account).to.equal('clerk.b');
      const foreign = await request(app).post('/api/v1/query-logs').set('Authorization', `Bearer ${token}`).send({ entries: [entry(), entry({ account: 'clerk.c' })] });
      expect(foreign.status).to.equal(400);
      expect(foreign.body.errors[0].field).to.equal('entries.1.account');
    });
    it('a revoked or unknown token is 401', async () => {
      expect((await s['admin.a'].agent.post(`/api/v1/service-tokens/${tokenId}/revoke`).set('X-CSRF-Token', s['admin.a'].csrf)).status).to.equal(204);
      expect((await request(app).post('/api/v1/query-logs').set('Authorization', `Bearer ${token}`).send(entry())).status).to.equal(401);
      expect((await request(app).post('/api/v1/query-logs').set('Authorization', 'Bearer nhiq_nope').send(entry())).status).to.equal(401);
      expect(await t.db('system_events').where({ action: 'service-token.revoke' }).first()).to.not.equal(undefined);
    });
  });

  describe('visibility, who queried, full subject, export', () => {
    const person = 'F131104093';
    let entryB: number;
    before(async () => {
      const formB = await makeApprovedRequest(t.db, { userId: ids.clerkB, unitId: tree.AG1U1 });
      expect((await post('clerk.a', entry({ subject: { type: 'national-id', value: person }, reason: '=HYPERLINK("http://x")' }))).status).to.equal(201);
      const b = await post('clerk.b', entry({ queryRequestId: formB, subject: { type: 'national-id', value: person } }));
      expect(b.status, JSON.stringify(b.body)).to.equal(201);
      entryB = b.body.id;
      expect((await post('clerk.c', entry({ scope: '2-4', queryRequestId: null, caseNo: 'AG2-0002', subject: { type: 'national-id', value: person } }))).status).to.equal(201);
    });
    const accountsSeen = async (who: string, qs = '') => {
      const res = await s[who].agent.get(`/api/v1/query-logs?limit=500${qs}`);
      expect(res.status).to.equal(200);
      return { accounts: new Set(res.body.items.map((i: any) => i.account)), total: res.body.total, items: res.body.items };
    };
    it('a clerk sees only their own entries', async () => {
      expect([...(await accountsSeen('clerk.b')).accounts]).to.deep.equal(['clerk.b']);
    });
    it('a supervisor sees their agency and its subordinate units; a unit supervisor only their unit', async () => {
      const a = await accountsSeen('sup.a');
      expect([...a.accounts].sort()).to.deep.equal(['clerk.a', 'clerk.b']);
      expect([...(await accountsSeen('sup.u1')).accounts]).to.deep.equal(['clerk.b']);
    });
    it('an agency auditor sees their agency and below; the planning department’s auditor everything; its IT staff, ethics (no investigation) and admins nothing', async () => {
      const total = await count();
      const inAg2 = Number((await t.db('query_logs').whereIn('unit_id', [tree.AG2, tree.AG2U1]).count({ n: '*' }))[0].n);
      expect(inAg2).to.be.greaterThan(0);
      expect((await accountsSeen('auditor.x')).total).to.equal(inAg2);
      expect([...(await accountsSeen('auditor.x')).accounts]).to.deep.equal(['clerk.c']);
      // An auditor in a subordinate unit reaches the whole of their agency, not another.
      expect([...(await accountsSeen('auditor.a')).accounts].sort()).to.deep.equal(['clerk.a', 'clerk.b']);
      expect((await accountsSeen('plan.auditor')).total).to.equal(total);
      expect((await accountsSeen('plan.it')).total).to.equal(0);
      expect((await accountsSeen('ethics.x')).total).to.equal(0);
      expect((await accountsSeen('admin.a')).total).to.equal(0);
    });
    it('items are masked and filterable by unit, account, op code, case number and date', async () => {
      const all = await accountsSeen('plan.auditor', '&unit=AG1-U1');
      expect([...all.accounts]).to.deep.equal(['clerk.b']);
      expect(JSON.stringify(all.items)).not.to.contain(person);
      expect(all.items[0].subject.masked).to.equal('F13****093');
      expect((await accountsSeen('plan.auditor', '&account=clerk.c')).accounts.size).to.equal(1);
      expect((await accountsSeen('plan.auditor', '&caseNo=AG2-0002')).total).to.equal(1);
      expect((await accountsSeen('plan.auditor', '&opCode=AD01')).total).to.equal(0);
      const today = localDate(Date.now());
      expect((await accountsSeen('plan.auditor', `&from=${today}&to=${today}`)).total).to.equal(await count());
      expect((await accountsSeen('plan.auditor', `&to=${addDays(today, -1)}`)).total).to.equal(0);
      const bad = await s['auditor.x'].agent.get('/api/v1/query-logs?from=yesterday&unit=NOPE');
      expect(bad.status).to.equal(400);
      expect(bad.body.errors.map((e: any) => e.field).sort()).to.deep.equal(['from', 'unit']);
    });
    it('who queried this person: a POST with a purpose, over what the caller may reveal; the search is an event without the ID', async () => {
      const search = (who: string, body: object) => s[who].agent.post('/api/v1/query-logs/search').set('X-CSRF-Token', s[who].csrf).send(body);
      const found = async (who: string, id = person) => {
        const r = await search(who, { subjectType: 'national-id', subjectId: id, purpose: '受理當事人個資查詢申請' });
        expect(r.status, JSON.stringify(r.body)).to.equal(200);
        return [...new Set(r.body.items.map((i: any) => i.account))].sort();
      };
      expect(await found('plan.auditor')).to.deep.equal(['clerk.a', 'clerk.b', 'clerk.c']);
      expect(await found('auditor.x')).to.deep.equal(['clerk.c']);
      expect(await found('auditor.a', person.toLowerCase())).to.deep.equal(['clerk.a', 'clerk.b']);
      expect(await found('ethics.x')).to.deep.equal([]); // no investigation
      // The identifier is no filter of the plain search, for anyone.
      for (const who of ['clerk.b', 'sup.a', 'plan.auditor']) {
        const r = await s[who].agent.get(`/api/v1/query-logs?subjectId=${person}`);
        expect(r.status, who).to.equal(400);
        expect(r.body.errors.map((e: any) => e.field)).to.deep.equal(['subjectId']);
      }
      expect((await search('sup.a', { subjectId: person, purpose: '受理當事人個資查詢申請' })).status).to.equal(403);
      const events = await t.db('system_events').where({ action: 'query-log.subject-search' }).select('detail', 'target_id');
      expect(events.length).to.equal(4);
      expect(JSON.stringify(events)).not.to.contain(person).and.not.to.contain(person.slice(3, 7));
      expect(JSON.stringify(events)).to.contain('受理當事人個資查詢申請');
    });
    it('the full subject: auditors within reach see it and it is recorded; another agency’s auditor, clerks and supervisors are refused', async () => {
      const ok = await s['auditor.a'].agent.post(`/api/v1/query-logs/${entryB}/subject`).set('X-CSRF-Token', s['auditor.a'].csrf);
      expect(ok.status).to.equal(200);
      expect(ok.body).to.deep.equal({ type: 'national-id', value: person });
      const ev = await t.db('system_events').where({ action: 'query-log.subject-reveal', target_id: String(entryB), outcome: 'ok' }).first();
      expect(ev.actor_account).to.equal('auditor.a');
      // Another agency's auditor: the entry does not exist for them.
      expect((await s['auditor.x'].agent.post(`/api/v1/query-logs/${entryB}/subject`).set('X-CSRF-Token', s['auditor.x'].csrf)).status).to.equal(404);
      expect(ev.detail).not.to.contain(person);
      for (const who of ['clerk.b', 'sup.a', 'plan.it']) {
        expect((await s[who].agent.post(`/api/v1/query-logs/${entryB}/subject`).set('X-CSRF-Token', s[who].csrf)).status, who).to.equal(403);
      }
      // Ethics staff outside an investigation: not theirs to see at all.
      expect((await s['ethics.x'].agent.post(`/api/v1/query-logs/${entryB}/subject`).set('X-CSRF-Token', s['ethics.x'].csrf)).status).to.equal(404);
    });
    it('ethics staff see and may display what their investigations cover, nothing else', async () => {
      // A real investigation of clerk.b's entry, with ethics.x on its ethics side; removed afterwards.
      const [inv] = await t.db('investigations').insert({ unit_id: tree.AG1, entry_id: entryB, title: '查詢異常', status: 'open', opened_by: ids.ethics, opened_at: Date.now() });
      const invId = Number(typeof inv === 'object' ? (inv as any).id : inv);
      await t.db('investigation_participants').insert({ investigation_id: invId, user_id: ids.ethics, side: 'ethics', added_by: ids.ethics, added_at: Date.now() });
      try {
        const { visibleUnitsFor } = await import('../../server/queries/service.ts');
        const vv = await visibleUnitsFor(t.db, { id: ids.ethics, account: 'ethics.x', unitId: tree.AG1, roles: ['ethics'] });
        expect([...(await accountsSeen('ethics.x')).accounts], JSON.stringify(vv)).to.deep.equal(['clerk.b']);
        const ok = await s['ethics.x'].agent.post(`/api/v1/query-logs/${entryB}/subject`).set('X-CSRF-Token', s['ethics.x'].csrf);
        expect(ok.status).to.equal(200);
        const other = (await t.db('query_logs').where({ account: 'clerk.a' }).first('id')).id;
        expect((await s['ethics.x'].agent.post(`/api/v1/query-logs/${other}/subject`).set('X-CSRF-Token', s['ethics.x'].csrf)).status).to.equal(404);
      } finally {
        await t.db('investigation_participants').where({ investigation_id: invId }).delete();
        await t.db('investigations').where({ id: invId }).delete();
      }
      expect((await accountsSeen('ethics.x')).total).to.equal(0); // no investigation in this database
    });
    it('GET /api/v1/query-logs/:id is scoped: another clerk gets 404', async () => {
      expect((await s['clerk.b'].agent.get(`/api/v1/query-logs/${entryB}`)).status).to.equal(200);
      expect((await s['clerk.a'].agent.get(`/api/v1/query-logs/${entryB}`)).status).to.equal(404);
    });
    it('exports the filtered visible list to xlsx with inert cells, masked subjects, and records the export', async () => {
      const res = await getFile(s['sup.a'].agent, '/query-logs/export.xlsx?unit=AG1');
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.contain('spreadsheetml');
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.load(res.body as any);
      const ws = wb.worksheets[0];
      const visible = Number((await t.db('query_logs').whereIn('unit_id', [tree.AG1, tree.AG1U1, tree.AG1U1A]).count({ n: '*' }))[0].n);
      expect(ws.rowCount).to.equal(visible + 1);
      let formulaCell: any = null;
      ws.eachRow((row) => row.eachCell((c) => { if (typeof c.value === 'object' && c.value && 'richText' in (c.value as any)) formulaCell = c; if (c.formula) throw new Error('a formula cell'); }));
      expect(formulaCell, 'the =HYPERLINK reason is written as rich text').to.not.equal(null);
      const text = JSON.stringify(ws.getSheetValues());
      expect(text).not.to.contain(person);
      const ev = await t.db('system_events').where({ action: 'query-log.export', actor_account: 'sup.a' }).first();
      expect(JSON.parse(ev.detail).rows).to.equal(visible);
    });
  });

  describe('pages', () => {
    it('the recording page keeps values and shows errors beside fields, then remembers the case', async () => {
      const agent = s['clerk.a'].agent;
      const page = await agent.get('/query-logs/new');
      expect(page.status).to.equal(200);
      expect(page.text).to.contain('登錄健保查詢').and.contain('for="f-caseNo"').and.contain('/assets/js/queries.js');
      const csrf = csrfFromHtml(page.text);
      const bad = await agent.post('/query-logs/new').type('form').send({ _csrf: csrf, caseNo: 'AG1-1130555', reason: '查詢', scope: '2-1', opCode: 'IN01', queryRequestId: String(formA), subjectType: 'national-id', subjectValue: 'A123456788' });
      expect(bad.status).to.equal(400);
      expect(bad.text).to.contain('id="f-reason-error"').and.contain('id="f-subjectValue-error"').and.contain('value="AG1-1130555"');
      const before = await count();
      const ok = await agent.post('/query-logs/new').type('form').send({ _csrf: csrf, caseNo: 'AG1-1130555', reason: '個案訪視前確認投保狀態', scope: '2-1', opCode: 'IN01', queryRequestId: String(formA), subjectType: 'national-id', subjectValue: 'A123456789' });
      expect(ok.status).to.equal(303);
      expect(await count()).to.equal(before + 1);
      const next = await agent.get('/query-logs/new');
      expect(next.text).to.contain('value="AG1-1130555"').and.contain('已登錄查詢紀錄');
      expect(next.text).not.to.contain('value="A123456789"');
    });
    it('list, detail, who-queried, request, inbox and token pages render for their roles', async () => {
      expect((await s['sup.a'].agent.get('/query-logs?unit=AG1')).text).to.contain('查詢日誌');
      const id = (await t.db('query_logs').where({ account: 'clerk.b' }).first('id')).id;
      expect((await s['sup.a'].agent.get(`/query-logs/${id}`)).status).to.equal(200);
      expect((await s['clerk.a'].agent.get(`/query-logs/${id}`)).status).to.equal(404);
      const who = await s['auditor.x'].agent.get('/query-logs/who');
      const noPurpose = await s['auditor.x'].agent.post('/query-logs/who').type('form').send({ _csrf: csrfFromHtml(who.text), subjectType: 'national-id', subjectId: 'F131104093' });
      expect(noPurpose.status).to.equal(400);
      expect(noPurpose.text).to.contain('id="f-purpose-error"').and.not.contain('F131104093');
      const found = await s['auditor.x'].agent.post('/query-logs/who').type('form').send({ _csrf: csrfFromHtml(who.text), subjectType: 'national-id', subjectId: 'F131104093', purpose: '受理當事人個資查詢申請' });
      expect(found.status).to.equal(200);
      expect(found.text).to.contain('clerk.c').and.not.contain('F131104093');
      expect((await s['clerk.a'].agent.get('/query-logs/who')).status).to.equal(403);
      const rp = await s['clerk.a'].agent.get('/query-requests');
      expect(rp.text).to.contain('提出申請單');
      const filed = await s['clerk.a'].agent.post('/query-requests').type('form').send({ _csrf: csrfFromHtml(rp.text), caseNo: '', purpose: '無', scope: '2-1', validFrom: localDate(Date.now()), validTo: addDays(localDate(Date.now()), 10), expected: '' });
      expect(filed.status).to.equal(400);
      expect(filed.text).to.contain('id="f-caseNo-error"').and.contain('id="f-purpose-error"');
      // The form shows and takes dates in the ROC calendar; they are stored as ISO days.
      const roc = (iso: string) => `${Number(iso.slice(0, 4)) - 1911}/${iso.slice(5, 7)}/${iso.slice(8, 10)}`;
      expect(rp.text).to.contain(`value="${roc(localDate(Date.now()))}"`);
      expect(rp.text).to.contain('name="_roc" value="validFrom"');
      const form = new URLSearchParams({ _csrf: csrfFromHtml(rp.text), caseNo: 'AG1-1130999', purpose: '辦理身障保費補助資格審查', scope: '2-1', validFrom: roc(localDate(Date.now())), validTo: roc(addDays(localDate(Date.now()), 10)), expected: '' });
      form.append('_roc', 'validFrom');
      form.append('_roc', 'validTo');
      const rocFiled = await s['clerk.a'].agent.post('/query-requests').type('form').send(form.toString());
      expect(rocFiled.status, rocFiled.text.slice(0, 300)).to.equal(303);
      const stored = await t.db('query_requests').where({ case_no: 'AG1-1130999' }).first('valid_from', 'valid_to');
      expect(stored).to.deep.equal({ valid_from: localDate(Date.now()), valid_to: addDays(localDate(Date.now()), 10) });
      // A GET filter form's ROC dates reach the route as ISO days.
      const filtered = await s['sup.a'].agent.get(`/query-logs?from=${encodeURIComponent(roc(addDays(localDate(Date.now()), -30)))}&to=${encodeURIComponent(roc(localDate(Date.now())))}&_roc=from&_roc=to`);
      expect(filtered.status).to.equal(200);
      expect(filtered.text).to.contain(`value="${roc(addDays(localDate(Date.now()), -30))}"`).and.not.contain('f-from-error');
      const inbox = await s['sup.a'].agent.get('/query-requests/inbox');
      expect(inbox.status).to.equal(200);
      const tokens = await s['admin.a'].agent.get('/service-tokens');
      expect(tokens.text).to.contain('服務權杖');
      const home = await s['clerk.a'].agent.get('/');
      expect(home.text, home.text.slice(home.text.indexOf('<main'), home.text.indexOf('<main') + 1500)).to.contain('今日登錄筆數');
      // The supervisor's panel (the home page also carries other capabilities' panels).
      const { pendingApprovals } = await import('../../server/queries/service.ts');
      expect(await pendingApprovals(t.db, { id: ids.supA, account: 'sup.a', unitId: tree.AG1, roles: ['supervisor'] })).to.be.a('number');
    });
  });

  it('GET /api/v1/openapi.json is an OpenAPI 3.1 document of the contract', async () => {
    const res = await request(app).get('/api/v1/openapi.json');
    expect(res.status).to.equal(200);
    expect(res.body.openapi).to.equal('3.1.0');
    for (const p of ['/api/v1/auth/login', '/api/v1/me', '/api/v1/units', '/api/v1/users', '/api/v1/account-requests', '/api/v1/account-requests/{id}/decision', '/api/v1/query-requests', '/api/v1/query-requests/{id}/decision', '/api/v1/query-logs', '/api/v1/checks', '/api/v1/checks/{id}/items/{item}', '/api/v1/reports/annual', '/healthz']) {
      expect(res.body.paths, p).to.have.property(p);
    }
    expect(res.body.paths['/api/v1/query-logs'].post.requestBody).to.be.an('object');
    // Every /api route of the access-control inventory is in the document.
    const { accessTable } = await import('../../server/web/access.ts');
    for (const e of accessTable().filter((x) => x.path.startsWith('/api/'))) {
      const path = e.path.replace(/:(\w+)/g, '{$1}');
      expect(res.body.paths[path], `${e.method} ${path}`).to.have.property(e.method.toLowerCase());
    }
  });

  it('concurrent requests are group-committed: each answered with its own ids and hashes, one valid chain', async () => {
    const bodies = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? { entries: [entry({ caseNo: `CC-${i}-a` }), entry({ caseNo: `CC-${i}-b` })] } : entry({ caseNo: `CC-${i}` })));
    const res = await Promise.all(bodies.map((b) => post('clerk.a', b)));
    const got: Array<{ id: number; hash: string; caseNo: string }> = [];
    res.forEach((r, i) => {
      expect(r.status, JSON.stringify(r.body)).to.equal(201);
      const list = r.body.entries ?? [r.body];
      const cases = (bodies[i] as any).entries ? (bodies[i] as any).entries.map((e: any) => e.caseNo) : [(bodies[i] as any).caseNo];
      list.forEach((x: any, k: number) => got.push({ ...x, caseNo: cases[k] }));
    });
    expect(new Set(got.map((g) => g.id)).size).to.equal(16);
    for (const g of got) {
      const row = await t.db('query_logs').where({ id: g.id }).first('case_no', 'hash');
      expect(row.case_no).to.equal(g.caseNo);
      expect(row.hash).to.equal(g.hash);
    }
    // A batch's entries stay consecutive in the chain.
    const a = await t.db('query_logs').whereIn('case_no', ['CC-0-a', 'CC-0-b']).orderBy('seq').select('seq');
    expect(Number(a[1].seq) - Number(a[0].seq)).to.equal(1);
    expect((await verifyChain(t.db)).ok).to.equal(true);
  });

  it('the token page shows a new token once', async () => {
    const page = await s['admin.a'].agent.get('/service-tokens');
    const res = await s['admin.a'].agent.post('/service-tokens').type('form').send({ _csrf: csrfFromHtml(page.text), name: '稅務系統', unit: 'AG1-U1', account: 'clerk.b' });
    expect(res.status).to.equal(201);
    const token = /<code class="token">([^<]+)<\/code>/.exec(res.text)?.[1];
    expect(token).to.match(/^nhiq_/);
    expect((await s['admin.a'].agent.get('/service-tokens')).text).not.to.contain(token!);
    const bad = await s['admin.a'].agent.post('/service-tokens').type('form').send({ _csrf: csrfFromHtml(page.text), name: '', unit: 'AG2', account: 'nobody' });
    expect(bad.status).to.equal(400);
    expect(bad.text).to.contain('id="f-name-error"').and.contain('id="f-unit-error"').and.contain('id="f-account-error"');
  });

  it('the chain verifies after everything above', async () => {
    const v = await verifyChain(t.db);
    expect(v.ok, JSON.stringify(v)).to.equal(true);
  });

  it('database unavailable: 503 problem, nothing acknowledged', async () => {
    const t2 = await migratedDb();
    const tr = await seedTree(t2.db);
    await makeUser(t2.db, { account: 'clerk.z', unitId: tr.AG2, roles: ['clerk'], permissions: [['2-4', 'IN01']] });
    await t2.db('units').where({ id: tr.AG2 }).update({ require_query_request: false });
    const app2 = appFor(t2);
    const z = await signIn(app2, 'clerk.z');
    await t2.db.destroy();
    const res = await z.agent.post('/api/v1/query-logs').set('X-CSRF-Token', z.csrf).send(entry({ scope: '2-4', queryRequestId: null }));
    expect(res.status).to.equal(503);
    expect(res.headers['content-type']).to.contain('application/problem+json');
  });
});
