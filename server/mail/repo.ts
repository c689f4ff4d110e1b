// The outbox's rows (knex only). A claim is one conditional UPDATE per batch, which SQLite and
// MariaDB both make atomic: the rows go to whoever's UPDATE matched them first.
import type { Conn } from '../db.ts';

export interface OutboxRow {
  id: number; kind: string; dedupe_key: string | null; recipient_id: number | null; to_address: string | null; subject: string; body: string;
  status: string; attempts: number; next_attempt_at: number; lease_owner: string | null; lease_until: number | null; last_error: string | null; created_at: number; sent_at: number | null;
}

/** Adds messages; one whose dedupe key is already there is left out (the first one stands). */
export async function insertMessages(conn: Conn, rows: Array<Omit<OutboxRow, 'id' | 'attempts' | 'lease_owner' | 'lease_until' | 'last_error' | 'sent_at'>>): Promise<void> {
  for (let i = 0; i < rows.length; i += 200) await conn('mail_outbox').insert(rows.slice(i, i + 200)).onConflict('dedupe_key').ignore();
}

/** Takes up to `limit` due rows for `owner` until `until`; returns the rows it got. */
export async function claim(conn: Conn, owner: string, at: number, until: number, limit: number): Promise<OutboxRow[]> {
  const ids: number[] = (await conn('mail_outbox').where('status', 'pending').andWhere('next_attempt_at', '<=', at)
    .andWhere((w) => w.whereNull('lease_until').orWhere('lease_until', '<', at)).orderBy('id').limit(limit).pluck('id')).map(Number);
  if (!ids.length) return [];
  await conn('mail_outbox').whereIn('id', ids).andWhere('status', 'pending').andWhere((w) => w.whereNull('lease_until').orWhere('lease_until', '<', at))
    .update({ lease_owner: owner, lease_until: until });
  return conn('mail_outbox').whereIn('id', ids).andWhere({ lease_owner: owner, lease_until: until, status: 'pending' }).orderBy('id');
}

/** Only the claim's holder moves a row on (a holder whose lease ran out changes nothing). */
export const markSent = (conn: Conn, id: number, owner: string, at: number, messageId: string | null) =>
  conn('mail_outbox').where({ id, lease_owner: owner, status: 'pending' }).update({ status: 'sent', sent_at: at, lease_owner: null, lease_until: null, message_id: messageId, attempts: conn.raw('attempts + 1') });
export const markRetry = (conn: Conn, id: number, owner: string, attempts: number, next: number, error: string, failed: boolean) =>
  conn('mail_outbox').where({ id, lease_owner: owner, status: 'pending' }).update({ status: failed ? 'failed' : 'pending', attempts, next_attempt_at: next, last_error: error.slice(0, 500), lease_owner: null, lease_until: null });

export const statusCounts = async (conn: Conn): Promise<Record<string, number>> =>
  Object.fromEntries((await conn('mail_outbox').groupBy('status').select('status').count({ n: '*' })).map((r: any) => [r.status, Number(r.n)]));

export const addressesOf = async (conn: Conn, ids: number[]): Promise<Map<number, { email: string | null; name: string; account: string; unit_id: number; status: string }>> =>
  new Map((ids.length ? await conn('users').whereIn('id', ids).select('id', 'email', 'name', 'account', 'unit_id', 'status') : []).map((u: any) => [Number(u.id), u]));

export const preferencesOf = async (conn: Conn, ids: number[]): Promise<Map<number, string>> =>
  new Map((ids.length ? await conn('mail_preferences').whereIn('user_id', ids).select('user_id', 'reminders') : []).map((r: any) => [Number(r.user_id), r.reminders]));

export async function setPreference(conn: Conn, userId: number, reminders: string, at: number): Promise<void> {
  const n = await conn('mail_preferences').where({ user_id: userId }).update({ reminders, updated_at: at });
  if (!n) await conn('mail_preferences').insert({ user_id: userId, reminders, updated_at: at }).onConflict('user_id').merge();
}
