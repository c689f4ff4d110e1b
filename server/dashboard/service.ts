// The county dashboard: what the planning department's admins, auditors and ethics staff
// (county-wide, accounts/reach.ts) or an agency's own people (their agency only) need to see at a
// glance. Every figure is a count over the other capabilities' records.
import type { Conn } from '../db.ts';
import { now, localDate, rocDateTime } from '../time.ts';
import { allUnits, subtreeOf, type UnitRow } from '../accounts/units.ts';
import { reachOf as reachByOffice } from '../accounts/reach.ts';
import { forbidden, notFound } from '../problem.ts';
import * as repo from './repo.ts';
import { checkStanding, flaggedShare, filingStanding, lastMonths, reconcileCoverage, rocMonthShort, type CheckStanding, type FilingStanding } from './rules.ts';

export interface DashboardOptions { months?: number; year?: number; unit?: string }

export interface AgencyRef { id: number; code: string; name: string }
export interface Dashboard {
  generatedAt: number;
  countyWide: boolean;
  months: string[];
  monthLabels: string[];
  agencies: AgencyRef[];
  /** Every agency the actor may pick, and the one picked (code) if any. */
  choices: AgencyRef[];
  selected: string | null;
  volume: { rows: Array<{ unit: AgencyRef; counts: number[]; total: number }>; totals: number[]; total: number };
  flags: { rows: Array<{ unit: AgencyRef; checks: number; population: number; flagged: number; share: number | null }>; population: number; flagged: number; share: number | null };
  checks: { rows: Array<{ unit: AgencyRef } & Record<CheckStanding, number>>; totals: Record<CheckStanding, number> };
  review: { latest: repo.ReviewSummary | null; rows: Array<{ unit: AgencyRef; open: number; kept: number; disabled: number }>; totals: { open: number; kept: number; disabled: number } };
  filings: { year: number; rows: Array<{ unit: AgencyRef; standing: FilingStanding; submittedAt: number | null; acknowledgedAt: number | null }>; filed: number };
  /** Reconciliation with the source systems over the months shown (issue 16): coverage and unlogged queries per agency. */
  reconciliation: { rows: Array<{ unit: AgencyRef; months: number; records: number; matched: number; unlogged: number; unconfirmed: number; unknownAccounts: number; coverage: number | null }>; totals: { months: number; records: number; matched: number; unlogged: number; unconfirmed: number; unknownAccounts: number; coverage: number | null } };
}

const ref = (u: UnitRow): AgencyRef => ({ id: u.id, code: u.code, name: u.name });

/**
 * The agencies the actor may see: those in their reach (accounts/reach.ts) — every agency for the
 * county-wide offices, else their own. Counts follow the same reach as the records: planning
 * staff without a county-wide office see no agency. `unit` narrows to one agency (by code).
 */
export function reachOf(units: UnitRow[], actor: { unitId: number; roles: readonly string[] }, unitCode?: string): { countyWide: boolean; agencies: UnitRow[] } {
  const reach = reachByOffice(units, actor);
  const countyWide = reach.countyWide;
  let list = units.filter((u) => u.kind === 'agency' && reach.unitIds.includes(u.id));
  if (unitCode) {
    const wanted = units.find((u) => u.code === unitCode || String(u.id) === unitCode);
    if (!wanted) throw notFound('找不到指定的機關。');
    if (!list.some((a) => a.id === wanted.id)) throw forbidden('您只能檢視所屬機關的統計。');
    list = [wanted];
  }
  return { countyWide, agencies: [...list].sort((a, b) => a.code.localeCompare(b.code)) };
}

