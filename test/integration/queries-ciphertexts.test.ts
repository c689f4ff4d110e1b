// Ciphertexts bound to their entry (issue 15): a subject ciphertext swapped between entries, or
// moved to another clerk's or another time's entry, is refused on reveal (never the other person's
// ID) and reported by verifyCiphertexts; legacy unbound ciphertexts still reveal and are bound by
// key rotation, which keeps every entry opening and binding.
import { expect } from 'chai';
import crypto from 'node:crypto';
import { ENGINE, migratedDb, testConfig, type TestDb } from '../support/db.ts';
import { appFor, signIn, type Signed } from '../support/app.ts';
import { legacySubjectCipher, makeApprovedRequest, makeUser, recordTestEntries, seedTree, type Tree } from '../support/fixtures.ts';
import { verifyChain } from '../../server/queries/chain.ts';
import { verifyCiphertexts } from '../../server/queries/ciphertexts.ts';
import { rotateSubjectKey } from '../../server/queries/service.ts';
import { generateNationalId, keyId, openEntrySubject, SubjectCipherError } from '../../server/queries/subject.ts';

const IDENTITY = ['id', 'subject_cipher', 'subject_type', 'subject_hmac', 'user_id', 'queried_at'] as const;

async function setUp(t: TestDb) {
  const tree: Tree = await seedTree(t.db);
  const ids = {
    clerkA: await makeUser(t.db, { account: 'clerk.a', unitId: tree.AG1, roles: ['clerk'], permissions: [['2-1', 'IN01']] }),
    clerkB: await makeUser(t.db, { account: 'clerk.b', unitId: tree.AG1U1, roles: ['clerk'], permissions: [['2-1', 'IN01']] }),
    auditor: await makeUser(t.db, { account: 'plan.auditor', unitId: tree.PLAN, roles: ['auditor'] }),
  };
  return { tree, ids };
}

