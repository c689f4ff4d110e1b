// Tamper evidence of the query log on this database: every kind of change (edit, delete, insert,
// swap) is detected and the first bad entry named, by verifyChain, the verify-log command and the
// verify-log job, every break reported, ids out of seq order too (destruction by approval:
// destruction.test.ts); key rotation re-encrypts only subject_cipher; seed-demo leaves a verifying chain and an open form per clerk.
import { expect } from 'chai';
import { ENGINE, migratedDb, testConfig, type TestDb } from '../support/db.ts';
import { cli } from '../support/cli.ts';
import { legacySubjectCipher, makeUser, recordTestEntries, seedTree } from '../support/fixtures.ts';
import { verifyChain, chainHead, appendEntries } from '../../server/queries/chain.ts';
import { openEntrySubject, keyId, cipherKeyId, generateNationalId } from '../../server/queries/subject.ts';
import { rotateSubjectKey } from '../../server/queries/service.ts';
import { runJob } from '../../jobs/runner.ts';
import { verifyLogJob } from '../../server/queries/index.ts';
import { setClock, localDate } from '../../server/time.ts';

const YEAR = 365 * 86_400_000;

async function withEntries(n: number, startAt = Date.now() - n * 60_000): Promise<{ t: TestDb; ids: number[] }> {
  const t = await migratedDb();
  const tree = await seedTree(t.db);
  const uid = await makeUser(t.db, { account: 'clerk.a', unitId: tree.AG1, roles: ['clerk'] });
  const done = await recordTestEntries(t.db, t.cfg, Array.from({ length: n }, (_, i) => ({ userId: uid, account: 'clerk.a', unitId: tree.AG1, queriedAt: startAt + i * 60_000, caseNo: `AG1-${1000 + i}` })));
  return { t, ids: done.map((d) => d.id) };
}

