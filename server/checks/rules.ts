// The rules of the monthly spot check (clause 5(一)) as plain functions: sample size, the
// reproducible ordering, the population digest, risk flags, due dates. No database, no Express.
import crypto from 'node:crypto';
import { localParts, localDate, localTime, monthRange, TAIPEI } from '../time.ts';

/** The clause's floors: never sample fewer than 3 % or fewer than 10 entries. */
export const RATE_FLOOR_PERCENT = 3;
export const MINIMUM_FLOOR = 10;

/**
 * Sample size for a population of N entries: all of them when N ≤ minimum, else the larger of
 * the minimum and ⌈rate % × N⌉. Integer arithmetic in basis points (3 % = 300 bp), so
 * ⌈3 % × 334⌉ is 11, not the 10.020000000000001 → 11 / 3000.0000000000005 → 3001 of floats.
 */
export function sampleSize(N: number, ratePercent = RATE_FLOOR_PERCENT, minimum = MINIMUM_FLOOR): number {
  if (!Number.isInteger(N) || N < 0) throw new RangeError('population must be a whole number ≥ 0');
  const bp = Math.max(RATE_FLOOR_PERCENT * 100, Math.round(ratePercent * 100));
  const min = Math.max(MINIMUM_FLOOR, Math.ceil(minimum));
  if (N <= min) return N;
  const byRate = Math.floor((N * bp + 9999) / 10000);
  return Math.min(N, Math.max(min, byRate));
}

/** A fresh random seed (32 bytes, hex). Drawn before the population is read. */
export const newSeed = (): string => crypto.randomBytes(32).toString('hex');

/**
 * The ordering key of an entry: SHA-256(seed ‖ entry id), seed as its 64 hex digits and the id in
 * decimal. The seed has a fixed length, so distinct ids never give the same input.
 */
export function sortKey(seed: string, entryId: number): string {
  return crypto.createHash('sha256').update(seed + String(entryId)).digest('hex');
}

/** Population digest: SHA-256 over the entries' chain hashes concatenated in seq order. */
export class PopulationDigest {
  private h = crypto.createHash('sha256');
  count = 0;
  add(entryHash: string): void {
    this.h.update(entryHash);
    this.count++;
  }
  digest(): string {
    return this.h.digest('hex');
  }
}
export function populationDigest(hashesInSeqOrder: string[]): string {
  const d = new PopulationDigest();
  for (const h of hashesInSeqOrder) d.add(h);
  return d.digest();
}

export interface Keyed { key: string; id: number }

/**
 * Keeps the n entries with the smallest keys seen so far (a bounded max-heap), so a population of
 * any size is ordered in O(N log n) time and O(n) memory.
 */
export class SmallestN<T extends Keyed> {
  private heap: T[] = [];
  constructor(private readonly n: number) {}
  private gt(a: T, b: T): boolean {
    return a.key > b.key || (a.key === b.key && a.id > b.id);
  }
  offer(x: T): void {
    if (this.n <= 0) return;
    const h = this.heap;
    if (h.length < this.n) {
      h.push(x);
      let i = h.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!this.gt(h[i], h[p])) break;
        [h[i], h[p]] = [h[p], h[i]];
        i = p;
      }
      return;
    }
    if (!this.gt(h[0], x)) return;
    h[0] = x;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.gt(h[l], h[m])) m = l;
      if (r < h.length && this.gt(h[r], h[m])) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
  /** The kept entries, smallest key first. */
  sorted(): T[] {
    return [...this.heap].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id - b.id));
  }
  get size(): number {
    return this.heap.length;
  }
}

/** The sample: the first n entry ids ordered by SHA-256(seed ‖ id). */
export function selectSample(seed: string, entryIds: number[], n: number): number[] {
  const heap = new SmallestN<Keyed>(n);
  for (const id of entryIds) heap.offer({ key: sortKey(seed, id), id });
  return heap.sorted().map((x) => x.id);
}

// ── Risk flags ────────────────────────────────────────────────────────────────────────────────

export const FLAG_RULES = ['after-hours', 'holiday', 'shared-subject', 'volume-spike', 'no-request', 'own-subject'] as const;
export type FlagRule = (typeof FLAG_RULES)[number];
export const FLAG_LABELS: Record<FlagRule, string> = {
  'after-hours': '非上班時間查詢',
  holiday: '週末或假日查詢',
  'shared-subject': '同一被查詢者由 3 位以上人員查詢',
  'volume-spike': '單日查詢量超過本人每日中位數 3 倍',
  'no-request': '無核准之申請單',
  'own-subject': '查詢本人資料',
};
export const basisLabel = (basis: string): string =>
  basis === 'random' ? '隨機抽樣' : basis.startsWith('flag:') ? `風險：${FLAG_LABELS[basis.slice(5) as FlagRule] ?? basis.slice(5)}` : basis;

export interface FlagSettings {
  enabled: Record<FlagRule, boolean>;
  officeStart: string; // HH:MM
  officeEnd: string; // HH:MM
  holidays: Set<string>; // YYYY-MM-DD
}

/** Outside office hours: before the start or at/after the end, Taipei time. */
export const isAfterHours = (at: number, s: Pick<FlagSettings, 'officeStart' | 'officeEnd'>): boolean => {
  const t = localTime(at);
  return t < s.officeStart || t >= s.officeEnd;
};
/** Saturday, Sunday or a configured holiday (Taipei date). */
export const isHoliday = (at: number, holidays: Set<string>): boolean => {
  const wd = localParts(at).weekday;
  return wd === 0 || wd === 6 || holidays.has(localDate(at));
};

/** Median of a list of counts (mean of the middle two for an even length). */
export function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Days on which a clerk's count is above 3 × their own median daily count (days with queries). */
export function spikeDays(dailyCounts: Map<string, number>): string[] {
  const med = median([...dailyCounts.values()]);
  return [...dailyCounts.entries()].filter(([, c]) => c > 3 * med).map(([d]) => d).sort();
}

/** The Taipei day index of an instant (Taiwan has no daylight saving time: a fixed +8 h). */
export const taipeiDayIndex = (at: number): number => Math.floor((at + 8 * 3_600_000) / 86_400_000);
export const TAIPEI_ZONE = TAIPEI;

/** A check is overdue when it is not signed off by the end of the month after its period. */
export function dueAt(period: string): number {
  const [y, m] = period.split('-').map(Number);
  const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
  return monthRange(next)[1];
}
export const isOverdue = (period: string, status: string, at: number): boolean => status === 'open' && at >= dueAt(period);

export const VERDICTS = ['proper', 'improper', 'explanation-needed'] as const;
export type Verdict = (typeof VERDICTS)[number];
export const VERDICT_LABELS: Record<Verdict, string> = { proper: '適當', improper: '不當', 'explanation-needed': '請說明' };
/** An item is settled when its verdict is final: proper or improper. */
export const isSettled = (verdict: string | null | undefined): boolean => verdict === 'proper' || verdict === 'improper';
