import type { Conn } from '../db.ts';
import { parseJson } from '../db.ts';
import { appendEvents, type EventFields } from './chain.ts';

export interface EventRow extends Omit<EventFields, 'detail'> {
  id: number;
  detail: Record<string, unknown>;
}

/** Appends one event to the event chain (server/events/chain.ts), in `conn`'s transaction if it is one. */
export async function insertEvent(conn: Conn, row: Omit<EventRow, 'id' | 'detail'> & { detail?: Record<string, unknown> }): Promise<void> {
  await appendEvents(conn, [{ ...row, detail: row.detail ? JSON.stringify(row.detail) : null }]);
}

export async function listEvents(conn: Conn, filter: { action?: string; actorId?: number; since?: number; limit?: number } = {}): Promise<EventRow[]> {
  const q = conn('system_events').orderBy('id', 'desc').limit(filter.limit ?? 100);
  if (filter.action) q.where('action', filter.action);
  if (filter.actorId) q.where('actor_id', filter.actorId);
  if (filter.since) q.where('at', '>=', filter.since);
  const rows = await q;
  return rows.map((r: any) => ({ ...r, detail: parseJson(r.detail, {}) }));
}

/** How many events of one kind an account caused since an instant. */
export async function countEvents(conn: Conn, f: { action: string; actorId: number; since: number }): Promise<number> {
  const [{ n }] = await conn('system_events').where({ action: f.action, actor_id: f.actorId }).andWhere('at', '>=', f.since).count({ n: '*' });
  return Number(n);
}

/** Whether an event of the action about the target was recorded since the instant. */
export const eventSince = async (conn: Conn, f: { action: string; targetId: string; since: number }): Promise<boolean> =>
  !!(await conn('system_events').where({ action: f.action, target_id: f.targetId }).andWhere('at', '>=', f.since).first('id'));

/** Events of the given kinds about units in `unitIds` (null: every unit), newest first. */
export async function eventsAbout(conn: Conn, f: { actions: readonly string[]; unitIds: number[] | null; since: number; limit: number }): Promise<EventRow[]> {
  const q = conn('system_events').whereIn('action', f.actions as string[]).andWhere('at', '>=', f.since).orderBy('id', 'desc').limit(f.limit);
  if (f.unitIds) q.whereIn('unit_id', f.unitIds.length ? f.unitIds : [0]);
  const rows = await q;
  return rows.map((r: any) => ({ ...r, detail: parseJson(r.detail, {}) }));
}
