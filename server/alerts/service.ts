// Which alerts a person sees: the ethics unit's, within its reach (the county for the county's
// ethics staff, else their own agency and what lies under it).
import type { Conn } from '../db.ts';
import { allUnits } from '../accounts/units.ts';
import { reachOf, type ReachActor } from '../accounts/reach.ts';
import { alertsWithin, type Alert } from '../events/service.ts';

export async function alertsFor(conn: Conn, actor: ReachActor): Promise<Array<Alert & { unit: string | null }>> {
  const units = await allUnits(conn);
  const reach = reachOf(units, actor);
  const names = new Map(units.map((u) => [Number(u.id), u.name]));
  const list = await alertsWithin(conn, reach.countyWide ? null : reach.unitIds);
  return list.map((a) => ({ ...a, unit: a.unitId == null ? null : names.get(a.unitId) ?? null }));
}
