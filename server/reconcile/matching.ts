// The matching rule of reconciliation (issue 16) as plain functions: no database, no Express.
//
// A source record and a query-log entry match when they are the same person (the record's account
// resolved through its account link), the same subject (equal subject HMAC) and their times lie
// within the window (RECONCILE_WINDOW_MINUTES, either way). Each record and each entry match at
// most once: one-to-one, nearest time first — among all candidate pairs the one with the smallest
// time distance is taken first, ties by the source record's id and then the entry's id; a pair is
// taken only while both of its sides are free.
//
// That greedy is global, but it only ever compares pairs of one person and one subject whose times
// are chained by gaps of at most the window: in the merged time order of a person's records and
// entries of one subject, a gap wider than the window separates two groups no pair can span.
// `StreamMatcher` uses this to match a person's month in one pass over both sides in time order,
// holding only the open group of each subject, so neither side is ever loaded whole.

/** One side's item: a source record or a query-log entry. */
export interface Item {
  id: number;
  subject: string;
  /** epoch ms */
  at: number;
}

export interface Pair {
  record: number;
  entry: number;
  /** entry time − record time, ms */
  deltaMs: number;
}

/**
 * The greedy one-to-one match of records against entries of one person (the rule itself, for any
 * input order): nearest time first, ties by record id then entry id, same subject only.
 */
export function matchGreedy(records: readonly Item[], entries: readonly Item[], windowMs: number): Pair[] {
  const bySubject = new Map<string, Item[]>();
  for (const e of entries) {
    const list = bySubject.get(e.subject);
    if (list) list.push(e);
    else bySubject.set(e.subject, [e]);
  }
  const candidates: Array<{ r: Item; e: Item; d: number }> = [];
  for (const r of records) {
    for (const e of bySubject.get(r.subject) ?? []) {
      const d = Math.abs(e.at - r.at);
      if (d <= windowMs) candidates.push({ r, e, d });
    }
  }
  candidates.sort((a, b) => a.d - b.d || a.r.id - b.r.id || a.e.id - b.e.id);
  const usedR = new Set<number>();
  const usedE = new Set<number>();
  const out: Pair[] = [];
  for (const c of candidates) {
    if (usedR.has(c.r.id) || usedE.has(c.e.id)) continue;
    usedR.add(c.r.id);
    usedE.add(c.e.id);
    out.push({ record: c.r.id, entry: c.e.id, deltaMs: c.e.at - c.r.at });
  }
  return out.sort((a, b) => a.record - b.record);
}

/** Sort order of both streams: time, then id. */
export const byTimeThenId = (a: Item, b: Item): number => a.at - b.at || a.id - b.id;

interface Group {
  records: Item[];
  entries: Item[];
  last: number;
}

/**
 * Matches one person's records and entries fed in time order (`add`), one open group per subject.
 * A group closes when an item of its subject comes more than the window after its last item, when
 * `sweep(now)` finds it idle for longer than the window, or at `finish`; closing it resolves the
 * greedy within it. The result is the same as `matchGreedy` over everything (a unit test checks).
 */
export class StreamMatcher {
  private open = new Map<string, Group>();
  private added = 0;
  constructor(
    private readonly windowMs: number,
    private readonly onPair: (p: Pair) => void,
    /** Items that closed unmatched: 'record' (unlogged) or 'entry'. */
    private readonly onLeft: (side: 'record' | 'entry', item: Item) => void,
  ) {}

  add(side: 'record' | 'entry', item: Item): void {
    let g = this.open.get(item.subject);
    if (g && item.at - g.last > this.windowMs) {
      this.close(g);
      g = undefined;
    }
    if (!g) {
      g = { records: [], entries: [], last: item.at };
      this.open.set(item.subject, g);
    }
    (side === 'record' ? g.records : g.entries).push(item);
    if (item.at > g.last) g.last = item.at;
    // Idle groups of other subjects are closed now and then, so memory follows the window, not the month.
    if (++this.added % 4096 === 0) this.sweep(item.at);
  }

  /** Closes every group whose last item is more than the window before `at`. */
  sweep(at: number): void {
    for (const [subject, g] of this.open) {
      if (at - g.last > this.windowMs) {
        this.open.delete(subject);
        this.resolve(g);
      }
    }
  }

  finish(): void {
    for (const g of this.open.values()) this.resolve(g);
    this.open.clear();
  }

  get openGroups(): number {
    return this.open.size;
  }

  private close(g: Group): void {
    this.open.delete(g.records[0]?.subject ?? g.entries[0].subject);
    this.resolve(g);
  }

  private resolve(g: Group): void {
    if (!g.records.length || !g.entries.length) {
      for (const r of g.records) this.onLeft('record', r);
      for (const e of g.entries) this.onLeft('entry', e);
      return;
    }
    const pairs = g.records.length === 1 && g.entries.length === 1 ? single(g.records[0], g.entries[0], this.windowMs) : matchGreedy(g.records, g.entries, this.windowMs);
    const usedR = new Set<number>();
    const usedE = new Set<number>();
    for (const p of pairs) {
      usedR.add(p.record);
      usedE.add(p.entry);
      this.onPair(p);
    }
    for (const r of g.records) if (!usedR.has(r.id)) this.onLeft('record', r);
    for (const e of g.entries) if (!usedE.has(e.id)) this.onLeft('entry', e);
  }
}