describe(`query log tamper evidence (${ENGINE})`, function () {
  // Generous under a loaded machine: each case creates a database and runs the command line.
  this.timeout(180_000);
  it('an intact chain verifies; verify-log exits 0 and prints the head hash last', async () => {
    const { t } = await withEntries(25);
    const v = await verifyChain(t.db, { pageSize: 7 });
    expect(v.ok).to.equal(true);
    if (!v.ok) return;
    expect(v.count).to.equal(25);
    expect(v.headHash).to.equal((await chainHead(t.db)).hash);
    const r = await cli(['verify-log'], t.env);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim().split('\n').pop()).to.equal(v.headHash);
    await t.drop();
  });

  it('an empty log verifies', async () => {
    const t = await migratedDb();
    expect((await verifyChain(t.db)).ok).to.equal(true);
    await t.drop();
  });

  const cases: Array<[string, (t: TestDb, ids: number[]) => Promise<number | null>]> = [
    ['an edited reason', async (t, ids) => { await t.db('query_logs').where({ id: ids[5] }).update({ reason: '改寫後的事由內容' }); return ids[5]; }],
    ['an edited time', async (t, ids) => { await t.db('query_logs').where({ id: ids[9] }).update({ queried_at: 1 }); return ids[9]; }],
    ['an edited subject HMAC', async (t, ids) => { await t.db('query_logs').where({ id: ids[2] }).update({ subject_hmac: 'f'.repeat(64) }); return ids[2]; }],
    ['a deleted entry in the middle', async (t, ids) => { await t.db('query_logs').where({ id: ids[7] }).del(); return ids[8]; }],
    ['a deleted first entry', async (t, ids) => { await t.db('query_logs').where({ id: ids[0] }).del(); return ids[1]; }],
    ['a deleted last entry', async (t, ids) => { await t.db('query_logs').where({ id: ids[ids.length - 1] }).del(); return null; }],
    ['an inserted entry re-chained in the middle', async (t, ids) => {
      // The attacker shifts later seqs up and slips a well-formed entry in at seq 6.
      const rows = await t.db('query_logs').where('seq', '>=', 6).orderBy('seq', 'desc').select('id', 'seq');
      for (const r of rows) await t.db('query_logs').where({ id: r.id }).update({ seq: Number(r.seq) + 1000 });
      for (const r of rows.reverse()) await t.db('query_logs').where({ id: r.id }).update({ seq: Number(r.seq) + 1 });
      const copy = await t.db('query_logs').where({ id: ids[4] }).first();
      delete copy.id;
      const [id] = await t.db('query_logs').insert({ ...copy, seq: 6, prev_hash: copy.hash, case_no: 'FAKE-1' });
      return Number(id);
    }],
    ['an entry appended outside the log', async (t) => {
      const last = await t.db('query_logs').orderBy('seq', 'desc').first();
      delete last.id;
      const [id] = await t.db('query_logs').insert({ ...last, seq: Number(last.seq) + 1, prev_hash: last.hash });
      return Number(id);
    }],
    ['two entries swapped (content)', async (t, ids) => {
      const a = await t.db('query_logs').where({ id: ids[3] }).first();
      const b = await t.db('query_logs').where({ id: ids[4] }).first();
      const body = (r: any) => ({ case_no: r.case_no, queried_at: r.queried_at, subject_hmac: r.subject_hmac, subject_mask: r.subject_mask, subject_cipher: r.subject_cipher });
      await t.db('query_logs').where({ id: ids[3] }).update(body(b));
      await t.db('query_logs').where({ id: ids[4] }).update(body(a));
      return ids[3];
    }],
    ['two entries swapped (order)', async (t, ids) => {
      await t.db('query_logs').where({ id: ids[3] }).update({ seq: -1 });
      await t.db('query_logs').where({ id: ids[4] }).update({ seq: 4 });
      await t.db('query_logs').where({ id: ids[3] }).update({ seq: 5 });
      return ids[4];
    }],
  ];
  for (const [name, tamper] of cases) {
    it(`detects ${name} and names the first bad entry (function, command and job)`, async () => {
      const { t, ids } = await withEntries(20);
      const bad = await tamper(t, ids);
      const v = await verifyChain(t.db, { pageSize: 6 });
      expect(v.ok).to.equal(false);
      if (v.ok) return;
      expect(v.badId, v.reason).to.equal(bad);
      const r = await cli(['verify-log'], t.env);
      expect(r.code).to.equal(1);
      if (bad != null) expect(r.stdout).to.contain(`id ${bad}`);
      const job = await runJob({ cfg: t.cfg, db: t.db }, verifyLogJob, {});
      expect(job.status).to.equal('failed');
      const ev = await t.db('system_events').where({ action: 'query-log.verify', outcome: 'failed' }).first();
      expect(ev).to.not.equal(undefined);
      await t.drop();
    });
  }

  it('reports every break, the first in chain order first, not only the first', async () => {
    const { t, ids } = await withEntries(20);
    await t.db('query_logs').where({ id: ids[12] }).update({ reason: '改寫二' });
    await t.db('query_logs').where({ id: ids[5] }).update({ reason: '改寫一' });
    await t.db('query_logs').where({ id: ids[17] }).del();
    const v = await verifyChain(t.db, { pageSize: 4 });
    expect(v.ok).to.equal(false);
    if (v.ok) return;
    expect(v.badId).to.equal(ids[5]);
    expect(v.breaks.map((b) => b.id)).to.deep.equal([ids[5], ids[12], ids[18]]);
    const r = await cli(['verify-log'], t.env);
    expect(r.code).to.equal(1);
    expect(r.stdout.split('\n')[0]).to.equal(`query log BROKEN: first bad entry id ${ids[5]} (seq 6): its content does not match its hash: the entry was changed`);
    expect(r.stdout).to.contain(`entry id ${ids[12]} (seq 13)`).and.contain(`entry id ${ids[18]} (seq 19)`).and.contain('3 breaks in all');
    await t.drop();
  });

  it('detects two whole rows swapped between ids (seq and hashes included): id order must be seq order', async () => {
    const { t, ids } = await withEntries(10);
    const a = await t.db('query_logs').where({ id: ids[3] }).first();
    const b = await t.db('query_logs').where({ id: ids[4] }).first();
    const body = (r: any) => { const { id, ...rest } = r; void id; return rest; };
    await t.db('query_logs').where({ id: a.id }).update({ ...body(b), seq: -1 });
    await t.db('query_logs').where({ id: b.id }).update(body(a));
    await t.db('query_logs').where({ id: a.id }).update({ seq: b.seq });
    const v = await verifyChain(t.db);
    expect(v.ok).to.equal(false);
    if (v.ok) return;
    expect(v.badId).to.equal(ids[3]);
    expect(v.reason).to.contain('swapped between ids');
    expect((await cli(['verify-log'], t.env)).code).to.equal(1);
    await t.drop();
  });

  it('verify-log also walks the chained system events: an edited event fails it, the intact ones are counted', async () => {
    const { t } = await withEntries(3);
    const { recordEvent } = await import('../../server/events/service.ts');
    for (let i = 0; i < 4; i++) await recordEvent(t.db, { id: null, account: 'tester', ip: null }, { action: 'user.grant', detail: { n: i } });
    const ok = await cli(['verify-log'], t.env);
    expect(ok.code, ok.stdout).to.equal(0);
    expect(ok.stdout).to.match(/system events intact: \d+ events verified/);
    const ev = await t.db('system_events').where({ action: 'user.grant' }).orderBy('id').first('id');
    await t.db('system_events').where({ id: ev.id }).update({ action: 'user.revoke' });
    const bad = await cli(['verify-log'], t.env);
    expect(bad.code).to.equal(1);
    expect(bad.stdout.split('\n')[0]).to.equal(`system events BROKEN: first bad system event id ${ev.id}: ` + bad.stdout.split('\n')[0].split(`id ${ev.id}: `)[1]);
    expect(bad.stdout).to.contain('the query log itself verified: 3 entries');
    await t.drop();
  });

  it('verify-log opens every subject ciphertext under its own entry: a cipher swap fails it, naming both entries', async () => {
    const { t, ids } = await withEntries(6);
    const a = await t.db('query_logs').where({ id: ids[1] }).first('subject_cipher');
    const b = await t.db('query_logs').where({ id: ids[4] }).first('subject_cipher');
    await t.db('query_logs').where({ id: ids[1] }).update({ subject_cipher: b.subject_cipher });
    await t.db('query_logs').where({ id: ids[4] }).update({ subject_cipher: a.subject_cipher });
    expect((await verifyChain(t.db)).ok, 'the chain alone does not see it').to.equal(true);
    const r = await cli(['verify-log'], t.env);
    expect(r.code).to.equal(1);
    expect(r.stdout.split('\n')[0]).to.match(new RegExp(`^query log BROKEN: first bad entry id ${ids[1]} \\(seq 2\\): `));
    expect(r.stdout).to.contain(`entry id ${ids[4]} (seq 5)`).and.contain('2 breaks in all');
    await t.drop();
  });

  it('the daily verify-log job runs once per day and records the head', async () => {
    const { t } = await withEntries(5);
    const r = await runJob({ cfg: t.cfg, db: t.db }, verifyLogJob, {});
    expect(r.status).to.equal('ran');
    expect((await runJob({ cfg: t.cfg, db: t.db }, verifyLogJob, {})).status).to.equal('already-done');
    await t.drop();
  });

  it('concurrent appends interleave into one valid chain', async () => {
    const { t } = await withEntries(1);
    const [u] = await t.db('users').select('id', 'unit_id');
    const mk = (i: number) => ({ user_id: u.id, account: 'clerk.a', unit_id: u.unit_id, queried_at: Date.now(), op_code: 'IN01', scope_code: '2-1', query_request_id: null, case_no: `P-${i}`, reason: '平行寫入測試', subject_type: 'other', subject_hmac: 'a'.repeat(64), subject_cipher: 'x', subject_mask: '**', client_ip: null, source: 'api', token_id: null });
    await Promise.all(Array.from({ length: 8 }, (_, i) => t.db.transaction((trx) => appendEntries(trx, [mk(i * 2), mk(i * 2 + 1)]))));
    const v = await verifyChain(t.db);
    expect(v.ok, JSON.stringify(v)).to.equal(true);
    if (v.ok) expect(v.count).to.equal(17);
    await t.drop();
  });
});

