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
  last_login_at: number | null;
}

const COLS = ['id', 'account', 'name', 'unit_id', 'status', 'auth_source', 'password_hash', 'password_changed_at', 'must_change_password', 'failed_logins', 'locked_until', 'disable_on', 'activation_hash', 'activation_expires_at', 'last_login_at'];

export const findByAccount = (conn: Conn, account: string): Promise<UserAuthRow | undefined> =>
  conn('users').where({ account }).first(COLS);

// ---- failure streaks per account name and source address (login_failures) ----
// users.failed_logins and users.locked_until stay as the account's summary for its admins: failures
// since the last success from any address, and the latest end of a lock from any address.

/** The streak of one name from one address (null address: ''). */
export const streakOf = (conn: Conn, account: string, ip: string): Promise<{ failures: number; locked_until: number | null } | undefined> =>
  conn('login_failures').where({ account, ip }).first('failures', 'locked_until');

/**
 * One more failure of the name from the address, in one statement so that instances racing on the
 * same streak never lose a count. A streak whose lock has ended, or that has been quiet since
 * `staleBefore`, starts again. Returns the streak's length.
 */
export async function addFailure(conn: Conn, account: string, ip: string, at: number, staleBefore: number): Promise<number> {
  await conn('login_failures').insert({ account, ip, failures: 1, locked_until: null, updated_at: at })
    .onConflict(['account', 'ip'])
    .merge({
      // MySQL assigns left to right, so the old locked_until and updated_at are read before they change.
      failures: conn.raw('CASE WHEN (?? IS NOT NULL AND ?? <= ?) OR ?? < ? THEN 1 ELSE ?? + 1 END', ['locked_until', 'locked_until', at, 'updated_at', staleBefore, 'failures']),
      locked_until: conn.raw('CASE WHEN ?? <= ? THEN NULL ELSE ?? END', ['locked_until', at, 'locked_until']),
      updated_at: at,
    });
  const row = await streakOf(conn, account, ip);
  return Number(row?.failures ?? 1);
}

export const lockStreak = (conn: Conn, account: string, ip: string, until: number) =>
  conn('login_failures').where({ account, ip }).update({ locked_until: until });

/** Ends the streak of the name from one address (a success from there). */
export const clearStreak = (conn: Conn, account: string, ip: string) => conn('login_failures').where({ account, ip }).del();

/** Ends every streak and lock of the name, from every address (the admin's unlock). */
export const clearStreaks = (conn: Conn, account: string) => conn('login_failures').where({ account }).del();

/** Streaks quiet since `before` are over (no lock outlasts a day). */
export const pruneStreaks = (conn: Conn, before: number) => conn('login_failures').where('updated_at', '<', before).del();

/** A failure of a real account: counted in its summary, and a new lock shown on it. */
export const countUserFailure = (conn: Conn, id: number, lockedUntil: number | null) =>
  conn('users').where({ id }).update({ failed_logins: conn.raw('?? + 1', ['failed_logins']), ...(lockedUntil ? { locked_until: lockedUntil } : {}) });

/** The latest end of a lock of the name still running from any address, or null. */
export async function activeLockEnd(conn: Conn, account: string, at: number): Promise<number | null> {
  const row = await conn('login_failures').where({ account }).andWhere('locked_until', '>', at).max({ until: 'locked_until' }).first();
  return row?.until == null ? null : Number(row.until);
}

/** A success: no failures since, and still "locked" only while another address's lock runs. */
export async function recordSuccess(conn: Conn, user: { id: number; account: string }, at: number, ip: string | null): Promise<void> {
  await clearStreak(conn, user.account, ip ?? '');
  await conn('users').where({ id: user.id }).update({ failed_logins: 0, locked_until: await activeLockEnd(conn, user.account, at), last_login_at: at, last_login_ip: ip });
}

// A lockout event's actor is the account that was tried (its id when it exists), the address the
// one the failures came from.

/** Lockouts of an account since an instant (for its owner's notice at the next sign-in). */
export const lockoutsOf = (conn: Conn, userId: number, since: number): Promise<Array<{ at: number; ip: string | null; detail: string | null }>> =>
  conn('system_events').where({ action: 'lockout', actor_id: userId, target_type: 'user' }).andWhere('at', '>', since).orderBy('id', 'desc').limit(20).select('at', 'ip', 'detail');

/** Lockouts of accounts in the given units since an instant, newest first (the admins' alert). */
export const lockoutsIn = (conn: Conn, unitIds: number[], since: number): Promise<Array<{ at: number; ip: string | null; detail: string | null; user_id: number; account: string; name: string; locked_until: number | null }>> =>
  conn('system_events as e')
    .join('users as u', 'u.id', 'e.actor_id')
    .where({ 'e.action': 'lockout', 'e.target_type': 'user' })
    .whereIn('e.unit_id', unitIds.length ? unitIds : [-1])
    .andWhere('e.at', '>=', since)
    .orderBy('e.id', 'desc')
    .limit(200)
    .select('e.at', 'e.ip', 'e.detail', 'u.id as user_id', 'u.account', 'u.name', 'u.locked_until');

export const passwordHistory = (conn: Conn, userId: number, limit: number): Promise<string[]> =>
  conn('password_history').where({ user_id: userId }).orderBy('id', 'desc').limit(limit).pluck('password_hash');

export async function setPassword(conn: Conn, user: { id: number; account: string }, hash: string, at: number, ip: string | null): Promise<void> {
  await clearStreak(conn, user.account, ip ?? '');
  const userId = user.id;
  await conn('users').where({ id: userId }).update({
    password_hash: hash, password_changed_at: at, must_change_password: false, failed_logins: 0, locked_until: await activeLockEnd(conn, user.account, at),
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