describe(`subject ciphertexts bound to their entry (${ENGINE})`, function () {
  // Generous under a loaded machine: each case creates a database.
  this.timeout(180_000);
  let t: TestDb;
  let tree: Tree;
  let ids: Awaited<ReturnType<typeof setUp>>['ids'];
  let auditor: Signed;
  const people = Array.from({ length: 8 }, () => generateNationalId());
  const reveal = (id: number, who = auditor) => who.agent.post(`/api/v1/query-logs/${id}/subject`).set('X-CSRF-Token', who.csrf);
  const cipherOf = async (id: number): Promise<string> => (await t.db('query_logs').where({ id }).first('subject_cipher')).subject_cipher;
  // The attacker's write: test code only (the app never updates an entry outside rotation).
  const setCipher = (id: number, c: string) => t.db('query_logs').where({ id }).update({ subject_cipher: c });
  const entry = (who: 'A' | 'B', person: string, queriedAt: number) =>
    ({ userId: who === 'A' ? ids.clerkA : ids.clerkB, account: who === 'A' ? 'clerk.a' : 'clerk.b', unitId: who === 'A' ? tree.AG1 : tree.AG1U1, queriedAt, subject: { type: 'national-id' as const, value: person } });

  before(async () => {
    t = await migratedDb();
    ({ tree, ids } = await setUp(t));
    auditor = await signIn(appFor(t), 'plan.auditor');
  });
  after(() => t.drop());

  it('records through the API bound to the entry: v2, opening only under its own clerk and time', async () => {
    const app = appFor(t);
    const clerk = await signIn(app, 'clerk.a');
    const form = await makeApprovedRequest(t.db, { userId: ids.clerkA, unitId: tree.AG1, scope: '2-1' });
    const res = await clerk.agent.post('/api/v1/query-logs').set('X-CSRF-Token', clerk.csrf)
      .send({ caseNo: 'AG1-1130001', reason: '個案訪視前確認投保狀態', opCode: 'IN01', scope: '2-1', queryRequestId: form, subject: { type: 'national-id', value: people[7] } });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const row = await t.db('query_logs').where({ id: res.body.id }).first(IDENTITY);
    expect(row.subject_cipher.startsWith(`v2.${keyId(t.cfg.subjectEncKey)}.`)).to.equal(true);
    expect(openEntrySubject([t.cfg.subjectEncKey], row)).to.equal(people[7]);
    expect(() => openEntrySubject([t.cfg.subjectEncKey], { ...row, user_id: ids.clerkB })).to.throw(SubjectCipherError);
    expect(() => openEntrySubject([t.cfg.subjectEncKey], { ...row, queried_at: Number(row.queried_at) + 1 })).to.throw(SubjectCipherError);
    expect((await reveal(res.body.id)).body).to.deep.equal({ type: 'national-id', value: people[7] });
  });

  it('a subject_cipher swapped between two people’s entries: reveal refuses both (409, no ID in the body, an alert), verifyCiphertexts names both', async () => {
    const base = Date.now() - 3_600_000;
    const [a, b, c] = await recordTestEntries(t.db, t.cfg, [entry('A', people[0], base), entry('B', people[1], base + 60_000), entry('A', people[2], base + 120_000)]);
    expect((await reveal(a.id)).body.value).to.equal(people[0]);
    expect((await verifyCiphertexts(t.db, t.cfg)).badCount).to.equal(0);
    const [ca, cb] = [await cipherOf(a.id), await cipherOf(b.id)];
    await setCipher(a.id, cb);
    await setCipher(b.id, ca);
    try {
      // The chain alone does not see it: the ciphertext lies outside the hash so keys can rotate.
      expect((await verifyChain(t.db)).ok).to.equal(true);
      for (const [id, own, other] of [[a.id, people[0], people[1]], [b.id, people[1], people[0]]] as const) {
        const r = await reveal(id);
        expect(r.status, r.text).to.equal(409);
        expect(r.body.type).to.match(/subject-mismatch$/);
        expect(r.body.detail).to.contain('竄改');
        expect(r.text).not.to.contain(other).and.not.to.contain(own).and.not.to.contain(other.slice(3, 7));
        // The page's reveal button: an error page saying so, not a 500 and not the other ID.
        const page = await auditor.agent.post(`/query-logs/${id}/reveal`).set('Accept', 'text/html').type('form').send({ _csrf: auditor.csrf });
        expect(page.status).to.equal(409);
        expect(page.text).to.contain('竄改').and.not.to.contain(other).and.not.to.contain(own);
      }
      const alerts = await t.db('system_events').where({ action: 'query-log.subject-mismatch' }).whereIn('target_id', [String(a.id), String(b.id)]).select('actor_account', 'detail', 'unit_id');
      expect(alerts).to.have.length(4); // two through the API, two through the page
      expect(alerts.every((e: any) => e.actor_account === 'plan.auditor')).to.equal(true);
      expect(JSON.stringify(alerts)).not.to.contain(people[0]).and.not.to.contain(people[1]);
      // Only the reveal before the swap was recorded as a display.
      expect(Number((await t.db('system_events').where({ action: 'query-log.subject-reveal', outcome: 'ok' }).whereIn('target_id', [String(a.id), String(b.id)]).count({ n: '*' }))[0].n)).to.equal(1);
      const v = await verifyCiphertexts(t.db, t.cfg, { pageSize: 2 });
      expect(v.bad.map((x) => x.id)).to.deep.equal([a.id, b.id]);
      expect(v.bad.map((x) => x.seq)).to.deep.equal([a.seq, b.seq]);
      expect(v.badCount).to.equal(2);
      expect(v.count).to.equal(Number((await t.db('query_logs').count({ n: '*' }))[0].n));
      expect(v.bad.every((x) => /moved from another entry/.test(x.reason))).to.equal(true);
      expect((await reveal(c.id)).body.value).to.equal(people[2]);
    } finally {
      await setCipher(a.id, ca);
      await setCipher(b.id, cb);
    }
    expect((await verifyCiphertexts(t.db, t.cfg)).badCount).to.equal(0);
  });

  it('the same person’s ciphertext moved to another clerk’s entry, or to another time of the same clerk: detected', async () => {
    const base = Date.now() - 7_200_000;
    const [d, e, f] = await recordTestEntries(t.db, t.cfg, [entry('A', people[3], base), entry('B', people[3], base + 60_000), entry('A', people[3], base + 120_000)]);
    const [ce, cf] = [await cipherOf(e.id), await cipherOf(f.id)];
    const cd = await cipherOf(d.id);
    await setCipher(e.id, cd); // another clerk
    await setCipher(f.id, cd); // same clerk, another time
    try {
      // Same person, so the HMAC agrees: only the binding tells the entries apart.
      for (const id of [e.id, f.id]) expect((await reveal(id)).status, String(id)).to.equal(409);
      expect((await reveal(d.id)).body.value).to.equal(people[3]);
      const v = await verifyCiphertexts(t.db, t.cfg);
      expect(v.bad.map((x) => x.id)).to.deep.equal([e.id, f.id]);
    } finally {
      await setCipher(e.id, ce);
      await setCipher(f.id, cf);
    }
  });

  it('a legacy (v1, unbound) row still reveals and counts as unbound, not a break; a swapped legacy pair is still refused (HMAC check)', async () => {
    const base = Date.now() - 10_800_000;
    const [g, h] = await recordTestEntries(t.db, t.cfg, [entry('A', people[4], base), entry('B', people[5], base + 60_000)]);
    const [cg, ch] = [await cipherOf(g.id), await cipherOf(h.id)];
    const [lg, lh] = [legacySubjectCipher(t.cfg.subjectEncKey, people[4]), legacySubjectCipher(t.cfg.subjectEncKey, people[5])];
    await setCipher(g.id, lg);
    await setCipher(h.id, lh);
    try {
      expect((await reveal(g.id)).body).to.deep.equal({ type: 'national-id', value: people[4] });
      let v = await verifyCiphertexts(t.db, t.cfg);
      expect(v.unbound).to.equal(2);
      expect(v.badCount).to.equal(0);
      await setCipher(g.id, lh);
      await setCipher(h.id, lg);
      const r = await reveal(g.id);
      expect(r.status).to.equal(409);
      expect(r.text).not.to.contain(people[5]);
      v = await verifyCiphertexts(t.db, t.cfg);
      expect(v.bad.map((x) => x.id)).to.deep.equal([g.id, h.id]);
      expect(v.bad[0].reason).to.match(/other than the one its subject_hmac names/);
    } finally {
      await setCipher(g.id, cg);
      await setCipher(h.id, ch);
    }
  });
});

