import type { Conn } from '../db.ts';

export interface UserAuthRow {
  id: number;
  account: string;
  name: string;
  unit_id: number;
  status: string;
  auth_source: string;
  password_hash: string | null;
  password_changed_at: number | null;
  must_change_password: number | boolean;
  failed_logins: number;
  locked_until: number | null;
  disable_on: string | null;
  activation_hash: string | null;
  activation_expires_at: number | null;
}

const COLS = ['id', 'account', 'name', 'unit_id', 'status', 'auth_source', 'password_hash', 'password_changed_at', 'must_change_password', 'failed_logins', 'locked_until', 'disable_on', 'activation_hash', 'activation_expires_at'];

export const findByAccount = (conn: Conn, account: string): Promise<UserAuthRow | undefined> =>
  conn('users').where({ account }).first(COLS);

export const recordFailure = (conn: Conn, id: number, failed: number, lockedUntil: number | null) =>
  conn('users').where({ id }).update({ failed_logins: failed, locked_until: lockedUntil });

export const recordSuccess = (conn: Conn, id: number, at: number, ip: string | null) =>
  conn('users').where({ id }).update({ failed_logins: 0, locked_until: null, last_login_at: at, last_login_ip: ip });

export const passwordHistory = (conn: Conn, userId: number, limit: number): Promise<string[]> =>
  conn('password_history').where({ user_id: userId }).orderBy('id', 'desc').limit(limit).pluck('password_hash');

export async function setPassword(conn: Conn, userId: number, hash: string, at: number): Promise<void> {
  await conn('users').where({ id: userId }).update({
    password_hash: hash, password_changed_at: at, must_change_password: false, failed_logins: 0, locked_until: null,
    activation_hash: null, activation_expires_at: null, status: conn.raw("CASE WHEN status = 'pending' THEN 'active' ELSE status END"), updated_at: at,
  });
  await conn('password_history').insert({ user_id: userId, password_hash: hash, created_at: at });
}

/** Live sessions of a user other than `sid` (for concurrent-use detection). */
export const otherLiveSessions = (conn: Conn, userId: number, sid: string, at: number): Promise<Array<{ sid: string; ip: string | null }>> =>
  conn('sessions').where({ user_id: userId }).whereNot({ sid }).andWhere('expires_at', '>', at).select('sid', 'ip');

/** Ends every session of a user (logout everywhere; disabled account). */
export const endSessions = (conn: Conn, userId: number, exceptSid?: string): Promise<number> => {
  const q = conn('sessions').where({ user_id: userId });
  if (exceptSid) q.whereNot({ sid: exceptSid });
  return q.del();
};
