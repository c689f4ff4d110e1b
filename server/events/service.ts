// System events (logins, failures, admin actions, exports, searches): who, what, to whom, when,
// from which address. Recorded inside the caller's transaction where there is one, so an action
// and its event commit together; chained like the query log (./chain.ts), so record an event as
// the last write of its transaction.
import type { Conn } from '../db.ts';
import { now } from '../time.ts';
import { countEvents, eventsAbout, eventSince, insertEvent, listEvents, type EventRow } from './repo.ts';
import { EVENT_ACTION_LABELS } from '../labels.ts';

/** Whom an event is attributed to: a person (actor.ts), or the system (SYSTEM_ACTOR). */
export interface EventActor {
  id: number | null;
  account: string | null;
  ip?: string | null;
}

export const SYSTEM_ACTOR: EventActor = { id: null, account: 'system', ip: null };

export interface EventInput {
  action: string;
  outcome?: 'ok' | 'denied' | 'failed';
  targetType?: string;
  targetId?: string | number | null;
  unitId?: number | null;
  detail?: Record<string, unknown>;
}

/** Whether an event of the action about the target was recorded since the instant (a cause raised once). */
export const recordedSince = eventSince;

export async function recordEvent(conn: Conn, actor: EventActor, e: EventInput): Promise<void> {
  await insertEvent(conn, {
    at: now(),
    actor_id: actor.id,
    actor_account: actor.account,
    action: e.action,
    outcome: e.outcome ?? 'ok',
    target_type: e.targetType ?? null,
    target_id: e.targetId == null ? null : String(e.targetId),
    unit_id: e.unitId ?? null,
    ip: actor.ip ?? null,
    detail: e.detail,
  });
}

export { countEvents, listEvents };
export { verifyEvents, type EventVerifyResult, type EventBreak } from './chain.ts';

/**
 * Security events the ethics unit (政風) is alerted to, with the words it reads them in. Each is
 * recorded with the unit of the person it concerns, so reach decides who sees it.
 */
export const ALERT_LABELS: Record<string, string> = Object.fromEntries(
  ['query-log.subject-search-throttled', 'query-log.subject-mismatch', 'lockout', 'alert.chain-break', 'alert.unlogged'].map((a) => [a, EVENT_ACTION_LABELS[a]]),
);

export interface Alert { id: number; at: number; account: string | null; unitId: number | null; what: string }

/** The alerts of the last `days` days about units within `unitIds` (null: the whole county). */
export async function alertsWithin(conn: Conn, unitIds: number[] | null, days = 30, limit = 200): Promise<Alert[]> {
  const rows: EventRow[] = await eventsAbout(conn, { actions: Object.keys(ALERT_LABELS), unitIds, since: now() - days * 86_400_000, limit });
  return rows.map((r) => ({ id: Number(r.id), at: Number(r.at), account: r.actor_account, unitId: r.unit_id == null ? null : Number(r.unit_id), what: ALERT_LABELS[r.action] ?? r.action }));
}