describe(`subject key rotation with bound ciphertexts (${ENGINE})`, function () {
  this.timeout(180_000);
  it('SUBJECT_ENC_KEY_PREVIOUS → SUBJECT_ENC_KEY: everything opens before and after; legacy rows are bound; a tampered row is left as evidence; idempotent', async () => {
    const t = await migratedDb();
    try {
      const { tree, ids } = await setUp(t);
      const people = Array.from({ length: 12 }, () => generateNationalId());
      const base = Date.now() - 86_400_000;
      const done = await recordTestEntries(t.db, t.cfg, people.map((p, i) => ({ userId: i % 2 ? ids.clerkB : ids.clerkA, account: i % 2 ? 'clerk.b' : 'clerk.a', unitId: i % 2 ? tree.AG1U1 : tree.AG1, queriedAt: base + i * 60_000, subject: { type: 'national-id' as const, value: p } })));
      const oldKey = t.cfg.subjectEncKey;
      const newKey = crypto.randomBytes(32).toString('base64');
      // Entry 0 stored before binding; entries 1 and 2 swapped by an attacker.
      await t.db('query_logs').where({ id: done[0].id }).update({ subject_cipher: legacySubjectCipher(oldKey, people[0]) });
      const c1 = (await t.db('query_logs').where({ id: done[1].id }).first('subject_cipher')).subject_cipher;
      const c2 = (await t.db('query_logs').where({ id: done[2].id }).first('subject_cipher')).subject_cipher;
      await t.db('query_logs').where({ id: done[1].id }).update({ subject_cipher: c2 });
      await t.db('query_logs').where({ id: done[2].id }).update({ subject_cipher: c1 });
      const cfg2 = testConfig(t.env, { SUBJECT_ENC_KEY: newKey, SUBJECT_ENC_KEY_PREVIOUS: oldKey.toString('base64') });
      const app2 = appFor({ ...t, cfg: cfg2 });
      const auditor = await signIn(app2, 'plan.auditor');
      const reveal = (id: number) => auditor.agent.post(`/api/v1/query-logs/${id}/subject`).set('X-CSRF-Token', auditor.csrf);
      const tampered = [done[1].id, done[2].id];

      // During the rotation window both keys are configured: everything opens.
      let v = await verifyCiphertexts(t.db, cfg2);
      expect(v).to.deep.include({ count: 12, unbound: 1, badCount: 2 });
      expect(v.bad.map((x) => x.id)).to.deep.equal(tampered);
      expect((await reveal(done[0].id)).body.value).to.equal(people[0]);
      expect((await reveal(done[5].id)).body.value).to.equal(people[5]);

      // Without the previous key nothing under it can be vouched for: each is reported, naming why.
      const early = await verifyCiphertexts(t.db, testConfig(t.env, { SUBJECT_ENC_KEY: newKey }));
      expect(early.badCount).to.equal(12);
      expect(early.bad.every((x) => /key that is not configured/.test(x.reason))).to.equal(true);

      const r = await rotateSubjectKey(t.db, cfg2, { batch: 5 });
      expect(r).to.deep.equal({ queryLogs: 10, queryRequests: 0, sourceRecords: 0 });
      const rows = await t.db('query_logs').orderBy('id').select(IDENTITY);
      for (const [i, row] of rows.entries()) {
        if (tampered.includes(Number(row.id))) continue;
        expect(row.subject_cipher.startsWith(`v2.${keyId(cfg2.subjectEncKey)}.`), String(i)).to.equal(true);
        expect(openEntrySubject([cfg2.subjectEncKey], row)).to.equal(people[i]);
        expect(() => openEntrySubject([cfg2.subjectEncKey], { ...row, queried_at: Number(row.queried_at) + 60_000 })).to.throw(SubjectCipherError);
      }
      // The swapped pair is left as it was (not re-bound to the wrong entry), and still reported.
      expect((await t.db('query_logs').whereIn('id', tampered).orderBy('id').pluck('subject_cipher'))).to.deep.equal([c2, c1]);
      const ev = await t.db('system_events').where({ action: 'subject-key.rotate' }).first('detail');
      expect(JSON.parse(typeof ev.detail === 'string' ? ev.detail : JSON.stringify(ev.detail))).to.deep.include({ queryLogs: 10, left: 2 });

      // After the rotation the new key alone opens every good entry.
      const cfg3 = testConfig(t.env, { SUBJECT_ENC_KEY: newKey });
      v = await verifyCiphertexts(t.db, cfg3);
      expect(v).to.deep.include({ count: 12, unbound: 0, badCount: 2 });
      expect(v.bad.map((x) => x.id)).to.deep.equal(tampered);
      expect((await reveal(done[0].id)).body.value).to.equal(people[0]);
      expect((await reveal(done[11].id)).body.value).to.equal(people[11]);
      expect((await reveal(done[1].id)).status).to.equal(409);
      expect((await verifyChain(t.db)).ok).to.equal(true);
      expect(await rotateSubjectKey(t.db, cfg2)).to.deep.equal({ queryLogs: 0, queryRequests: 0, sourceRecords: 0 });
    } finally {
      await t.drop();
    }
  });
});
