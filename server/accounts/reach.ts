// Need to know: whose records a person may read by office. One rule for every capability, so
// the log, the monthly check, investigations and audits cannot disagree about reach.
import type { Role } from './roles.ts';
import { agencyIn, subtreeOf, type UnitRow } from './units.ts';

/**
 * The roles that are county-wide, and only when held in the planning department (計畫處): its
 * admins, its auditors and the county's ethics staff sitting there. Nobody else is county-wide,
 * whatever their role: an agency's auditor is its agency's auditor.
 */
export const COUNTY_WIDE_ROLES: readonly Role[] = ['planning_admin', 'auditor', 'ethics'];

export interface Reach {
  /** Every unit of the county. */
  countyWide: boolean;
  /** The units within reach (every unit when county-wide). */
  unitIds: number[];
}

export interface ReachActor {
  unitId: number;
  roles: readonly string[];
}

/** True when the person's office is county-wide (see COUNTY_WIDE_ROLES). */
export function isCountyWide(units: readonly UnitRow[], actor: ReachActor): boolean {
  const own = units.find((u) => Number(u.id) === Number(actor.unitId));
  return own?.kind === 'planning' && actor.roles.some((r) => (COUNTY_WIDE_ROLES as readonly string[]).includes(r));
}

/**
 * The units a person may read by office: the whole county when county-wide; otherwise their own
 * agency and what lies under it. Someone outside any agency (planning-department staff without a
 * county-wide role) reaches their own unit and the non-agency units under it, never the agencies.
 */
export function reachOf(units: UnitRow[], actor: ReachActor): Reach {
  if (isCountyWide(units, actor)) return { countyWide: true, unitIds: units.map((u) => Number(u.id)) };
  const agency = agencyIn(units, Number(actor.unitId));
  if (agency) return { countyWide: false, unitIds: subtreeOf(units, Number(agency.id)) };
  return { countyWide: false, unitIds: subtreeOf(units, Number(actor.unitId)).filter((id) => !agencyIn(units, id)) };
}

/** True when the unit lies within the person's reach. */
export const withinReach = (units: UnitRow[], actor: ReachActor, unitId: number): boolean => reachOf(units, actor).unitIds.includes(Number(unitId));
