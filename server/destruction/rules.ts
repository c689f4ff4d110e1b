// Plain rules of query log destruction (clause 4(二), 檔案法 §12): who may approve a destruction
// list (銷毀目錄), how long an approval lasts, and when a list may be carried out.
import type { UnitRow } from '../accounts/units.ts';

/** An approval lapses this many days after it was given (issue 15). */
export const APPROVAL_DAYS = 30;
const DAY_MS = 86_400_000;

/** The two duties that must both approve, by two different people. */
export const DUTIES = ['planning', 'ethics'] as const;
export type Duty = (typeof DUTIES)[number];
export const DUTY_LABELS: Record<Duty, string> = { planning: '計畫處管理者', ethics: '政風人員' };
export const STATUS_LABELS: Record<string, string> = { prepared: '待核准', executed: '已銷毀', void: '已作廢' };

export interface Approval { duty: Duty; userId: number; account: string; at: number }

/**
 * The duties a person may approve under: a planning-department admin (planning_admin held in the
 * planning department) and an ethics officer (ethics). Reach is checked apart.
 */
export function dutiesOf(units: readonly UnitRow[], actor: { unitId: number; roles: readonly string[] }): Duty[] {
  const own = units.find((u) => Number(u.id) === Number(actor.unitId));
  const out: Duty[] = [];
  if (own?.kind === 'planning' && actor.roles.includes('planning_admin')) out.push('planning');
  if (actor.roles.includes('ethics')) out.push('ethics');
  return out;
}

export const isCurrent = (a: Approval, at: number): boolean => at - a.at < APPROVAL_DAYS * DAY_MS && a.at <= at;
export const lapsesAt = (a: Approval): number => a.at + APPROVAL_DAYS * DAY_MS;

/** The latest approval still current under each duty. */
export function currentApprovals(approvals: readonly Approval[], at: number): Partial<Record<Duty, Approval>> {
  const out: Partial<Record<Duty, Approval>> = {};
  for (const a of approvals) if (isCurrent(a, at) && (!out[a.duty] || out[a.duty]!.at < a.at)) out[a.duty] = a;
  return out;
}

/** Both duties approved, each within APPROVAL_DAYS, by two different people: the list may be carried out. */
export function readyApprovals(approvals: readonly Approval[], at: number): [Approval, Approval] | null {
  const c = currentApprovals(approvals, at);
  return c.planning && c.ethics && c.planning.userId !== c.ethics.userId ? [c.planning, c.ethics] : null;
}

/** Why this person may not approve the list under `duty` now, or null. */
export function approvalProblem(status: string, approvals: readonly Approval[], duties: readonly Duty[], duty: Duty, userId: number, at: number): string | null {
  if (status !== 'prepared') return '此銷毀目錄已結案，不能再核准。';
  if (!duties.includes(duty)) return `您不具「${DUTY_LABELS[duty]}」身分，不能以此身分核准。`;
  const c = currentApprovals(approvals, at);
  if (c[duty]) return `此銷毀目錄已由${DUTY_LABELS[duty]}核准（${c[duty]!.account}）。`;
  const other = DUTIES.find((d) => d !== duty)!;
  if (c[other]?.userId === userId) return '兩項核准須由不同人員為之：您已以另一身分核准。';
  return null;
}
