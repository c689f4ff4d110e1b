// Monthly sampling (clause 5(一)): for each agency, the population is every query log entry of
// the agency and its subordinate units in the month. Seeds are drawn before the population is
// read; one pass over the month by primary key computes each agency's count, digest, random
// sample (a bounded heap of the n smallest SHA-256(seed ‖ id)) and risk-flag candidates, so
// memory stays bounded whatever the month's size.
import type { Config } from '../config.ts';
import type { Conn, Db } from '../db.ts';
import { allUnits, agencyIn, subtreeOf, type UnitRow } from '../accounts/units.ts';
import { eligibleCheckerRank } from '../accounts/roles.ts';
import { monthRange, now, TAIPEI_OFFSET_MS, taipeiDate, taipeiDayIndex } from '../time.ts';
import { watchedHmacs } from '../watchlist/repo.ts';
import * as repo from './repo.ts';
import { insertUnloggedItems, unloggedForSampling } from './unlogged.ts';
import { pendingUnits, recordCovered } from '../../jobs/coverage.ts';

/** The job's name (server/checks/index.ts registers it): coverage rows are kept under it. */
export const MONTHLY_SAMPLING_JOB = 'monthly-sampling';
import {
  FLAG_RULES, PopulationDigest, SharedSubjects, SmallestN, isAfterHours, isHoliday, newSeed, sampleSize, sortKey, spikeDays,
  type FlagRule, type FlagSettings,
} from './rules.ts';

const FLAG_BIT = Object.fromEntries(FLAG_RULES.map((r, i) => [r, 1 << i])) as Record<FlagRule, number>;
const flagsOf = (bits: number): FlagRule[] => FLAG_RULES.filter((r) => bits & FLAG_BIT[r]);

/** County settings: `checks.flag.<rule>` = '0' switches a rule off; `holidays` lists dates. */
export async function flagSettings(conn: Conn, cfg: Pick<Config, 'OFFICE_HOURS_START' | 'OFFICE_HOURS_END'>): Promise<FlagSettings> {
  const s = await repo.countySettings(conn);
  const enabled = Object.fromEntries(FLAG_RULES.map((r) => [r, !['0', 'false', 'off', 'no'].includes((s.get(`checks.flag.${r}`) ?? '1').trim().toLowerCase())])) as Record<FlagRule, boolean>;
  return { enabled, officeStart: cfg.OFFICE_HOURS_START, officeEnd: cfg.OFFICE_HOURS_END, holidays: parseHolidays(s.get('holidays') ?? '') };
}

/** Holidays as a JSON array or a list separated by commas, spaces or new lines. */
export function parseHolidays(value: string): Set<string> {
  let list: unknown = null;
  try {
    list = JSON.parse(value);
  } catch {
    list = value.split(/[\s,;]+/);
  }
  const dates = Array.isArray(list) ? list.map((x) => (typeof x === 'string' ? x : typeof x === 'object' && x && 'date' in x ? String((x as { date: unknown }).date) : '')) : [];
  return new Set(dates.map((d) => d.trim()).filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d)));
}

interface Pick1 { key: string; id: number; user: number; bits: number }

interface AgencyState {
  agency: UnitRow;
  unitIds: number[];
  seed: string;
  digest: PopulationDigest;
  heap: SmallestN<Pick1>;
  capacity: number;
  flagHeaps: Map<FlagRule, SmallestN<Pick1>>;
  daily: Map<number, Map<number, number>>; // user → Taipei day index → count
  // Shared subjects, found in the same pass: candidates confirmed by an indexed query afterwards.
  subjects: SharedSubjects | null;
  sharedCandidates: Set<string>;
}

export interface PopulationScan {
  count: number;
  digest: string;
  sample: Pick1[]; // the random part, smallest key first
  flagged: Map<number, Pick1>; // entry id → flags (all rules that hit it)
}

export interface ScanOptions {
  period: string;
  maxId?: number;
  ratePercent: number;
  minimum: number;
  flagLimit: number;
  settings: FlagSettings;
  /** Only these agencies (verify); all when absent. */
  only?: Array<{ agency: UnitRow; seed: string; maxId: number }>;
  /** Only these agencies (a top-up or a draw for one agency, issue 17); all when absent. */
  agencyIds?: number[];
}

/**
 * Reads the month once and returns, per agency, the population count, digest, random sample and
 * flagged entries. Entries recorded after the scan started (id > maxId) are not part of it.
 */