describe(`subject key rotation (${ENGINE})`, function () {
  // Generous under a loaded machine: each case creates a database and runs the command line.
  this.timeout(180_000);
  it('re-encrypts every subject from the previous key, leaves hashes alone, and is idempotent', async () => {
    const { t, ids } = await withEntries(30);
    const oldKey = t.cfg.subjectEncKey;
    const newKeyB64 = Buffer.alloc(32, 9).toString('base64');
    const before = await t.db('query_logs').orderBy('id').select('id', 'hash', 'subject_cipher', 'subject_type', 'subject_hmac', 'user_id', 'queried_at');
    const plain = before.map((r: any) => openEntrySubject([oldKey], r));
    const cfg2 = testConfig(t.env, { SUBJECT_ENC_KEY: newKeyB64, SUBJECT_ENC_KEY_PREVIOUS: oldKey.toString('base64') });
    // A form with expected subjects under the old key too (stored before binding: v1).
    const [u] = await t.db('users').select('id', 'unit_id');
    const scope = await t.db('scopes').where({ code: '2-1' }).first('id');
    await t.db('query_requests').insert({ unit_id: u.unit_id, requester_id: u.id, case_no: 'C-1', purpose: '辦理個案服務', scope_id: scope.id, expected_subjects_cipher: legacySubjectCipher(oldKey, JSON.stringify([{ type: 'national-id', value: generateNationalId() }])), valid_from: '2026-01-01', valid_to: '2026-12-31', status: 'approved', created_at: Date.now() });
    const r = await cli(['rotate-subject-key', '--batch', '7'], { ...t.env, SUBJECT_ENC_KEY: newKeyB64, SUBJECT_ENC_KEY_PREVIOUS: oldKey.toString('base64') });
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect(r.stdout).to.contain('30 query log subjects').and.contain('1 request forms');
    const after = await t.db('query_logs').orderBy('id').select('id', 'hash', 'subject_cipher', 'subject_type', 'subject_hmac', 'user_id', 'queried_at');
    expect(after.map((a: any) => a.hash)).to.deep.equal(before.map((b: any) => b.hash));
    expect(after.every((a: any) => cipherKeyId(a.subject_cipher) === keyId(cfg2.subjectEncKey))).to.equal(true);
    expect(after.map((a: any) => openEntrySubject([cfg2.subjectEncKey], a))).to.deep.equal(plain);
    expect((await verifyChain(t.db)).ok).to.equal(true);
    const again = await rotateSubjectKey(t.db, cfg2);
    expect(again).to.deep.equal({ queryLogs: 0, queryRequests: 0, sourceRecords: 0 });
    expect(await t.db('system_events').where({ action: 'subject-key.rotate' }).first()).to.not.equal(undefined);
    // Without a previous key the command explains itself.
    const none = await cli(['rotate-subject-key'], { ...t.env, SUBJECT_ENC_KEY: newKeyB64 });
    expect(none.code).to.equal(2);
    void ids;
    await t.drop();
  });
});

