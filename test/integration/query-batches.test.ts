// Batch queries (批次查詢, clause 2(一); issue 16) on both databases: a media-file exchange recorded as
// one chained entry whose digest covers its subjects; found by "who queried this person"; sampled
// like any entry; verify-log reports a break when its subjects (batch_subjects) are altered.
import crypto from 'node:crypto';
import { expect } from 'chai';
import { ENGINE, migratedDb, rowCounts, type TestDb } from '../support/db.ts';
import { appFor, csrfFromHtml, signIn, type Signed } from '../support/app.ts';
import { makeApprovedRequest, makeUser, nationalId, recordTestEntries, seedTree, type Tree } from '../support/fixtures.ts';
import { badCheck, fullWidth } from '../support/reconcile-fixtures.ts';
import { runJob } from '../../jobs/runner.ts';
import { monthlySamplingJob } from '../../server/checks/index.ts';
import { verifyChain } from '../../server/queries/chain.ts';
import { verifyEverything } from '../../server/queries/index.ts';
import { batchDigest, recordBatch } from '../../server/queries/batch.ts';
import { readSubjectList } from '../../server/queries/batch-routes.ts';
import { decryptSubject, entryAad, subjectHmac } from '../../server/queries/subject.ts';
import { setClock } from '../../server/time.ts';

const PURPOSE = '受理當事人依個資法申請查詢';
const ENTRY: { caseNo: string; reason: string; opCode: string; scope: string; queryRequestId?: number } = { caseNo: 'CASE-1150001', reason: '低收入戶資格每月媒體檔交換查核', opCode: 'IN01', scope: '2-1' };
const TABLES = ['query_logs', 'batch_queries', 'batch_subjects'];