export async function scanPopulation(db: Conn, o: ScanOptions & { seeds?: Map<number, string> }): Promise<{ maxId: number; results: Map<number, PopulationScan & { agency: UnitRow; seed: string }> }> {
  const [start, end] = monthRange(o.period);
  const units = await allUnits(db);
  const agencies = o.only ? o.only.map((x) => x.agency) : units.filter((u) => u.kind === 'agency' && (!o.agencyIds || o.agencyIds.includes(u.id)));
  const maxId = o.only ? Math.max(0, ...o.only.map((x) => x.maxId)) : o.maxId ?? (await repo.maxEntryId(db));
  const agencyOfUnit = new Map<number, number>();
  for (const u of units) {
    const a = agencyIn(units, u.id);
    if (a && agencies.some((x) => x.id === a.id)) agencyOfUnit.set(u.id, a.id);
  }
  // Counts first, so each heap knows its n, and the lowest id of the month, where the key-ordered
  // scan starts: one index-only read of (unit_id, queried_at). Entries appended meanwhile may be
  // counted here but not scanned (id > maxId); a count too high only makes a heap roomier.
  const counts = new Map<number, number>();
  let fromId = maxId + 1;
  const byUnit = await db('query_logs').whereIn('unit_id', [...agencyOfUnit.keys()]).andWhere('queried_at', '>=', start).andWhere('queried_at', '<', end)
    .groupBy('unit_id').select('unit_id').count('* as n').min('id as first');
  for (const r of byUnit as any[]) {
    const a = agencyOfUnit.get(Number(r.unit_id))!;
    counts.set(a, (counts.get(a) ?? 0) + Number(r.n));
    fromId = Math.min(fromId, Number(r.first));
  }
  const requests = o.settings.enabled['no-request'] ? await repo.requestsById(db) : new Map();
  const persons = o.settings.enabled['own-subject'] ? await repo.personHmacs(db) : new Map<number, string>();
  const watched = o.settings.enabled['watch-list'] ? await watchedHmacs(db) : new Set<string>(); // issue 18
  const requireRequest = new Map<number, boolean>();
  const unitRows = await db('units').select('id', 'require_query_request');
  for (const u of unitRows as any[]) requireRequest.set(Number(u.id), Boolean(u.require_query_request));

  const state = new Map<number, AgencyState>();
  for (const agency of agencies) {
    const seed = o.only?.find((x) => x.agency.id === agency.id)?.seed ?? o.seeds?.get(agency.id) ?? newSeed();
    const capacity = sampleSize(counts.get(agency.id) ?? 0, o.ratePercent, o.minimum);
    const flagHeaps = new Map<FlagRule, SmallestN<Pick1>>();
    for (const r of FLAG_RULES) if (o.settings.enabled[r]) flagHeaps.set(r, new SmallestN<Pick1>(o.flagLimit));
    state.set(agency.id, { agency, unitIds: subtreeOf(units, agency.id), seed, digest: new PopulationDigest(), heap: new SmallestN<Pick1>(capacity), capacity, flagHeaps, daily: new Map(), subjects: o.settings.enabled['shared-subject'] ? new SharedSubjects(counts.get(agency.id) ?? 0) : null, sharedCandidates: new Set() });
  }

  let lastSeq = -1;
  const unitFilter = o.only || o.agencyIds ? [...agencyOfUnit.keys()] : undefined;
  for await (const rows of repo.scanMonth(db, { start, end, fromId, maxId, unitIds: unitFilter })) {
    for (const r of rows) {
      const a = agencyOfUnit.get(r.unit_id);
      if (a == null) continue;
      // The digest is defined in seq order; appenders assign seq and id in the same order under
      // the chain-head lock, so id order is seq order. Anything else is a tampered log.
      if (r.seq <= lastSeq) throw new Error(`query log entry ${r.id} has seq ${r.seq} out of id order: run verify-log`);
      lastSeq = r.seq;
      const st = state.get(a)!;
      st.digest.add(r.hash);
      let bits = 0;
      const s = o.settings;
      if (s.enabled['after-hours'] && isAfterHours(r.queried_at, s)) bits |= FLAG_BIT['after-hours'];
      if (s.enabled.holiday && isHoliday(r.queried_at, s.holidays)) bits |= FLAG_BIT.holiday;
      if (s.enabled['no-request']) {
        if (r.query_request_id == null) {
          if (requireRequest.get(r.unit_id) !== false) bits |= FLAG_BIT['no-request'];
        } else {
          const q = requests.get(r.query_request_id);
          const day = taipeiDate(r.queried_at);
          if (!q || q.status !== 'approved' || day < q.valid_from || day > q.valid_to) bits |= FLAG_BIT['no-request'];
        }
      }
      if (s.enabled['own-subject'] && persons.get(r.user_id) === r.subject_hmac) bits |= FLAG_BIT['own-subject'];
      if (s.enabled['watch-list'] && watched.has(r.subject_hmac)) bits |= FLAG_BIT['watch-list'];
      const key = sortKey(st.seed, r.id);
      if (bits || st.heap.admits(key, r.id)) {
        const pick: Pick1 = { key, id: r.id, user: r.user_id, bits };
        st.heap.offer(pick);
        if (bits) for (const rule of flagsOf(bits)) st.flagHeaps.get(rule)?.offer(pick);
      }
      if (st.subjects?.add(r.subject_hmac, r.user_id)) st.sharedCandidates.add(r.subject_hmac);
      if (s.enabled['volume-spike']) {
        let days = st.daily.get(r.user_id);
        if (!days) st.daily.set(r.user_id, (days = new Map()));
        const d = taipeiDayIndex(r.queried_at);
        days.set(d, (days.get(d) ?? 0) + 1);
      }
    }
  }

  const results = new Map<number, PopulationScan & { agency: UnitRow; seed: string }>();
  for (const st of state.values()) {
    const count = st.digest.count;
    const n = sampleSize(count, o.ratePercent, o.minimum);
    if (n > st.capacity) throw new Error(`population of ${st.agency.code} grew during sampling; run again`);
    const sample = st.heap.sorted().slice(0, n);
    // Rules that need the whole month: volume spikes and subjects shared by several clerks.
    const extra = new Map<number, number>(); // entry id → bits
    const ensureHeap = (rule: FlagRule) => st.flagHeaps.get(rule)!;
    if (o.settings.enabled['volume-spike']) {
      for (const [user, days] of st.daily) {
        const byKey = new Map([...days.entries()].map(([d, c]) => [String(d), c]));
        for (const d of spikeDays(byKey)) {
          const dayStart = Number(d) * 86_400_000 - TAIPEI_OFFSET_MS;
          for (const id of await repo.userEntriesBetween(db, user, st.unitIds, Math.max(start, dayStart), Math.min(end, dayStart + 86_400_000), maxId)) {
            ensureHeap('volume-spike').offer({ key: sortKey(st.seed, id), id, user, bits: FLAG_BIT['volume-spike'] });
            extra.set(id, (extra.get(id) ?? 0) | FLAG_BIT['volume-spike']);
          }
        }
      }
    }
    st.subjects = null;
    if (o.settings.enabled['shared-subject'] && st.sharedCandidates.size) {
      for (const e of await repo.sharedSubjectEntries(db, [...st.sharedCandidates], st.unitIds, start, end, maxId, 3)) {
        ensureHeap('shared-subject').offer({ key: sortKey(st.seed, e.id), id: e.id, user: e.user_id, bits: FLAG_BIT['shared-subject'] });
        extra.set(e.id, (extra.get(e.id) ?? 0) | FLAG_BIT['shared-subject']);
      }
    }
    const flagged = new Map<number, Pick1>();
    for (const heap of st.flagHeaps.values()) {
      for (const p of heap.sorted()) {
        const prev = flagged.get(p.id);
        flagged.set(p.id, { ...p, bits: (prev?.bits ?? 0) | p.bits | (extra.get(p.id) ?? 0) });
      }
    }
    for (const p of sample) p.bits |= extra.get(p.id) ?? 0;
    for (const [id, p] of flagged) p.bits |= sample.find((x) => x.id === id)?.bits ?? 0;
    results.set(st.agency.id, { agency: st.agency, seed: st.seed, count, digest: st.digest.digest(), sample, flagged });
  }
  return { maxId, results };
}

