import { expect } from 'chai';
import fc from 'fast-check';
import { byTimeThenId, compareCounts, forEachByTime, matchGreedy, mergeByTime, StreamMatcher, type Item, type Pair } from '../../server/reconcile/matching.ts';

const MIN = 60_000;
const W = 30 * MIN;
const T0 = Date.UTC(2026, 2, 10, 2, 0);

/** The stream matcher over everything, fed in time order as the service feeds it. */
async function streamed(records: Item[], entries: Item[], windowMs = W): Promise<{ pairs: Pair[]; unlogged: number[]; unmatched: number[] }> {
  const pairs: Pair[] = [];
  const unlogged: number[] = [];
  const unmatched: number[] = [];
  const m = new StreamMatcher(windowMs, (p) => pairs.push(p), (side, it) => (side === 'record' ? unlogged : unmatched).push(it.id));
  async function* pages(xs: Item[], size: number) {
    const s = [...xs].sort(byTimeThenId);
    for (let i = 0; i < s.length; i += size) yield s.slice(i, i + size);
  }
  for await (const [side, it] of mergeByTime(pages(records, 3), pages(entries, 2))) m.add(side, it);
  m.finish();
  // The per-page merge the service uses gives the same sequence.
  const a: string[] = [];
  const b: string[] = [];
  for await (const [side, it] of mergeByTime(pages(records, 3), pages(entries, 2))) a.push(`${side}${it.id}`);
  await forEachByTime(pages(records, 4), pages(entries, 1), (side, it) => b.push(`${side}${it.id}`));
  if (a.join() !== b.join()) throw new Error(`merge orders differ: ${a.join()} / ${b.join()}`);
  return { pairs: pairs.sort((a, b) => a.record - b.record), unlogged: unlogged.sort((a, b) => a - b), unmatched: unmatched.sort((a, b) => a - b) };
}

