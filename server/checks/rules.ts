// The rules of the monthly spot check (clause 5(一)) as plain functions: sample size, the
// reproducible ordering, the population digest, risk flags, due dates. No database, no Express.
import crypto from 'node:crypto';
import { monthRange, TAIPEI, taipeiDate, taipeiMinuteOfDay, taipeiWeekday } from '../time.ts';
import { agencyIn, isWithin, type UnitRow } from '../accounts/units.ts';
import { isCountyWide, reachOf, withinReach, type ReachActor } from '../accounts/reach.ts';
import type { Actor } from '../actor.ts';

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
  return oneShot ? oneShot('sha256', seed + String(entryId), 'hex') : crypto.createHash('sha256').update(seed + String(entryId)).digest('hex');
}
// crypto.hash (Node ≥ 20.12): one call, no Hash object per entry.
const oneShot = (crypto as unknown as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;

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
  /** Whether an entry with this key would be kept (so callers allocate only for those). */
  admits(key: string, id: number): boolean {
    if (this.heap.length < this.n) return this.n > 0;
    const top = this.heap[0];
    return top.key > key || (top.key === key && top.id > id);
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

/**
 * Finds subjects queried by 3 or more different clerks in one pass with flat memory: an
 * open-addressing table over typed arrays (16 bytes a slot) keyed by 64 bits of the subject's
 * HMAC, holding up to two clerk ids. At a third clerk `add` answers true once; the caller
 * confirms the candidate exactly (a 64-bit collision can only add a candidate, never lose one).
 */
export class SharedSubjects {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private u1: Uint32Array;
  private u2: Uint32Array;
  private mask = 0;
  private used = 0;
  constructor(expected: number) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.hi = this.lo = this.u1 = this.u2 = new Uint32Array(0);
    this.alloc(cap);
  }
  private alloc(cap: number): void {
    this.mask = cap - 1;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.u1 = new Uint32Array(cap);
    this.u2 = new Uint32Array(cap);
  }
  /** Doubles the table when it is 70 % full (only if the sizing hint was too small). */
  private grow(): void {
    const { hi, lo, u1, u2 } = this;
    this.alloc(hi.length * 2);
    for (let j = 0; j < hi.length; j++) {
      if (u1[j] === 0) continue;
      let i = (hi[j] ^ lo[j]) & this.mask;
      while (this.u1[i] !== 0) i = (i + 1) & this.mask;
      this.hi[i] = hi[j];
      this.lo[i] = lo[j];
      this.u1[i] = u1[j];
      this.u2[i] = u2[j];
    }
  }
  /** Records clerk `user` (≥ 1) querying the subject; true when this is its third distinct clerk. */
  add(subjectHmac: string, user: number): boolean {
    const hi = parseInt(subjectHmac.slice(0, 8), 16) >>> 0;
    const lo = parseInt(subjectHmac.slice(8, 16), 16) >>> 0;
    let i = (hi ^ lo) & this.mask;
    for (;;) {
      const a = this.u1[i];
      if (a === 0) {
        if (++this.used > this.hi.length * 0.7) {
          this.grow();
          this.used--;
          return this.add(subjectHmac, user);
        }
        this.hi[i] = hi;
        this.lo[i] = lo;
        this.u1[i] = user;
        return false;
      }
      if (this.hi[i] === hi && this.lo[i] === lo) {
        const b = this.u2[i];
        if (b === 0xffffffff || a === user || b === user) return false;
        if (b === 0) {
          this.u2[i] = user;
          return false;
        }
        this.u2[i] = 0xffffffff; // reported once
        return true;
      }
      i = (i + 1) & this.mask;
    }
  }
}

/** The sample: the first n entry ids ordered by SHA-256(seed ‖ id). */
export function selectSample(seed: string, entryIds: number[], n: number): number[] {
  const heap = new SmallestN<Keyed>(n);
  for (const id of entryIds) heap.offer({ key: sortKey(seed, id), id });
  return heap.sorted().map((x) => x.id);
}

// ── Risk flags ────────────────────────────────────────────────────────────────────────────────

export const FLAG_RULES = ['after-hours', 'holiday', 'shared-subject', 'volume-spike', 'no-request', 'own-subject', 'watch-list'] as const;
export type FlagRule = (typeof FLAG_RULES)[number];
// The words for flags and verdicts live with every other label (one source, issue 17).
export { FLAG_LABELS, VERDICT_LABELS, basisLabel } from '../labels.ts';

export interface FlagSettings {
  enabled: Record<FlagRule, boolean>;
  officeStart: string; // HH:MM
  officeEnd: string; // HH:MM
  holidays: Set<string>; // YYYY-MM-DD
}

const hhmmMinutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Outside office hours: before the start or at/after the end, Taipei time. */
export const isAfterHours = (at: number, s: Pick<FlagSettings, 'officeStart' | 'officeEnd'>): boolean => {
  const m = taipeiMinuteOfDay(at);
  return m < hhmmMinutes(s.officeStart) || m >= hhmmMinutes(s.officeEnd);
};
/** Saturday, Sunday or a configured holiday (Taipei date). */
export const isHoliday = (at: number, holidays: Set<string>): boolean => {
  const wd = taipeiWeekday(at);
  return wd === 0 || wd === 6 || (holidays.size > 0 && holidays.has(taipeiDate(at)));
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
/** An item is settled when its verdict is final: proper or improper. */
export const isSettled = (verdict: string | null | undefined): boolean => verdict === 'proper' || verdict === 'improper';

// ── Need to know: who reads a check, who joins an investigation ────────────────────────────────

/** What the check rules read of the actor (actor.ts). */
type ActorRoles = Pick<Actor, 'id' | 'unitId' | 'roles'>;

/**
 * Reads a check by office (without being one of its checkers): ethics and auditors with reach, the
 * supervisors of the check's unit or a unit above it within their reach, and the planning
 * department's admins (county-wide). Clerks, IT, admins and checkers not assigned to it: no.
 */
export function readsCheckByOffice(units: UnitRow[], actor: ActorRoles, unitId: number): boolean {
  const reach = reachOf(units, actor);
  if (!reach.unitIds.includes(Number(unitId))) return false;
  if (actor.roles.includes('planning_admin') && reach.countyWide) return true;
  if (actor.roles.some((r) => r === 'auditor' || r === 'ethics')) return true;
  return actor.roles.includes('supervisor') && isWithin(units, Number(actor.unitId), Number(unitId));
}

/** Who may read a check, its sample, checker notes and 查詢紀錄單: its checkers, or a reader by office. */
export const mayReadCheck = (units: UnitRow[], actor: ActorRoles, c: { unitId: number; checkerIds: readonly number[] }): boolean =>
  c.checkerIds.includes(actor.id) || readsCheckByOffice(units, actor, c.unitId);

/** Who assigns a check's checker: the planning department's admins, or an admin with the agency in reach. Sees the header only. */
export const mayAssignCheck = (units: UnitRow[], actor: ActorRoles, unitId: number): boolean =>
  (actor.roles.includes('planning_admin') && isCountyWide(units, actor)) || (actor.roles.includes('admin') && withinReach(units, actor, unitId));

/**
 * Who may take part in an investigation of an agency (clause 5(二)), as a zh-TW problem or null:
 * the business side from the agency itself; ethics and IT from the agency or with reach over it,
 * and IT also from the planning department (the county's IT unit serves agencies without one).
 * Another agency's staff never: an ethics participant sees the investigated entries.
 */
export function participantProblem(units: UnitRow[], agencyId: number, candidate: ReachActor, side: 'business' | 'ethics' | 'it'): string | null {
  if (side === 'business') return agencyIn(units, Number(candidate.unitId))?.id === Number(agencyId) ? null : '業務單位參與人員須屬於本機關';
  if (!candidate.roles.includes(side)) return side === 'ethics' ? '此帳號不是政風人員' : '此帳號不是資訊人員';
  if (withinReach(units, candidate, agencyId)) return null;
  const planning = !agencyIn(units, Number(candidate.unitId)) && units.some((u) => u.kind === 'planning' && isWithin(units, u.id, Number(candidate.unitId)));
  if (side === 'it' && planning) return null;
  return side === 'ethics' ? '政風參與人員須為本機關或計畫處之政風人員' : '資訊參與人員須為本機關或計畫處之資訊人員';
}

/**
 * Who may correct (supersede) a signed audit record: its signer, or an auditor or ethics officer
 * with reach over the audited unit. The audited agency's other staff never may.
 */
export const mayCorrectRecord = (units: UnitRow[], actor: ActorRoles, r: { unitId: number; signedBy: number | null }): boolean =>
  (r.signedBy != null && Number(r.signedBy) === actor.id) || (actor.roles.some((x) => x === 'auditor' || x === 'ethics') && withinReach(units, actor, r.unitId));