/** An item's basis and flags from its membership. */
export function itemBasis(inSample: boolean, bits: number): { basis: string; flags: string } {
  const rules = flagsOf(bits);
  return { basis: inSample ? 'random' : `flag:${rules[0]}`, flags: rules.join(',') };
}

// ── Assignment ────────────────────────────────────────────────────────────────────────────────

export interface Assignee { id: number; account: string; name: string; rank: string; roles: string }

/** Eligible checkers of an agency: the checker role and 股長 or higher (科長 where no sections). */
export function eligibleCheckers(users: repo.CandidateUser[], agencyHasSections: boolean): repo.CandidateUser[] {
  return users.filter((u) => u.roles.split(',').includes('checker') && eligibleCheckerRank(u.rank, agencyHasSections));
}

/**
 * Picks the check's checker (the eligible checker with the fewest open checks) and, for each
 * entry the checker recorded themself, another eligible checker or the agency head.
 */
export function assign(eligible: repo.CandidateUser[], heads: repo.CandidateUser[], load: Map<number, number>, itemRecorders: number[]): { checker: number | null; itemCheckers: Array<number | null>; problem: string | null } {
  const ranked = [...eligible].sort((a, b) => (load.get(a.id) ?? 0) - (load.get(b.id) ?? 0) || a.id - b.id);
  const checker = ranked[0]?.id ?? null;
  if (checker == null) return { checker: null, itemCheckers: itemRecorders.map(() => null), problem: '本機關無符合資格之查核人員（股長以上；無股別者為科長以上），請指派查核人員。' };
  let unassigned = 0;
  const itemCheckers = itemRecorders.map((recorder) => {
    if (recorder !== checker) return checker;
    const other = ranked.find((u) => u.id !== recorder) ?? heads.find((u) => u.id !== recorder);
    if (!other) unassigned++;
    return other?.id ?? null;
  });
  return { checker, itemCheckers, problem: unassigned ? `有 ${unassigned} 筆由查核人員本人查詢之紀錄，無其他查核人員或機關首長可查核，請指派。` : null };
}