describe('reconciliation matching rule (issue 16)', () => {
  it('matches within the window either way: 29 minutes off matches, 31 minutes off does not', () => {
    const r = [{ id: 1, subject: 'S', at: T0 }, { id: 2, subject: 'T', at: T0 }];
    const e = [{ id: 10, subject: 'S', at: T0 + 29 * MIN }, { id: 11, subject: 'T', at: T0 - 31 * MIN }];
    expect(matchGreedy(r, e, W)).to.deep.equal([{ record: 1, entry: 10, deltaMs: 29 * MIN }]);
    expect(matchGreedy([{ id: 1, subject: 'S', at: T0 }], [{ id: 10, subject: 'S', at: T0 - 30 * MIN }], W)).to.have.length(1);
    expect(matchGreedy([{ id: 1, subject: 'S', at: T0 }], [{ id: 10, subject: 'S', at: T0 + 30 * MIN + 1 }], W)).to.have.length(0);
  });

  it('never matches another subject, however close in time', () => {
    expect(matchGreedy([{ id: 1, subject: 'S', at: T0 }], [{ id: 2, subject: 'X', at: T0 }], W)).to.deep.equal([]);
  });

  it('one-to-one, nearest first: two records and one entry give one match, to the nearer record', () => {
    const r = [{ id: 1, subject: 'S', at: T0 }, { id: 2, subject: 'S', at: T0 + 20 * MIN }];
    const e = [{ id: 10, subject: 'S', at: T0 + 15 * MIN }];
    expect(matchGreedy(r, e, W)).to.deep.equal([{ record: 2, entry: 10, deltaMs: -5 * MIN }]);
  });

  it('nearest first is global, not first come: a record takes its nearest entry only if no nearer pair claims it', () => {
    // r1 is nearest to e1 (10 min), but e1 is nearer still to r2 (2 min): r2–e1 first, then r1–e0 (25 min).
    const r = [{ id: 1, subject: 'S', at: T0 }, { id: 2, subject: 'S', at: T0 + 12 * MIN }];
    const e = [{ id: 10, subject: 'S', at: T0 - 25 * MIN }, { id: 11, subject: 'S', at: T0 + 10 * MIN }];
    expect(matchGreedy(r, e, W)).to.deep.equal([{ record: 1, entry: 10, deltaMs: -25 * MIN }, { record: 2, entry: 11, deltaMs: -2 * MIN }]);
  });

  it('ties in distance go to the lower record id, then the lower entry id', () => {
    const r = [{ id: 7, subject: 'S', at: T0 }, { id: 3, subject: 'S', at: T0 + 20 * MIN }];
    const e = [{ id: 10, subject: 'S', at: T0 + 10 * MIN }];
    expect(matchGreedy(r, e, W)).to.deep.equal([{ record: 3, entry: 10, deltaMs: -10 * MIN }]);
    const e2 = [{ id: 12, subject: 'S', at: T0 + 5 * MIN }, { id: 11, subject: 'S', at: T0 - 5 * MIN }];
    expect(matchGreedy([{ id: 1, subject: 'S', at: T0 }], e2, W)).to.deep.equal([{ record: 1, entry: 11, deltaMs: -5 * MIN }]);
  });

  it('the answer does not depend on the order the items come in', () => {
    const r = [{ id: 1, subject: 'S', at: T0 }, { id: 2, subject: 'S', at: T0 + 5 * MIN }, { id: 3, subject: 'S', at: T0 + 9 * MIN }];
    const e = [{ id: 10, subject: 'S', at: T0 + 4 * MIN }, { id: 11, subject: 'S', at: T0 + 7 * MIN }];
    expect(matchGreedy([...r].reverse(), [...e].reverse(), W)).to.deep.equal(matchGreedy(r, e, W));
  });

  it('the stream matcher, fed page by page in time order, gives what the rule gives', async () => {
    const r = [{ id: 1, subject: 'S', at: T0 }, { id: 2, subject: 'S', at: T0 + 20 * MIN }, { id: 3, subject: 'T', at: T0 + 90 * MIN }, { id: 4, subject: 'S', at: T0 + 200 * MIN }];
    const e = [{ id: 10, subject: 'S', at: T0 + 15 * MIN }, { id: 11, subject: 'T', at: T0 + 121 * MIN }, { id: 12, subject: 'S', at: T0 + 229 * MIN }];
    const s = await streamed(r, e);
    expect(s.pairs).to.deep.equal(matchGreedy(r, e, W));
    expect(s.unlogged).to.deep.equal([1, 3]);
    expect(s.unmatched).to.deep.equal([11]);
  });

  it('property: the stream matcher equals the global greedy, every item is matched or left exactly once', async () => {
    const item = (id: number) => fc.record({ subject: fc.constantFrom('A', 'B', 'C'), at: fc.integer({ min: 0, max: 600 }).map((m) => T0 + m * MIN) }).map((x) => ({ id, ...x }));
    const side = (base: number) => fc.integer({ min: 0, max: 25 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => item(base + i))));
    await fc.assert(fc.asyncProperty(side(1), side(1000), fc.constantFrom(5 * MIN, W, 120 * MIN), async (records, entries, win) => {
      const want = matchGreedy(records, entries, win);
      const got = await streamed(records, entries, win);
      expect(got.pairs).to.deep.equal(want);
      const matchedR = new Set(want.map((p) => p.record));
      const matchedE = new Set(want.map((p) => p.entry));
      expect(matchedR.size).to.equal(want.length);
      expect(matchedE.size).to.equal(want.length);
      expect(got.unlogged).to.deep.equal(records.map((r) => r.id).filter((id) => !matchedR.has(id)).sort((a, b) => a - b));
      expect(got.unmatched).to.deep.equal(entries.map((e) => e.id).filter((id) => !matchedE.has(id)).sort((a, b) => a - b));
      for (const p of want) {
        const r = records.find((x) => x.id === p.record)!;
        const e = entries.find((x) => x.id === p.entry)!;
        expect(r.subject).to.equal(e.subject);
        expect(Math.abs(e.at - r.at)).to.be.at.most(win);
      }
    }), { numRuns: 300 });
  });

  it('the stream matcher keeps only the open groups of the last window, not the month', () => {
    let pairs = 0;
    const m = new StreamMatcher(W, () => pairs++, () => undefined);
    for (let i = 0; i < 20_000; i++) {
      m.add('record', { id: i, subject: `S${i}`, at: T0 + i * MIN });
      m.add('entry', { id: 100_000 + i, subject: `S${i}`, at: T0 + i * MIN + 1000 });
    }
    expect(m.openGroups).to.be.below(4200);
    m.finish();
    expect(pairs).to.equal(20_000);
    expect(m.openGroups).to.equal(0);
  });
});

describe('reconciliation by counts (issue 16)', () => {
  const src = [{ userId: 1, day: '2026-03-02', count: 5 }, { userId: 1, day: '2026-03-03', count: 2 }, { userId: 2, day: '2026-03-02', count: 1 }];
  const log = [{ userId: 1, day: '2026-03-02', count: 5 }, { userId: 1, day: '2026-03-03', count: 4 }, { userId: 1, day: '2026-03-04', count: 3 }];

  it('compares per account and day: source above log is unlogged, log above source unconfirmed only when complete', () => {
    const c = compareCounts(src, log, true);
    expect(c.matched).to.equal(5 + 2 + 0 + 0);
    expect(c.unlogged).to.equal(1); // user 2, 03-02
    expect(c.unconfirmed).to.equal(2 + 3);
    expect(c.differences).to.deep.equal([
      { userId: 1, day: '2026-03-03', source: 2, log: 4 },
      { userId: 1, day: '2026-03-04', source: 0, log: 3 },
      { userId: 2, day: '2026-03-02', source: 1, log: 0 },
    ]);
  });

  it('a source that does not claim completeness is compared only on the cells it gives', () => {
    const c = compareCounts(src, log, false);
    expect(c.unconfirmed).to.equal(0);
    expect(c.differences.map((d) => `${d.userId} ${d.day}`)).to.deep.equal(['1 2026-03-03', '2 2026-03-02']);
  });
});
