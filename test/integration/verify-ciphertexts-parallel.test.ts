// verify-log opens the ciphertexts from the chain walk's own pages, in worker threads (CipherPool,
// issue 15's benchmark): it must find exactly what the single-threaded verifyCiphertexts finds —
// the same breaks, in seq order, with the same counts, the cap on listed breaks and rows outside the
// walk's range included — and skip destroyed entries, counting them apart.
import { expect } from 'chai';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { legacySubjectCipher, makeUser, recordTestEntries, seedTree } from '../support/fixtures.ts';
import { GENESIS, verifyChain } from '../../server/queries/chain.ts';
import { CipherPool, verifyCiphertexts, type CipherCheck } from '../../server/queries/ciphertexts.ts';
import { generateNationalId } from '../../server/queries/subject.ts';
import { verifyEverything } from '../../server/queries/index.ts';

describe(`verify-log's ciphertext check in worker threads (${ENGINE})`, function () {
  this.timeout(180_000);
  let t: TestDb;
  let ids: number[];
  let seqs: number[];
  const people = Array.from({ length: 30 }, () => generateNationalId());

  /** The pooled check as verify-log runs it: fed by the chain walk's pages, then finished. */
  async function pooled(workers: number, pageSize: number, maxReported?: number): Promise<CipherCheck> {
    const pool = new CipherPool(t.cfg, { workers, maxReported });
    try {
      await verifyChain(t.db, { pageSize, pages: pool });
      return await pool.finish(t.db, { pageSize });
    } finally {
      pool.close();
    }
  }

  before(async () => {
    t = await migratedDb();
    const tree = await seedTree(t.db);
    const a = await makeUser(t.db, { account: 'clerk.a', unitId: tree.AG1, roles: ['clerk'] });
    const base = Date.now() - 3_600_000;
    const done = await recordTestEntries(t.db, t.cfg, people.map((p, i) => ({ userId: a, account: 'clerk.a', unitId: tree.AG1, queriedAt: base + i * 60_000, subject: { type: 'national-id' as const, value: p } })));
    ids = done.map((d) => d.id);
    seqs = done.map((d) => d.seq);
    const cipher = async (i: number) => (await t.db('query_logs').where({ id: ids[i] }).first('subject_cipher')).subject_cipher as string;
    const set = (i: number, c: string) => t.db('query_logs').where({ id: ids[i] }).update({ subject_cipher: c });
    // The attacker's writes (and one legacy row): a swap far apart, a garbled one, a legacy swap.
    const [c3, c26] = [await cipher(3), await cipher(26)];
    await set(3, c26);
    await set(26, c3);
    await set(11, 'v9.garbled');
    await set(17, legacySubjectCipher(t.cfg.subjectEncKey, people[17]));
    await set(20, legacySubjectCipher(t.cfg.subjectEncKey, people[21]));
    // An entry destroyed by an approved destruction: its subject blanked, nothing to open.
    await t.db('query_logs').where({ id: ids[8] }).update({ destruction_id: 1, subject_hmac: '', subject_cipher: '', subject_mask: '' });
    // A row placed beyond the chain head (outside the walk), with another entry's ciphertext.
    const last = await t.db('query_logs').where({ id: ids[29] }).first();
    const { id: _id, ...copy } = last;
    await t.db('query_logs').insert({ ...copy, seq: Number(last.seq) + 1, prev_hash: last.hash, hash: GENESIS, subject_cipher: c3 });
  });
  after(() => t.drop());

  it('finds what verifyCiphertexts finds, in seq order, with workers or without, whatever the page size', async () => {
    const ref = await verifyCiphertexts(t.db, t.cfg);
    const beyond = await t.db('query_logs').where('seq', '>', seqs[29]).first('id', 'seq');
    expect(ref.bad.map((b) => b.id)).to.deep.equal([ids[3], ids[11], ids[20], ids[26], Number(beyond.id)]);
    expect(ref).to.deep.include({ count: 30, unbound: 1, destroyed: 1, badCount: 5 });
    for (const workers of [0, 1, 2]) {
      for (const pageSize of [1, 4, 1000]) {
        expect(await pooled(workers, pageSize), `${workers} workers, pages of ${pageSize}`).to.deep.equal(ref);
      }
    }
  });

  it('lists at most maxReported breaks, the first in seq order, and counts them all', async () => {
    const ref = await verifyCiphertexts(t.db, t.cfg, { maxReported: 2 });
    expect(ref.bad.map((b) => b.id)).to.deep.equal([ids[3], ids[11]]);
    expect(ref.badCount).to.equal(5);
    expect(await pooled(2, 3, 2)).to.deep.equal(ref);
  });

  it('a worker that dies mid-walk: the pages it held and those after are checked in this thread, the result unchanged', async () => {
    const ref = await verifyCiphertexts(t.db, t.cfg);
    const pool = new CipherPool(t.cfg, { workers: 1 });
    try {
      const cols = ['id', 'seq', 'user_id', 'queried_at', 'subject_type', 'subject_hmac', 'subject_cipher', 'destruction_id', 'hash'];
      const rows = (await t.db('query_logs').where('seq', '<=', seqs[29]).orderBy('seq').select(cols)).map((r: Record<string, unknown>) => cols.map((c) => r[c]));
      pool.onPage(rows.slice(0, 10), cols);
      pool.onPage(rows.slice(10, 20), cols);
      await (pool as unknown as { workers: Array<{ terminate(): Promise<number> }> }).workers[0].terminate();
      pool.onPage(rows.slice(20), cols);
      expect(await pool.finish(t.db)).to.deep.equal(ref);
    } finally {
      pool.close();
    }
  });

  it('verifyEverything (the command and the daily job) reports the same ciphertext breaks, after the chain’s', async () => {
    const v = await verifyEverything(t.db, t.cfg);
    expect(v.ciphers).to.deep.equal(await verifyCiphertexts(t.db, t.cfg, { maxReported: 1000 }));
    const cipherLines = v.breaks.slice(v.log.breaks.length).map((b) => b.text);
    expect(cipherLines[0]).to.equal(`entry id ${ids[3]} (seq ${seqs[3]}): its subject ciphertext does not open under this entry (user, time, subject): it was moved from another entry or changed`);
    expect(cipherLines[1]).to.equal(`entry id ${ids[11]} (seq ${seqs[11]}): its subject ciphertext is not in a recognised form`);
    expect(cipherLines[2]).to.equal(`entry id ${ids[20]} (seq ${seqs[20]}): its subject ciphertext is a person other than the one its subject_hmac names: the ciphertext was swapped`);
    expect(v.ok).to.equal(false);
  });
});