export async function agencyPeople(conn: Conn, agency: UnitRow, units?: UnitRow[]): Promise<{ eligible: repo.CandidateUser[]; heads: repo.CandidateUser[] }> {
  const all = units ?? (await allUnits(conn));
  const users = await repo.activeUsersOf(conn, subtreeOf(all, agency.id));
  return {
    eligible: eligibleCheckers(users, Boolean(agency.has_sections)),
    heads: users.filter((u) => u.rank === 'head' || u.rank === 'deputy_head').sort((a, b) => (a.rank === 'head' ? -1 : 0) - (b.rank === 'head' ? -1 : 0)),
  };
}

// ── The job ───────────────────────────────────────────────────────────────────────────────────

export interface SamplingSummary { period: string; agencies: number; population: number; sampled: number; flagged: number; problems: string[]; ms: { scan: number; write: number }; empty?: boolean }

/**
 * Agencies still owed the period's check (issue 17): those sampled by no run of the period, and
 * those sampled with no entries that have entries now (recorded late, or imported).
 */
export async function pendingSamplingAgencies(conn: Conn, period: string): Promise<number[]> {
  const units = await allUnits(conn);
  const ids = units.filter((u) => u.kind === 'agency').map((u) => u.id);
  const [start, end] = monthRange(period);
  return pendingUnits(conn, MONTHLY_SAMPLING_JOB, period, ids, async (emptyIds) => {
    const busy = new Set<number>();
    for (const id of emptyIds) {
      if (await conn('query_logs').whereIn('unit_id', subtreeOf(units, id)).andWhere('queried_at', '>=', start).andWhere('queried_at', '<', end).first('id')) busy.add(id);
    }
    return busy;
  });
}

/**
 * Samples the agencies for the period (every agency, or `only`) and records the checks (the next
 * generation when checks exist already: a forced re-run keeps the earlier ones as history), and
 * under a job run what it covered per agency. All in one transaction.
 */