export async function buildDashboard(conn: Conn, actor: { unitId: number; roles: readonly string[] }, opts: DashboardOptions = {}): Promise<Dashboard> {
  const at = now();
  const units = await allUnits(conn);
  const { countyWide, agencies } = reachOf(units, actor, opts.unit);
  const choices = reachOf(units, actor).agencies.map(ref);
  const months = lastMonths(at, opts.months ?? 12);
  const year = opts.year ?? Number(localDate(at).slice(0, 4)) - 1;
  // Every unit below a shown agency counts toward that agency.
  const agencyOfUnit = new Map<number, number>();
  for (const a of agencies) for (const id of subtreeOf(units, a.id)) agencyOfUnit.set(id, a.id);
  const unitIds = [...agencyOfUnit.keys()];
  const agencyIds = agencies.map((a) => a.id);

  // Volume: entries per agency and month.
  const vol = await repo.volumeByUnit(conn, months, unitIds);
  const perAgency = new Map<number, number[]>(agencies.map((a) => [a.id, months.map(() => 0)]));
  months.forEach((m, i) => {
    for (const [unitId, n] of vol.get(m) ?? []) {
      const a = agencyOfUnit.get(unitId);
      if (a != null) perAgency.get(a)![i] += n;
    }
  });
  const volumeRows = agencies.map((a) => {
    const counts = perAgency.get(a.id)!;
    return { unit: ref(a), counts, total: counts.reduce((s, n) => s + n, 0) };
  });
  const totals = months.map((_, i) => volumeRows.reduce((s, r) => s + r.counts[i], 0));

  // Checks: risk-flagged share and standing against the due date.
  const checks = await repo.checksIn(conn, months, agencyIds);
  const flagRows = agencies.map((a) => {
    const mine = checks.filter((c) => c.unitId === a.id);
    const population = mine.reduce((s, c) => s + c.population, 0);
    const flagged = mine.reduce((s, c) => s + c.flagged, 0);
    return { unit: ref(a), checks: mine.length, population, flagged, share: flaggedShare(flagged, population) };
  });
  const zero = (): Record<CheckStanding, number> => ({ 'on-time': 0, late: 0, overdue: 0, open: 0, missing: 0 });
  const checkTotals = zero();
  const checkRows = agencies.map((a) => {
    const counts = zero();
    months.forEach((m, i) => {
      const c = checks.find((x) => x.unitId === a.id && x.period === m) ?? null;
      const s = checkStanding(m, c, perAgency.get(a.id)![i], at);
      if (s) {
        counts[s]++;
        checkTotals[s]++;
      }
    });
    return { unit: ref(a), ...counts };
  });

  // Account review: the latest review's findings per agency and decision.
  const { review, items } = await repo.latestReview(conn, unitIds);
  const reviewRows = agencies.map((a) => {
    const r = { unit: ref(a), open: 0, kept: 0, disabled: 0 };
    for (const it of items) if (agencyOfUnit.get(it.unitId) === a.id && (it.status === 'open' || it.status === 'kept' || it.status === 'disabled')) r[it.status] += it.n;
    return r;
  });
  const sum = (k: 'open' | 'kept' | 'disabled') => reviewRows.reduce((s, r) => s + r[k], 0);

  // Annual filing of the year (clause 5(五)).
  const filings = await repo.filingsOf(conn, year, agencyIds);
  const filingRows = agencies.map((a) => {
    const f = filings.get(a.id) ?? null;
    return { unit: ref(a), standing: filingStanding(year, f, at), submittedAt: f?.submittedAt ?? null, acknowledgedAt: f?.acknowledgedAt ?? null };
  });

  // Reconciliation (issue 16): each agency's current runs of the months shown.
  const runs = await repo.reconciliationsIn(conn, months, agencyIds);
  const reconcileRows = agencies.map((a) => {
    const mine = runs.filter((r) => r.unitId === a.id);
    const records = mine.reduce((s, r) => s + r.records - r.unknownRecords, 0);
    const matched = mine.reduce((s, r) => s + r.matched, 0);
    return {
      unit: ref(a), months: mine.length, records, matched, unlogged: mine.reduce((s, r) => s + r.unlogged, 0), unconfirmed: mine.reduce((s, r) => s + r.unconfirmed, 0),
      unknownAccounts: mine.reduce((s, r) => s + r.unknownAccounts, 0), coverage: reconcileCoverage(matched, records),
    };
  });
  const rsum = (k: 'months' | 'records' | 'matched' | 'unlogged' | 'unconfirmed' | 'unknownAccounts') => reconcileRows.reduce((s, r) => s + r[k], 0);

  const population = flagRows.reduce((s, r) => s + r.population, 0);
  const flagged = flagRows.reduce((s, r) => s + r.flagged, 0);
  return {
    generatedAt: at,
    countyWide,
    months,
    monthLabels: months.map(rocMonthShort),
    agencies: agencies.map(ref),
    choices,
    selected: opts.unit ? agencies[0]?.code ?? null : null,
    volume: { rows: volumeRows, totals, total: totals.reduce((s, n) => s + n, 0) },
    flags: { rows: flagRows, population, flagged, share: flaggedShare(flagged, population) },
    checks: { rows: checkRows, totals: checkTotals },
    review: { latest: review, rows: reviewRows, totals: { open: sum('open'), kept: sum('kept'), disabled: sum('disabled') } },
    filings: { year, rows: filingRows, filed: filingRows.filter((r) => r.standing !== 'not-filed' && r.standing !== 'overdue').length },
    reconciliation: {
      rows: reconcileRows,
      totals: { months: rsum('months'), records: rsum('records'), matched: rsum('matched'), unlogged: rsum('unlogged'), unconfirmed: rsum('unconfirmed'), unknownAccounts: rsum('unknownAccounts'), coverage: reconcileCoverage(rsum('matched'), rsum('records')) },
    },
  };
}

export const rocInstant = (ms: number | null): string => (ms == null ? '' : rocDateTime(ms));
