// The unit tree (計畫處 → 業務機關 → 轄屬機關/單位), read helpers every capability uses for
// subtree checks and agency look-ups.
import type { Conn } from '../db.ts';

export interface UnitRow {
  id: number;
  code: string;
  name: string;
  kind: 'planning' | 'agency' | 'unit';
  parent_id: number | null;
  has_sections: number | boolean;
  status: string;
}

const COLS = ['id', 'code', 'name', 'kind', 'parent_id', 'has_sections', 'status'];

export const unitById = (conn: Conn, id: number): Promise<UnitRow | undefined> => conn('units').where({ id }).first(COLS);
export const unitByCode = (conn: Conn, code: string): Promise<UnitRow | undefined> => conn('units').where({ code }).first(COLS);
export const allUnits = (conn: Conn): Promise<UnitRow[]> => conn('units').orderBy('id').select(COLS);

/** Ids of the unit and every unit below it. */
export function subtreeOf(units: UnitRow[], rootId: number): number[] {
  const children = new Map<number, number[]>();
  for (const u of units) if (u.parent_id != null) children.set(u.parent_id, [...(children.get(u.parent_id) ?? []), u.id]);
  const out: number[] = [];
  const stack = [rootId];
  while (stack.length) {
    const id = stack.pop()!;
    out.push(id);
    stack.push(...(children.get(id) ?? []));
  }
  return out;
}

export async function subtreeIds(conn: Conn, rootId: number): Promise<number[]> {
  return subtreeOf(await allUnits(conn), rootId);
}

/** The agency (業務機關) a unit belongs to: itself if it is one, else its nearest agency ancestor. */
export function agencyIn(units: UnitRow[], unitId: number): UnitRow | undefined {
  const byId = new Map(units.map((u) => [u.id, u]));
  let u = byId.get(unitId);
  while (u && u.kind !== 'agency') u = u.parent_id != null ? byId.get(u.parent_id) : undefined;
  return u;
}

export async function agencyOf(conn: Conn, unitId: number): Promise<UnitRow | undefined> {
  return agencyIn(await allUnits(conn), unitId);
}

/** All agencies (業務機關), in code order. */
export const agencies = (conn: Conn): Promise<UnitRow[]> => conn('units').where({ kind: 'agency' }).orderBy('code').select(COLS);

/** True when `unitId` is `rootId` or below it. */
export function isWithin(units: UnitRow[], rootId: number, unitId: number): boolean {
  return subtreeOf(units, rootId).includes(unitId);
}

/** A unit code (a command's --unit) to its agency, or why not: unknown, or under no agency. */
export async function agencyByCode(conn: Conn, code: string): Promise<{ agency: UnitRow } | { problem: string }> {
  const unit = await unitByCode(conn, code);
  const agency = unit ? await agencyOf(conn, unit.id) : undefined;
  return agency ? { agency } : { problem: unit ? 'belongs to no agency' : 'unknown unit' };
}