export async function runMonthlySampling(db: Db, cfg: Config, period: string, opts: { jobRunId?: number; only?: number[] | null } = {}): Promise<SamplingSummary> {
  const settings = await flagSettings(db, cfg);
  const rate = cfg.SAMPLE_RATE_PERCENT;
  const minimum = cfg.SAMPLE_MINIMUM;
  const t0 = performance.now();
  const summary: SamplingSummary = { period, agencies: 0, population: 0, sampled: 0, flagged: 0, problems: [], ms: { scan: 0, write: 0 } };
  if (opts.only && !opts.only.length) return { ...summary, empty: true };
  const { maxId, results } = await scanPopulation(db, { period, ratePercent: rate, minimum, flagLimit: cfg.CHECK_FLAG_ITEMS_MAX, settings, agencyIds: opts.only ?? undefined });
  const t1 = performance.now();
  summary.ms.scan = Math.round(t1 - t0);
  const units = await allUnits(db);
  const enabledRules = FLAG_RULES.filter((r) => settings.enabled[r]).join(',');
  await db.transaction(async (trx) => {
    const load = await repo.openCheckCounts(trx);
    for (const r of results.values()) {
      const t = now();
      const generation = (await repo.latestGeneration(trx, r.agency.id, period)) + 1;
      await trx('checks').where({ unit_id: r.agency.id, period, status: 'open' }).update({ status: 'superseded', superseded_at: t });
      const sampleIds = new Set(r.sample.map((p) => p.id));
      const picks = [...r.sample, ...[...r.flagged.values()].filter((p) => !sampleIds.has(p.id))];
      const { eligible, heads } = await agencyPeople(trx, r.agency, units);
      const a = assign(eligible, heads, load, picks.map((p) => p.user));
      if (a.checker != null) load.set(a.checker, (load.get(a.checker) ?? 0) + 1);
      const checkId = await repo.insertCheck(trx, {
        unit_id: r.agency.id, period, generation, seed: r.seed, population: r.count, population_digest: r.digest, population_max_id: maxId,
        sample_size: r.sample.length, rate_percent: Math.round(Math.max(3, rate)), minimum: Math.max(10, minimum), flag_rules: enabledRules,
        checker_id: a.checker, assignment_problem: a.problem, status: 'open', job_run_id: opts.jobRunId ?? null, created_at: t,
      });
      await repo.insertItems(trx, picks.map((p, i) => ({
        check_id: checkId, entry_id: p.id, ...itemBasis(sampleIds.has(p.id), p.bits), sort_key: sampleIds.has(p.id) ? p.key : null, checker_id: a.itemCheckers[i],
      })));
      // Unlogged queries found by reconciliation join as mandatory items, after the draw (issue 16).
      await insertUnloggedItems(trx, r.agency, { id: checkId, checker_id: a.checker }, await unloggedForSampling(trx, r.agency.id, period));
      if (opts.jobRunId != null) await recordCovered(trx, { runId: opts.jobRunId, job: MONTHLY_SAMPLING_JOB, period }, r.agency.id, r.count ? 'done' : 'empty');
      summary.agencies++;
      summary.population += r.count;
      summary.sampled += r.sample.length;
      summary.flagged += picks.length - r.sample.length;
      if (a.problem) summary.problems.push(`${r.agency.code}: ${a.problem}`);
    }
  });
  summary.ms.write = Math.round(performance.now() - t1);
  // No agency had an entry: recorded as an empty run, not as checks done (issue 17).
  if (!summary.population) summary.empty = true;
  return summary;
}

// ── Verification ──────────────────────────────────────────────────────────────────────────────

export interface VerifyOutcome { ok: boolean; lines: string[] }

/** Re-derives a stored check's population and random sample from its seed and says what differs. */
export async function verifyCheck(db: Db, cfg: Config, check: any, agency: UnitRow): Promise<VerifyOutcome> {
  const settings = await flagSettings(db, cfg);
  settings.enabled = Object.fromEntries(FLAG_RULES.map((r) => [r, false])) as Record<FlagRule, boolean>;
  const { results } = await scanPopulation(db, {
    period: check.period, ratePercent: Number(check.rate_percent), minimum: Number(check.minimum), flagLimit: 1, settings,
    only: [{ agency, seed: check.seed, maxId: Number(check.population_max_id) }],
  });
  const r = results.get(agency.id)!;
  const lines: string[] = [];
  let ok = true;
  if (r.count !== Number(check.population) || r.digest !== check.population_digest) {
    ok = false;
    lines.push(`changed population: recorded ${check.population} entries with digest ${check.population_digest}; now ${r.count} entries with digest ${r.digest}`);
  }
  const stored = (await db('check_items').where({ check_id: check.id, basis: 'random' }).pluck('entry_id')).map(Number).sort((a, b) => a - b);
  const derived = r.sample.map((p) => p.id).sort((a, b) => a - b);
  const missing = derived.filter((id) => !stored.includes(id));
  const added = stored.filter((id) => !derived.includes(id));
  if (missing.length || added.length || stored.length !== Number(check.sample_size)) {
    ok = false;
    lines.push(`changed sample: ${stored.length} stored random items (recorded size ${check.sample_size}), ${derived.length} re-derived from the seed; not re-derived: ${added.slice(0, 20).join(', ') || '—'}; missing: ${missing.slice(0, 20).join(', ') || '—'}`);
  }
  if (ok) lines.push(`ok: ${agency.code} ${check.period} generation ${check.generation}: population ${r.count}, digest ${r.digest}, sample of ${derived.length} matches the seed`);
  return { ok, lines };
}