describe(`seed-demo query data (${ENGINE})`, function () {
  // Generous under a loaded machine: each case creates a database and runs the command line.
  this.timeout(180_000);
  it('13 months of entries, an approved open form for every demo clerk, a verifying chain, idempotent', async function () {
    this.timeout(240_000);
    const t = await migratedDb();
    const r = await cli(['seed-demo', '--password', 'Demo-Passw0rd-9', '--json'], t.env);
    expect(r.code, r.stderr).to.equal(0);
    const n = Number((await t.db('query_logs').count({ n: '*' }))[0].n);
    expect(n).to.be.within(1500, 20000);
    const clerks = await t.db('users as u').join('user_roles as r', 'r.user_id', 'u.id').where('r.role', 'clerk').andWhere('u.status', 'active').select('u.id', 'u.account');
    const today = localDate(Date.now());
    for (const c of clerks) {
      const form = await t.db('query_requests').where({ requester_id: c.id, status: 'approved' }).andWhere('valid_from', '<=', today).andWhere('valid_to', '>=', today).first('id');
      expect(form, c.account).to.not.equal(undefined);
    }
    const span = await t.db('query_logs').min({ a: 'queried_at' }).max({ b: 'queried_at' }).first();
    expect(Date.now() - Number(span!.a)).to.be.greaterThan(365 * 86_400_000);
    const afterHours = (await t.db('query_logs').select('queried_at')).filter((x: any) => { const h = new Date(Number(x.queried_at) + 8 * 3_600_000).getUTCHours(); return h < 8 || h >= 18; }).length;
    expect(afterHours).to.be.greaterThan(0).and.lessThan(n * 0.2);
    const v = await cli(['verify-log'], t.env);
    expect(v.code, v.stdout + v.stderr).to.equal(0);
    const again = await cli(['seed-demo', '--password', 'Demo-Passw0rd-9'], t.env);
    expect(again.code).to.equal(0);
    expect(Number((await t.db('query_logs').count({ n: '*' }))[0].n)).to.equal(n);
    await t.drop();
  });
});
