// Roles and ranks in the domain's words. A person can hold several roles.
export const ROLES = ['planning_admin', 'admin', 'clerk', 'supervisor', 'checker', 'auditor', 'ethics', 'it'] as const;
export type Role = (typeof ROLES)[number];

export { ROLE_LABELS, RANK_LABELS } from '../labels.ts';

export const RANKS = ['staff', 'section_chief', 'division_chief', 'deputy_head', 'head'] as const;
export type Rank = (typeof RANKS)[number];
export const rankOrder = (r: string): number => Math.max(0, RANKS.indexOf(r as Rank));

/**
 * Clause 5(一): the checker is 股長 or higher; where the agency has no sections (無股別), 科長 or higher.
 */
export function eligibleCheckerRank(rank: string, agencyHasSections: boolean): boolean {
  return rankOrder(rank) >= rankOrder(agencyHasSections ? 'section_chief' : 'division_chief');
}

export const isRole = (s: string): s is Role => (ROLES as readonly string[]).includes(s);
