// System events (logins, failures, admin actions, exports, searches): who, what, to whom, when,
// from which address. Recorded inside the caller's transaction where there is one, so an action
// and its event commit together.
import type { Conn } from '../db.ts';
import { now } from '../time.ts';
import { insertEvent, listEvents } from './repo.ts';

export interface Actor {
  id: number | null;
  account: string | null;
  ip?: string | null;
}

export const SYSTEM_ACTOR: Actor = { id: null, account: 'system', ip: null };

export interface EventInput {
  action: string;
  outcome?: 'ok' | 'denied' | 'failed';
  targetType?: string;
  targetId?: string | number | null;
  unitId?: number | null;
  detail?: Record<string, unknown>;
}

export async function recordEvent(conn: Conn, actor: Actor, e: EventInput): Promise<void> {
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

export { listEvents };
