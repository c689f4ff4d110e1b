// Plain rules of the county dashboard (no database, no Express): the months shown, the share of
// risk-flagged entries, how a month's check stands against its due date, and a filing's status.
import { localMonth, previousMonth, rocYear } from '../time.ts';
import { dueAt } from '../checks/rules.ts';
import { filedOnTime } from '../audits/rules.ts';

/** The `n` months ending with the month of `at` (Taipei), oldest first. */
export function lastMonths(at: number, n: number): string[] {
  const out = [localMonth(at)];
  while (out.length < n) out.unshift(previousMonth(out[0]));
  return out;
}

/** '2026-03' → '115/03': the compact ROC month used on chart axes and table heads. */
export function rocMonthShort(month: string): string {
  const [y, m] = month.split('-');
  return `${rocYear(Number(y))}/${m}`;
}

/** Flagged entries as a percentage of the checked population, one decimal; null when nothing was checked. */
export function flaggedShare(flagged: number, population: number): number | null {
  if (population <= 0) return null;
  return Math.round((flagged / population) * 1000) / 10;
}

export type CheckStanding = 'on-time' | 'late' | 'overdue' | 'open' | 'missing';
export const CHECK_STANDING_LABELS: Record<CheckStanding, string> = {
  'on-time': '如期完成',
  late: '逾期完成',
  overdue: '逾期未完成',
  open: '進行中',
  missing: '未產生抽查',
};

/**
 * A month's check against its due date (signed off by the end of the following month, clause
 * 5(一) as the checks capability applies it). A month with entries whose due date has passed but
 * which has no check at all is 'missing' — shown, never silently skipped.
 */
export function checkStanding(period: string, check: { status: string; signedOffAt: number | null } | null, entries: number, at: number): CheckStanding | null {
  const due = dueAt(period);
  if (!check) return entries > 0 && at >= due ? 'missing' : null;
  if (check.status === 'signed-off') return check.signedOffAt != null && check.signedOffAt < due ? 'on-time' : 'late';
  return at >= due ? 'overdue' : 'open';
}

export type FilingStanding = 'acknowledged' | 'filed' | 'filed-late' | 'not-filed' | 'overdue';
export const FILING_LABELS: Record<FilingStanding, string> = {
  acknowledged: '已報府並經計畫處確認',
  filed: '已報府，待確認',
  'filed-late': '逾期報府',
  'not-filed': '尚未報府',
  overdue: '逾期未報府',
};

/** An agency's annual filing of `year` (clause 5(五): by the end of January of the next year). */
export function filingStanding(year: number, filing: { submittedAt: number; acknowledgedAt: number | null } | null, at: number): FilingStanding {
  if (!filing) return filedOnTime(at, year) ? 'not-filed' : 'overdue';
  if (!filedOnTime(filing.submittedAt, year)) return 'filed-late';
  return filing.acknowledgedAt != null ? 'acknowledged' : 'filed';
}

/** Reconciliation coverage (issue 16): the share of known-account source records found in the log, one decimal; null without records. */
export function reconcileCoverage(matched: number, records: number): number | null {
  if (records <= 0) return null;
  return Math.round((matched / records) * 1000) / 10;
}