// The common case, one record and one entry of a subject: no candidate list to build.
const single = (r: Item, e: Item, windowMs: number): Pair[] => (Math.abs(e.at - r.at) <= windowMs ? [{ record: r.id, entry: e.id, deltaMs: e.at - r.at }] : []);

/**
 * Merges two time-ordered async streams (records and entries of one person) into one time order,
 * records before entries at the same instant, so `StreamMatcher` sees both sides as they come.
 */
export async function* mergeByTime(records: AsyncIterable<Item[]>, entries: AsyncIterable<Item[]>): AsyncGenerator<['record' | 'entry', Item]> {
  const ri = records[Symbol.asyncIterator]();
  const ei = entries[Symbol.asyncIterator]();
  let rb: Item[] = [];
  let eb: Item[] = [];
  let rk = 0;
  let ek = 0;
  let rDone = false;
  let eDone = false;
  const fill = async () => {
    if (!rDone && rk >= rb.length) {
      const n = await ri.next();
      if (n.done) rDone = true;
      else {
        rb = n.value;
        rk = 0;
      }
    }
    if (!eDone && ek >= eb.length) {
      const n = await ei.next();
      if (n.done) eDone = true;
      else {
        eb = n.value;
        ek = 0;
      }
    }
  };
  for (;;) {
    if (rk >= rb.length || ek >= eb.length) await fill();
    const r = rk < rb.length ? rb[rk] : undefined;
    const e = ek < eb.length ? eb[ek] : undefined;
    if (!r && !e) return;
    if (r && (!e || r.at <= e.at)) {
      rk++;
      yield ['record', r];
    } else {
      ek++;
      yield ['entry', e!];
    }
  }
}

/**
 * The same merge as `mergeByTime`, handing each item to `each` instead of yielding it: one await per
 * page, not per item (a month of a million items on each side would otherwise cost two million
 * promise round trips).
 */
export async function forEachByTime(records: AsyncIterable<Item[]>, entries: AsyncIterable<Item[]>, each: (side: 'record' | 'entry', item: Item) => void): Promise<void> {
  const ri = records[Symbol.asyncIterator]();
  const ei = entries[Symbol.asyncIterator]();
  let rb: Item[] = [];
  let eb: Item[] = [];
  let rk = 0;
  let ek = 0;
  let rDone = false;
  let eDone = false;
  for (;;) {
    if (!rDone && rk >= rb.length) {
      const n = await ri.next();
      if (n.done) rDone = true;
      else [rb, rk] = [n.value, 0];
      continue;
    }
    if (!eDone && ek >= eb.length) {
      const n = await ei.next();
      if (n.done) eDone = true;
      else [eb, ek] = [n.value, 0];
      continue;
    }
    // Both pages in hand (or a side finished): merge until one of them runs out.
    while ((rk < rb.length || rDone) && (ek < eb.length || eDone)) {
      const r = rk < rb.length ? rb[rk] : undefined;
      const e = ek < eb.length ? eb[ek] : undefined;
      if (!r && !e) return;
      if (r && (!e || r.at <= e.at)) {
        rk++;
        each('record', r);
      } else {
        ek++;
        each('entry', e!);
      }
    }
  }
}

// ── Matching by counts ───────────────────────────────────────────────────────────────────────

export interface DayCount {
  userId: number;
  /** 'YYYY-MM-DD', Taipei */
  day: string;
  source: number;
  log: number;
}

export interface CountOutcome {
  /** min(source, log) summed: queries both sides know of. */
  matched: number;
  /** source above log, summed: queries the log may be missing. */
  unlogged: number;
  /** log above source, summed (only where the source claims to be complete). */
  unconfirmed: number;
  /** the (account, day) cells where the two counts differ. */
  differences: DayCount[];
}

/**
 * Compares a count-only source with the log per account and day. `source` holds the source's
 * cells; `log` the log's counts for the same accounts. Where the source is complete, a day the log
 * has and the source lacks counts as 0 in the source; otherwise only the source's cells are compared.
 */
export function compareCounts(source: ReadonlyArray<{ userId: number; day: string; count: number }>, log: ReadonlyArray<{ userId: number; day: string; count: number }>, complete: boolean): CountOutcome {
  const key = (u: number, d: string) => `${u}|${d}`;
  const cells = new Map<string, DayCount>();
  for (const s of source) {
    const k = key(s.userId, s.day);
    const c = cells.get(k) ?? { userId: s.userId, day: s.day, source: 0, log: 0 };
    c.source += s.count;
    cells.set(k, c);
  }
  for (const l of log) {
    const k = key(l.userId, l.day);
    const c = cells.get(k);
    if (c) c.log += l.count;
    else if (complete) cells.set(k, { userId: l.userId, day: l.day, source: 0, log: l.count });
  }
  const out: CountOutcome = { matched: 0, unlogged: 0, unconfirmed: 0, differences: [] };
  for (const c of [...cells.values()].sort((a, b) => a.userId - b.userId || (a.day < b.day ? -1 : a.day > b.day ? 1 : 0))) {
    out.matched += Math.min(c.source, c.log);
    if (c.source > c.log) out.unlogged += c.source - c.log;
    else if (c.log > c.source && complete) out.unconfirmed += c.log - c.source;
    if (c.source !== c.log) out.differences.push(c);
  }
  return out;
}