describe(`batch queries (${ENGINE})`, function () {
  this.timeout(120_000);
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  const s: Record<string, Signed> = {};
  const ids: Record<string, number> = {};
  const P = [nationalId(31), nationalId(32), nationalId(33)];
  const outsider = nationalId(34);
  const hmac = (v: string) => subjectHmac(t.cfg.SUBJECT_HMAC_KEY, { type: 'national-id', value: v });
  const post = (who: string, url: string, body: unknown) => s[who].agent.post(url).set('X-CSRF-Token', s[who].csrf).send(body as object);
  const search = (who: string, subjectId: string) => post(who, '/api/v1/query-logs/search', { subjectId, purpose: PURPOSE });
  let batchId = 0;

  before(async () => {
    t = await migratedDb({ LOGIN_RATE_PER_MINUTE: '1000' });
    tree = await seedTree(t.db);
    app = appFor(t);
    ids.clerk = await makeUser(t.db, { account: 'clerk.a', unitId: tree.AG1, roles: ['clerk'], permissions: [['2-1', 'IN01']] });
    ids.aud = await makeUser(t.db, { account: 'aud.a', unitId: tree.AG1, roles: ['auditor'] });
    ids.audB = await makeUser(t.db, { account: 'aud.b', unitId: tree.AG2, roles: ['auditor'] });
    ids.checker = await makeUser(t.db, { account: 'checker.a', unitId: tree.AG1, roles: ['checker'], rank: 'section_chief' });
    ENTRY.queryRequestId = await makeApprovedRequest(t.db, { userId: ids.clerk, unitId: tree.AG1 });
    // An ordinary entry of the first person, so who-queried lists both kinds.
    await recordTestEntries(t.db, t.cfg, [{ userId: ids.clerk, account: 'clerk.a', unitId: tree.AG1, subject: { type: 'national-id', value: P[0] } }]);
    for (const [k, a] of [['clerk', 'clerk.a'], ['aud', 'aud.a'], ['audB', 'aud.b']]) s[k] = await signIn(app, a);
  });
  after(() => {
    setClock(null);
    return t.drop();
  });

  it('records a batch through the API as one chained entry: digest over the subjects, document number and file hash; each subject HMAC kept beside it', async () => {
    const fileSha256 = crypto.hash('sha256', 'media file', 'hex');
    // The same person twice in the list (and once full-width) counts once.
    const subjects = [...P, fullWidth(P[0])].map((value) => ({ type: 'national-id', value }));
    const r = await post('clerk', '/api/v1/query-batches', { ...ENTRY, documentNo: '府社救字第 1150012345 號', fileSha256: fileSha256.toUpperCase(), fileName: 'nhi-202611.txt', subjects });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    expect(r.body).to.include({ subjects: 3, duplicates: 1, fileSha256, documentNo: '府社救字第 1150012345 號' });
    batchId = r.body.id;
    expect(r.headers.location).to.equal(`/api/v1/query-batches/${batchId}`);
    const row = await t.db('query_logs').where({ id: batchId }).first();
    expect(row).to.include({ subject_type: 'batch', subject_mask: '批次 3 人', account: 'clerk.a', op_code: 'IN01', case_no: ENTRY.caseNo });
    const side = await t.db('batch_subjects').where({ entry_id: batchId }).orderBy('subject_hmac').pluck('subject_hmac');
    expect(side).to.deep.equal(P.map(hmac).sort());
    const b = await t.db('batch_queries').where({ entry_id: batchId }).first();
    expect(b).to.include({ file_sha256: fileSha256, subject_count: 3, document_no: '府社救字第 1150012345 號', file_name: 'nhi-202611.txt' });
    expect(row.subject_hmac, 'the chained digest covers the set, the file and the letter').to.equal(batchDigest(t.cfg.SUBJECT_HMAC_KEY, { fileSha256, documentNo: b.document_no, count: 3, subjectHmacs: side }));
    // The ciphertext opens under its entry and holds no identifier.
    const plain = decryptSubject([t.cfg.subjectEncKey], row.subject_cipher, entryAad(row));
    for (const p of P) expect(plain + JSON.stringify(b)).to.not.contain(p);
    const chain = await verifyChain(t.db);
    expect(chain.ok).to.equal(true);
    const v = await verifyEverything(t.db, t.cfg);
    expect(v.ok, JSON.stringify(v.breaks)).to.equal(true);
    expect(v.batches.count).to.equal(1);
    // Read back within visibility; another agency's auditor sees nothing.
    const got = await s.aud.agent.get(`/api/v1/query-batches/${batchId}`).set('Accept', 'application/json');
    expect(got.status).to.equal(200);
    expect(got.body).to.include({ id: batchId, subjects: 3, fileSha256, documentNo: '府社救字第 1150012345 號', subject: '批次 3 人' });
    expect((await s.audB.agent.get(`/api/v1/query-batches/${batchId}`).set('Accept', 'application/json')).status).to.equal(404);
  });

  it('refuses a bad batch naming each field (a subject by its position, never its value), with the entry rules, storing nothing', async () => {
    const before = await rowCounts(t, TABLES);
    const r = await post('clerk', '/api/v1/query-batches', {
      ...ENTRY, opCode: 'IN02', queryRequestId: undefined, documentNo: ' ', fileSha256: 'xyz',
      subjects: [{ type: 'national-id', value: P[0] }, { type: 'national-id', value: badCheck(P[1]) }],
    });
    expect(r.status).to.equal(400);
    const fields = r.body.errors.map((e: any) => e.field).sort();
    // The request form rule applies as to any entry (this agency requires one).
    expect(fields).to.deep.equal(['documentNo', 'fileSha256', 'opCode', 'queryRequestId', 'subjects.1.value']);
    expect(JSON.stringify(r.body)).to.not.contain(badCheck(P[1]));
    const empty = await post('clerk', '/api/v1/query-batches', { ...ENTRY, documentNo: '府社字第1號', fileSha256: '0'.repeat(64), subjects: [] });
    expect(empty.status).to.equal(400);
    expect(empty.body.errors.map((e: any) => e.field)).to.deep.equal(['subjects']);
    const nameType = await post('clerk', '/api/v1/query-batches', { ...ENTRY, documentNo: '府社字第1號', fileSha256: '0'.repeat(64), subjects: [{ type: 'other', value: 'x' }] });
    expect(nameType.status).to.equal(400);
    // An auditor has no NHI permission to record under.
    const aud = await post('aud', '/api/v1/query-batches', { ...ENTRY, documentNo: '府社字第1號', fileSha256: '0'.repeat(64), subjects: [{ type: 'national-id', value: P[0] }] });
    expect(aud.status).to.equal(400);
    expect(aud.body.errors.map((e: any) => e.field)).to.include('opCode');
    expect(await rowCounts(t, TABLES)).to.deep.equal(before);
  });

  it('records a batch through the page from an uploaded list file (its SHA-256 computed), a bad line named by its line', async () => {
    const page = await s.clerk.agent.get('/query-batches/new');
    expect(page.status).to.equal(200);
    const csrf = csrfFromHtml(page.text);
    const form = (file: Buffer) => s.clerk.agent.post('/query-batches/new').field('_csrf', csrf).field('caseNo', ENTRY.caseNo).field('reason', ENTRY.reason)
      .field('scope', '2-1').field('opCode', 'IN01').field('queryRequestId', String(ENTRY.queryRequestId)).field('documentNo', '府社救字第1150099999號').attach('file', file, 'list.csv').redirects(0);
    const before = await rowCounts(t, TABLES);
    const bad = await form(Buffer.from(`\uFEFF${P[1]}\n\n${badCheck(P[2])},王小明\n`));
    expect(bad.status).to.equal(400);
    expect(bad.text).to.contain('第 3 列').and.not.contain(badCheck(P[2]));
    expect(await rowCounts(t, TABLES)).to.deep.equal(before);
    const file = Buffer.from(`${P[1]}\r\n${P[2]},王小明\r\n`);
    const ok = await form(file);
    expect(ok.status, ok.text.slice(0, 500)).to.equal(303);
    const id = Number(/\/query-batches\/(\d+)$/.exec(ok.headers.location)![1]);
    const b = await t.db('batch_queries').where({ entry_id: id }).first();
    expect(b).to.include({ file_sha256: crypto.hash('sha256', file, 'hex'), subject_count: 2, file_name: 'list.csv' });
    const shown = await s.clerk.agent.get(`/query-batches/${id}`);
    expect(shown.status).to.equal(200);
    expect(shown.text).to.contain('府社救字第1150099999號').and.not.contain(P[1]);
    expect(readSubjectList(Buffer.from('A123456789\nA800000014\n')).subjects.map((x) => x.type)).to.deep.equal(['national-id', 'resident-certificate']);
  });

  it('"who queried this person" finds the batches that hold the person, beside ordinary entries; a person in none finds none', async () => {
    const first = await search('aud', P[0]);
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
    const found = first.body.items.map((i: any) => [i.subject.type, i.subject.masked]);
    expect(found).to.deep.include(['batch', '批次 3 人']);
    expect(found.filter((f: any) => f[0] === 'national-id')).to.have.length(1);
    expect(first.body.total).to.equal(2);
    const second = await search('aud', P[2]);
    expect(second.body.items.map((i: any) => i.id).sort()).to.have.length(2); // both batches
    expect((await search('aud', outsider)).body.total).to.equal(0);
    // Outside reach the batch is simply absent.
    expect((await search('audB', P[0])).body.total).to.equal(0);
    // The page finds it too.
    const page = await s.aud.agent.get('/query-logs/who');
    const r = await s.aud.agent.post('/query-logs/who').type('form').send({ _csrf: csrfFromHtml(page.text), subjectType: 'national-id', subjectId: P[0], purpose: PURPOSE });
    expect(r.status).to.equal(200);
    expect(r.text).to.contain('批次 3 人');
  });

  it('is sampled like any entry in its month’s check', async () => {
    setClock(() => Date.parse('2026-11-12T02:00:00Z'));
    let id: number;
    try {
      ({ id } = await recordBatch(t.db, t.cfg, { kind: 'session', person: { id: ids.clerk, account: 'clerk.a', unitId: tree.AG1, roles: ['clerk'] }, ip: null },
        { ...ENTRY, documentNo: '府社救字第1150088888號', fileSha256: 'a'.repeat(64), subjects: [{ type: 'national-id', value: P[0] }] }));
    } finally {
      setClock(null);
    }
    expect((await runJob({ cfg: t.cfg, db: t.db }, monthlySamplingJob, { period: '2026-11' })).status).to.equal('ran');
    const check = await t.db('checks').where({ unit_id: tree.AG1, period: '2026-11' }).first();
    const items = (await t.db('check_items').where({ check_id: check.id }).pluck('entry_id')).map(Number);
    expect(items, 'a month of one entry samples it').to.include(id);
  });

  it('verify-log reports a break when a batch’s subjects are removed, added or moved, and passes again once restored', async () => {
    const all = await t.db('batch_subjects').where({ entry_id: batchId }).orderBy('subject_hmac');
    const expectBreak = async (what: string) => {
      const v = await verifyEverything(t.db, t.cfg);
      expect(v.ok, what).to.equal(false);
      expect(v.breaks.map((b) => b.id), what).to.include(batchId);
      expect(v.breaks[0].first, what).to.contain(`entry id ${batchId}`).and.contain('batch');
      expect(v.log.chain.ok, `${what}: the chain itself still verifies`).to.equal(true);
    };
    await t.db('batch_subjects').where({ entry_id: batchId, subject_hmac: all[0].subject_hmac }).del();
    await expectBreak('a subject removed');
    await t.db('batch_subjects').insert({ entry_id: batchId, subject_hmac: all[0].subject_hmac });
    expect((await verifyEverything(t.db, t.cfg)).ok, 'restored').to.equal(true);
    await t.db('batch_subjects').insert({ entry_id: batchId, subject_hmac: hmac(outsider) });
    await expectBreak('a subject added');
    await t.db('batch_subjects').where({ entry_id: batchId, subject_hmac: hmac(outsider) }).del();
    await t.db('batch_subjects').where({ entry_id: batchId, subject_hmac: all[1].subject_hmac }).update({ subject_hmac: hmac(outsider) });
    await expectBreak('a subject swapped for another');
    await t.db('batch_subjects').where({ entry_id: batchId, subject_hmac: hmac(outsider) }).update({ subject_hmac: all[1].subject_hmac });
    await t.db('batch_queries').where({ entry_id: batchId }).update({ document_no: '府社救字第 9999 號' });
    await expectBreak('the document number changed');
    await t.db('batch_queries').where({ entry_id: batchId }).update({ document_no: '府社救字第 1150012345 號' });
    // Rows moved onto an ordinary entry are a break of that entry.
    const plain = await t.db('query_logs').whereNot('subject_type', 'batch').orderBy('id').first('id');
    await t.db('batch_subjects').insert({ entry_id: plain.id, subject_hmac: hmac(outsider) });
    const v = await verifyEverything(t.db, t.cfg);
    expect(v.ok).to.equal(false);
    expect(v.breaks.map((b) => b.id)).to.include(Number(plain.id));
    await t.db('batch_subjects').where({ entry_id: plain.id }).del();
    const final = await verifyEverything(t.db, t.cfg);
    expect(final.ok, JSON.stringify(final.breaks)).to.equal(true);
  });
});
