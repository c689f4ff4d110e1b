import { expect } from 'chai';
import fc from 'fast-check';
import crypto from 'node:crypto';
import { populationDigest, sampleSize, selectSample, SmallestN, sortKey } from '../../server/checks/rules.ts';
import { assign, itemBasis, parseHolidays } from '../../server/checks/sampling.ts';

describe('monthly sampling rules (clause 5(一))', () => {
  it('sample sizes: all when 10 or fewer, else max(10, ⌈3 % × N⌉)', () => {
    const cases: Array<[number, number]> = [[0, 0], [1, 1], [9, 9], [10, 10], [11, 10], [333, 10], [334, 11], [1000, 30], [100000, 3000]];
    for (const [n, want] of cases) expect(sampleSize(n), `N=${n}`).to.equal(want);
  });

  it('uses integer arithmetic: no floating-point surprises at exact multiples', () => {
    expect(sampleSize(100000, 3, 10)).to.equal(3000);
    expect(sampleSize(300, 3, 10)).to.equal(10);
    expect(sampleSize(700, 3, 10)).to.equal(21);
    expect(sampleSize(100, 7, 10)).to.equal(10);
    expect(sampleSize(1000, 3.3, 10)).to.equal(33);
  });

  it('a configured rate or minimum is never below the clause\'s 3 % and 10', () => {
    expect(sampleSize(1000, 1, 5)).to.equal(30);
    expect(sampleSize(9, 1, 2)).to.equal(9);
    expect(sampleSize(1000, 5, 10)).to.equal(50);
    expect(sampleSize(40, 3, 50)).to.equal(40);
    expect(sampleSize(60, 3, 50)).to.equal(50);
  });

  it('property: n ≤ N, n ≥ min(N, 10), n ≥ 3 % of N', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 5_000_000 }), (N) => {
      const n = sampleSize(N);
      return n <= N && n >= Math.min(N, 10) && n * 100 >= 3 * N && (N <= 10 || n === Math.max(10, Math.ceil((3 * N) / 100)));
    }));
  });

  it('refuses a negative or fractional population', () => {
    expect(() => sampleSize(-1)).to.throw(RangeError);
    expect(() => sampleSize(1.5)).to.throw(RangeError);
  });

  it('orders by SHA-256(seed ‖ entry id)', () => {
    const seed = 'ab'.repeat(32);
    expect(sortKey(seed, 42)).to.equal(crypto.createHash('sha256').update(seed + '42').digest('hex'));
  });

  it('the same seed and population always give the same sample, in any input order', () => {
    const seed = crypto.randomBytes(32).toString('hex');
    const ids = Array.from({ length: 2000 }, (_, i) => i * 3 + 1);
    const a = selectSample(seed, ids, 60);
    const b = selectSample(seed, [...ids].reverse(), 60);
    expect(a).to.deep.equal(b);
    expect(new Set(a).size).to.equal(60);
    const all = ids.map((id) => ({ id, key: sortKey(seed, id) })).sort((x, y) => (x.key < y.key ? -1 : 1)).slice(0, 60).map((x) => x.id);
    expect(a).to.deep.equal(all);
    const other = selectSample(crypto.randomBytes(32).toString('hex'), ids, 60);
    expect(other).not.to.deep.equal(a);
  });

  it('the bounded heap keeps exactly the n smallest keys', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 1e6 }), { maxLength: 300 }), fc.integer({ min: 0, max: 50 }), (xs, n) => {
      const uniq = [...new Set(xs)];
      const h = new SmallestN<{ key: string; id: number }>(n);
      for (const x of uniq) h.offer({ key: String(x).padStart(8, '0'), id: x });
      const want = [...uniq].sort((a, b) => a - b).slice(0, n);
      return JSON.stringify(h.sorted().map((e) => e.id)) === JSON.stringify(want);
    }));
  });

  it('the population digest covers every hash in order', () => {
    const hs = ['a'.repeat(64), 'b'.repeat(64), 'c'.repeat(64)];
    expect(populationDigest(hs)).to.equal(crypto.createHash('sha256').update(hs.join('')).digest('hex'));
    expect(populationDigest(hs)).not.to.equal(populationDigest([hs[1], hs[0], hs[2]]));
    expect(populationDigest(hs)).not.to.equal(populationDigest(hs.slice(0, 2)));
  });

  it('items carry their basis: random first, else the first flag rule', () => {
    expect(itemBasis(true, 0)).to.deep.equal({ basis: 'random', flags: '' });
    expect(itemBasis(true, 1)).to.deep.equal({ basis: 'random', flags: 'after-hours' });
    expect(itemBasis(false, 2 | 32)).to.deep.equal({ basis: 'flag:holiday', flags: 'holiday,own-subject' });
  });

  it('holidays are read from JSON or a plain list', () => {
    expect([...parseHolidays('["2026-01-01","x"]')]).to.deep.equal(['2026-01-01']);
    expect([...parseHolidays('2026-02-16, 2026-02-17\n2026-02-18')]).to.deep.equal(['2026-02-16', '2026-02-17', '2026-02-18']);
    expect([...parseHolidays('[{"date":"2026-10-10","name":"國慶日"}]')]).to.deep.equal(['2026-10-10']);
  });
});

describe('check assignment', () => {
  const u = (id: number, rank = 'section_chief') => ({ id, account: `u${id}`, name: `u${id}`, unit_id: 1, rank, roles: 'checker' });
  it('gives the check to the least-loaded eligible checker', () => {
    const a = assign([u(1), u(2)], [], new Map([[1, 3], [2, 0]]), [7, 8]);
    expect(a.checker).to.equal(2);
    expect(a.itemCheckers).to.deep.equal([2, 2]);
    expect(a.problem).to.equal(null);
  });
  it('nobody checks their own entry: another checker, else the agency head', () => {
    const a = assign([u(1), u(2)], [], new Map(), [1, 5, 2]);
    expect(a.checker).to.equal(1);
    expect(a.itemCheckers).to.deep.equal([2, 1, 1]);
    const b = assign([u(1)], [u(9, 'head')], new Map(), [1, 5]);
    expect(b.itemCheckers).to.deep.equal([9, 1]);
    const c = assign([u(1)], [], new Map(), [1]);
    expect(c.itemCheckers).to.deep.equal([null]);
    expect(c.problem).to.match(/本人/);
  });
  it('no eligible checker is a problem, not a silent skip', () => {
    const a = assign([], [], new Map(), [3]);
    expect(a.checker).to.equal(null);
    expect(a.problem).to.match(/無符合資格之查核人員/);
  });
});

describe('shared-subject detection', () => {
  it('answers true exactly once, at the third distinct clerk of a subject', async () => {
    const { SharedSubjects } = await import('../../server/checks/rules.ts');
    const s = new SharedSubjects(100);
    const h = (n: number) => crypto.createHash('sha256').update(String(n)).digest('hex');
    expect(s.add(h(1), 7)).to.equal(false);
    expect(s.add(h(1), 7)).to.equal(false);
    expect(s.add(h(1), 8)).to.equal(false);
    expect(s.add(h(1), 8)).to.equal(false);
    expect(s.add(h(2), 9)).to.equal(false);
    expect(s.add(h(1), 9)).to.equal(true);
    expect(s.add(h(1), 10)).to.equal(false);
    for (let i = 3; i < 300; i++) expect(s.add(h(i), 1)).to.equal(false); // grows past its sizing hint by probing
  });
});
