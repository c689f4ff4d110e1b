// The chain hash: canonical text in a fixed order, the ciphertext outside it, every recorded
// field inside it.
import { expect } from 'chai';
import { canonical, chainHash, GENESIS, sortBreaks, type EntryFields } from '../../server/queries/chain.ts';
import { headPayload, parseHead } from '../../server/queries/checkpoints.ts';
import { hourPeriod } from '../../jobs/periods.ts';

const e: EntryFields & { seq: number } = {
  seq: 1, user_id: 3, account: 'clerk.a', unit_id: 2, queried_at: 1_760_000_000_000, op_code: 'IN01', scope_code: '2-1', query_request_id: 7,
  case_no: 'AG1-1', reason: '個案訪視前確認', subject_type: 'national-id', subject_hmac: 'a'.repeat(64), subject_cipher: 'v1.x.y.z.w', subject_mask: 'A12****789',
  client_ip: '10.0.0.1', source: 'web', token_id: null,
};

describe('query log chain hash', () => {
  it('is deterministic and independent of numbers arriving as strings (MariaDB)', () => {
    const h = chainHash(GENESIS, e);
    expect(h).to.match(/^[0-9a-f]{64}$/);
    expect(chainHash(GENESIS, { ...e, seq: '1' as any, user_id: '3' as any, queried_at: '1760000000000' as any, query_request_id: '7' as any })).to.equal(h);
  });
  it('keeps the hash of a recorded entry unchanged (fixed vectors: stored chains must still verify)', () => {
    expect(canonical(e)).to.equal(`[1,3,"clerk.a",2,1760000000000,"IN01","2-1",7,"AG1-1","個案訪視前確認","national-id","${'a'.repeat(64)}","A12****789","10.0.0.1","web",null]`);
    expect(chainHash(GENESIS, e)).to.equal('16aafd7bb0b127af2e3f7273cacdbd2b8c8f3c7f5277f093325d9b81de93269d');
    expect(chainHash(GENESIS, { ...e, client_ip: undefined as any, query_request_id: null, token_id: 5 })).to.equal('6ee83537d8b1e30fe99ec864f22f0410ef634aff1efd1c2b83a8f83aa09ebb53');
  });
  it('leaves the subject ciphertext out, so the key can be rotated', () => {
    expect(chainHash(GENESIS, { ...e, subject_cipher: 'v1.other' } as typeof e)).to.equal(chainHash(GENESIS, e));
    expect(canonical(e)).not.to.contain('v1.x.y.z.w');
  });
  it('covers every recorded field and the previous hash', () => {
    const h = chainHash(GENESIS, e);
    const changes: Array<Partial<EntryFields & { seq: number }>> = [
      { seq: 2 }, { user_id: 4 }, { account: 'clerk.b' }, { unit_id: 5 }, { queried_at: e.queried_at + 1 }, { op_code: 'IN02' }, { scope_code: '2-8' },
      { query_request_id: null }, { case_no: 'AG1-2' }, { reason: '個案訪視前確認。' }, { subject_type: 'other' }, { subject_hmac: 'b'.repeat(64) },
      { subject_mask: 'A12****788' }, { client_ip: null }, { source: 'api' }, { token_id: 1 },
    ];
    for (const c of changes) expect(chainHash(GENESIS, { ...e, ...c }), JSON.stringify(c)).not.to.equal(h);
    expect(chainHash('1'.repeat(64), e)).not.to.equal(h);
  });
  it('cannot be confused by field boundaries (JSON array encoding)', () => {
    expect(chainHash(GENESIS, { ...e, case_no: 'AG1-1", "x', reason: 'r' })).not.to.equal(chainHash(GENESIS, { ...e, case_no: 'AG1-1', reason: 'x", "r' }));
  });
});

describe('query log breaks and checkpoints', () => {
  it('lists breaks in chain order, those without a seq last, the walk\'s order kept within a seq', () => {
    const b = (seq: number | null, reason: string) => ({ id: null, seq, reason });
    expect(sortBreaks([b(null, 'w'), b(9, 'x'), b(3, 'y'), b(9, 'z')]).map((x) => x.reason)).to.deep.equal(['y', 'x', 'z', 'w']);
  });
  it('reads a printed head SEQ:HASH and refuses anything else', () => {
    expect(parseHead(`12:${'A'.repeat(64)}`)).to.deep.equal({ seq: 12, hash: 'a'.repeat(64) });
    for (const bad of ['12', `x:${'a'.repeat(64)}`, `12:${'a'.repeat(63)}`, `-1:${'a'.repeat(64)}`, `12:${'g'.repeat(64)}`]) expect(parseHead(bad), bad).to.equal(null);
  });
  it('signs a fixed text: every field of the head is in it, in a fixed order', () => {
    const h = { kind: 'hourly', seq: 5, hash: 'b'.repeat(64), count: 5, at: 1_760_000_000_000 };
    expect(headPayload(h)).to.equal(`{"type":"nhi-audit.checkpoint.v1","kind":"hourly","seq":5,"hash":"${'b'.repeat(64)}","count":5,"at":1760000000000}`);
  });
  it('the hourly period is the Taipei hour, and a future or malformed hour is refused', () => {
    const at = Date.parse('2026-03-01T01:30:00Z'); // 09:30 in Taipei
    expect(hourPeriod.periodFor(at)).to.equal('2026-03-01T09');
    expect(hourPeriod.validatePeriod('2026-03-01T09', at)).to.equal(null);
    expect(hourPeriod.validatePeriod('2026-03-01T10', at)).to.equal('is in the future');
    for (const bad of ['2026-03-01', '2026-03-01T24', '2026-02-30T01']) expect(hourPeriod.validatePeriod(bad, at), bad).to.equal('not an hour');
  });
});
