// Roles and ranks in the domain's words. A person can hold several roles.
export const ROLES = ['planning_admin', 'admin', 'clerk', 'supervisor', 'checker', 'auditor', 'ethics', 'it'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_LABELS: Record<Role, string> = {
  planning_admin: '計畫處管理者',
  admin: '機關管理者',
  clerk: '使用者（查詢人員）',
  supervisor: '單位主管',
  checker: '查核人員',
  auditor: '稽核人員',
  ethics: '政風人員',
  it: '資訊人員',
};

export const RANKS = ['staff', 'section_chief', 'division_chief', 'deputy_head', 'head'] as const;
export type Rank = (typeof RANKS)[number];
export const RANK_LABELS: Record<Rank, string> = {
  staff: '承辦人員',
  section_chief: '股長',
  division_chief: '科長',
  deputy_head: '副首長',
  head: '機關首長',
};
export const rankOrder = (r: string): number => Math.max(0, RANKS.indexOf(r as Rank));

/**
 * Clause 5(一): the checker is 股長 or higher; where the agency has no sections (無股別), 科長 or higher.
 */
export function eligibleCheckerRank(rank: string, agencyHasSections: boolean): boolean {
  return rankOrder(rank) >= rankOrder(agencyHasSections ? 'section_chief' : 'division_chief');
}

export const isRole = (s: string): s is Role => (ROLES as readonly string[]).includes(s);
