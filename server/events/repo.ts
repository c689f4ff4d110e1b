import type { Conn } from '../db.ts';
import { parseJson } from '../db.ts';

export interface EventRow {
  id: number;
  at: number;
  actor_id: number | null;
  actor_account: string | null;
  action: string;
  outcome: string;
  target_type: string | null;
  target_id: string | null;
  unit_id: number | null;
  ip: string | null;
  detail: Record<string, unknown>;
}

export async function insertEvent(conn: Conn, row: Omit<EventRow, 'id' | 'detail'> & { detail?: Record<string, unknown> }): Promise<void> {
  await conn('system_events').insert({ ...row, detail: row.detail ? JSON.stringify(row.detail) : null });
}

export async function listEvents(conn: Conn, filter: { action?: string; actorId?: number; since?: number; limit?: number } = {}): Promise<EventRow[]> {
  const q = conn('system_events').orderBy('id', 'desc').limit(filter.limit ?? 100);
  if (filter.action) q.where('action', filter.action);
  if (filter.actorId) q.where('actor_id', filter.actorId);
  if (filter.since) q.where('at', '>=', filter.since);
  const rows = await q;
  return rows.map((r: any) => ({ ...r, detail: parseJson(r.detail, {}) }));
}
