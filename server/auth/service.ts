// Sign-in and password change. No Express here: routes call these and map results to HTTP.
import type { Config } from '../config.ts';
import { parseJson, type Db } from '../db.ts';
import { iso, now } from '../time.ts';
import { subtreeIds } from '../accounts/units.ts';
import { isDisabledNow } from '../accounts/active.ts';
import { recordEvent } from '../events/service.ts';
import { fieldError, Problem, validation } from '../problem.ts';
import { directoryFor, type Directory } from './ldap.ts';
import { dummyHash, hashPassword, passwordProblems, verifyPassword } from './passwords.ts';
import * as repo from './repo.ts';

const DAY = 86_400_000;

/** A lockout of the signed-in account since its previous sign-in, shown to its owner. */
export interface LockoutNotice {
  at: number;
  address: string | null;
  until: number | null;
}

export type LoginResult =
  | { kind: 'ok'; userId: number; account: string; notices: LockoutNotice[] }
  | { kind: 'invalid' }
  | { kind: 'locked'; until: number }
  | { kind: 'password-expired'; userId: number; account: string }
  | { kind: 'directory-unavailable' };


export function passwordExpired(u: { password_changed_at: number | null; must_change_password: number | boolean }, cfg: Pick<Config, 'PASSWORD_MAX_AGE_DAYS'>, at = now()): boolean {
  if (u.must_change_password) return true;
  return u.password_changed_at == null || at - Number(u.password_changed_at) > cfg.PASSWORD_MAX_AGE_DAYS * DAY;
}

/** One sign-in or password-change attempt: the name as typed, the account when it can sign in, the address. */
interface Attempt {
  account: string;
  user: repo.UserAuthRow | undefined;
  ip: string | null;
  actor: { id: number | null; account: string; ip: string | null };
}

async function attemptOf(db: Db, account: string, ip: string | null): Promise<Attempt> {
  const found = await repo.findByAccount(db, account);
  // Only local and directory accounts sign in; any other row answers like an unknown name.
  const user = found && (found.auth_source === 'local' || found.auth_source === 'ldap') ? found : undefined;
  const name = account.slice(0, 64);
  return { account: name, user, ip, actor: { id: user?.id ?? null, account: name, ip } };
}

const targetOf = (a: Attempt) => (a.user ? { targetType: 'user', targetId: a.user.id, unitId: a.user.unit_id } : {});

/** The end of the lock of this name from this address, if one is running. */
async function lockOf(db: Db, a: Attempt, t: number): Promise<number | null> {
  const streak = await repo.streakOf(db, a.account, a.ip ?? '');
  return streak?.locked_until != null && Number(streak.locked_until) > t ? Number(streak.locked_until) : null;
}

/**
 * One more refused attempt of the name from the address. At the threshold the name is locked for
 * that address only (資通系統防護基準: a stranger's failures never lock the real user out from
 * elsewhere); unknown names count and lock alike, so 423 tells nothing about who exists. A lock of
 * a real account is an event its owner is shown at the next sign-in and its admins on their to-do
 * page. Returns the lock's end, if any.
 */
async function countFailure(db: Db, cfg: Config, a: Attempt, action: string, outcome: 'failed' | 'denied', reason: string, t: number): Promise<number | null> {
  await repo.pruneStreaks(db, t - DAY);
  return db.transaction(async (trx) => {
    const failed = await repo.addFailure(trx, a.account, a.ip ?? '', t, t - DAY);
    const lock = failed >= cfg.LOCKOUT_THRESHOLD ? t + cfg.LOCKOUT_MINUTES * 60_000 : null;
    if (lock) await repo.lockStreak(trx, a.account, a.ip ?? '', lock);
    if (a.user) await repo.countUserFailure(trx, a.user.id, lock);
    await recordEvent(trx, a.actor, { action, outcome, ...targetOf(a), detail: { reason, failed } });
    // Two racing failures may both pass the threshold: one lockout event.
    if (failed === cfg.LOCKOUT_THRESHOLD) {
      await recordEvent(trx, a.actor, { action: 'lockout', outcome: 'failed', ...targetOf(a), detail: { failed, until: iso(lock), ...(a.user ? {} : { reason: 'unknown-account' }) } });
    }
    return lock;
  });
}

/**
 * Checks a secret with the same work whatever the account, so the time of the answer tells
 * nothing: exactly one argon2 verify always (a dummy hash for unknown names and for accounts
 * without a hash), and for a directory account the directory bind runs alongside it, so it costs
 * the longer of the two. `hashOf` picks the local hash to check (none: never valid).
 */
async function checkSecret(a: Attempt, secret: string, hashOf: (u: repo.UserAuthRow) => string | null, directory: Directory | null): Promise<'ok' | 'invalid' | 'unavailable' | 'not-configured'> {
  const dummy = await dummyHash();
  if (a.user?.auth_source === 'ldap') {
    if (!directory) {
      await verifyPassword(dummy, secret);
      return 'not-configured';
    }
    const [r] = await Promise.all([directory.authenticate(a.user.account, secret), verifyPassword(dummy, secret)]);
    return r.kind === 'ok' ? 'ok' : r.kind === 'unavailable' ? 'unavailable' : 'invalid';
  }
  const hash = a.user ? hashOf(a.user) : null;
  const ok = await verifyPassword(hash ?? dummy, secret);
  return hash && ok ? 'ok' : 'invalid';
}

/**
 * Sign-in with lockout per account and address: local accounts against their argon2id hash,
 * directory accounts through the directory (authorisation still from this system). Unknown,
 * disabled, not yet activated, directory and local accounts answer alike in status, body and
 * time; a running lock answers 423 only after real failures from the same address.
 */
export async function login(db: Db, cfg: Config, input: { account: string; password: string; ip: string | null }, directory: Directory | null = directoryFor(cfg)): Promise<LoginResult> {
  const t = now();
  const a = await attemptOf(db, input.account, input.ip);
  const locked = await lockOf(db, a, t);
  if (locked) {
    await recordEvent(db, a.actor, { action: 'login', outcome: 'denied', ...targetOf(a), detail: { reason: 'locked' } });
    return { kind: 'locked', until: locked };
  }
  const checked = await checkSecret(a, input.password, (u) => u.password_hash, directory);
  const user = a.user;
  if (checked === 'unavailable' || checked === 'not-configured') {
    // Only while the directory is down does an answer (503) tell that a directory account exists.
    await recordEvent(db, a.actor, { action: 'login', outcome: 'failed', ...targetOf(a), detail: { reason: checked === 'unavailable' ? 'directory-unavailable' : 'directory-not-configured' } });
    return { kind: 'directory-unavailable' };
  }
  if (checked === 'invalid' || !user) {
    const reason = !user ? 'unknown-account' : user.auth_source === 'ldap' ? 'directory-refused' : 'wrong-password';
    const lock = await countFailure(db, cfg, a, 'login', 'failed', reason, t);
    return lock ? { kind: 'locked', until: lock } : { kind: 'invalid' };
  }
  if (isDisabledNow(user, t)) {
    // The right password of an account that may not sign in is refused like a wrong one, and counts.
    const lock = await countFailure(db, cfg, a, 'login', 'denied', user.status === 'pending' ? 'not-activated' : 'account-disabled', t);
    return lock ? { kind: 'locked', until: lock } : { kind: 'invalid' };
  }
  if (user.auth_source === 'local' && passwordExpired(user, cfg, t)) {
    await recordEvent(db, a.actor, { action: 'login', outcome: 'denied', ...targetOf(a), detail: { reason: 'password-expired' } });
    return { kind: 'password-expired', userId: user.id, account: user.account };
  }
  const notices = (await repo.lockoutsOf(db, user.id, Number(user.last_login_at ?? 0))).map((e) => {
    const until = parseJson<{ until?: string }>(e.detail, {}).until;
    return { at: Number(e.at), address: e.ip, until: until ? Date.parse(until) : null };
  });
  await db.transaction(async (trx) => {
    await repo.recordSuccess(trx, user, t, input.ip);
    await recordEvent(trx, a.actor, { action: 'login', ...targetOf(a), detail: { source: user.auth_source } });
  });
  return { kind: 'ok', userId: user.id, account: user.account, notices };
}

/** How long a lockout stays on the to-do page of the account's admins. */
export const LOCKOUT_ALERT_DAYS = 7;

export interface LockoutAlert {
  at: number;
  userId: number;
  account: string;
  name: string;
  address: string | null;
  until: number | null;
  /** Still locked from that address (not yet over, not unlocked). */
  locked: boolean;
}

/**
 * Lockouts of the last LOCKOUT_ALERT_DAYS of accounts in the admin's unit and below (the admins
 * of the account's unit and those above it), newest first. In-app for now; e-mail comes later.
 */
export async function lockoutAlerts(db: Db, admin: { unitId: number }, t = now()): Promise<LockoutAlert[]> {
  const rows = await repo.lockoutsIn(db, await subtreeIds(db, admin.unitId), t - LOCKOUT_ALERT_DAYS * DAY);
  return rows.map((r) => {
    const ends = parseJson<{ until?: string }>(r.detail, {}).until;
    const until = ends ? Date.parse(ends) : null;
    return { at: Number(r.at), userId: r.user_id, account: r.account, name: r.name, address: r.ip, until, locked: until != null && until > t && r.locked_until != null && Number(r.locked_until) > t };
  });
}

/**
 * Clause 3(二)1(4): one account in use from two addresses at once is recorded for the review.
 * Called right after a new session is stored.
 */
export async function noteConcurrentUse(db: Db, user: { id: number; account: string }, sid: string, ip: string | null): Promise<boolean> {
  const others = (await repo.otherLiveSessions(db, user.id, sid, now())).filter((s) => s.ip && s.ip !== ip);
  if (!others.length) return false;
  const unit = await db('users').where({ id: user.id }).first('unit_id');
  await recordEvent(db, { id: user.id, account: user.account, ip }, { action: 'concurrent-session', outcome: 'denied', targetType: 'user', targetId: user.id, unitId: unit?.unit_id ?? null, detail: { otherAddresses: [...new Set(others.map((s) => s.ip))] } });
  return true;
}

/** Logout everywhere: ends all of the user's sessions (except `keepSid`, when given). */
export async function logoutEverywhere(db: Db, user: { id: number; account: string; ip: string | null }, keepSid?: string): Promise<number> {
  return db.transaction(async (trx) => {
    const n = await repo.endSessions(trx, user.id, keepSid);
    await recordEvent(trx, user, { action: 'logout-all', targetType: 'user', targetId: user.id, detail: { sessions: n } });
    return n;
  });
}

/** The one refusal of a password change, whatever was wrong: name, password, code or account kind. */
const REFUSED = '帳號或目前密碼（啟用碼）不正確。';
const lockedProblem = () => new Problem(423, 'account-locked', 'Locked', '登入失敗次數過多，帳號已暫時鎖定，請稍後再試。', [{ field: 'current', message: '帳號已暫時鎖定。' }]);

/**
 * Changes a password given the current one (no session needed, so an expired password can be
 * changed). Enforces policy, history and minimum age; the change and its event commit together.
 * Wrong current passwords count toward the same lockout as sign-in, and unknown, directory and
 * disabled accounts are refused alike. A change ends every other session of the account (all
 * but `keepSid`, the caller's own).
 */
/**
 * `provenUserId`: the session proved the current password moments ago (sign-in answered
 * password-expired, see PASSWORD_PROOF_MS in routes), so it is not asked again. Only for that
 * account, never for an activation code (a pending account cannot sign in).
 */
export async function changePassword(db: Db, cfg: Config, input: { account: string; current: string; next: string; ip: string | null; keepSid?: string; provenUserId?: number }): Promise<{ sessionsEnded: number }> {
  const t = now();
  const a = await attemptOf(db, input.account, input.ip);
  if (await lockOf(db, a, t)) {
    await recordEvent(db, a.actor, { action: 'password-change', outcome: 'denied', ...targetOf(a), detail: { reason: 'locked' } });
    throw lockedProblem();
  }
  const found = a.user;
  const changeable = !!found && found.auth_source === 'local' && found.status !== 'disabled' && !isDisabledNow({ status: 'active', disable_on: found.disable_on }, t);
  // A pending account sets its first password with the one-time activation code (3(二)1(3)).
  const activating = changeable && found.status === 'pending';
  const proven = changeable && !activating && input.provenUserId != null && Number(input.provenUserId) === Number(found.id);
  const checked = proven ? 'ok' : await checkSecret(a, input.current, (u) => (!changeable ? null : activating ? u.activation_hash : u.password_hash), null);
  if (checked !== 'ok' || !found) {
    const reason = !found ? 'unknown-account' : !changeable ? 'not-changeable' : activating ? 'wrong-activation-code' : 'wrong-password';
    if (await countFailure(db, cfg, a, 'password-change', 'failed', reason, t)) throw lockedProblem();
    throw fieldError('current', REFUSED);
  }
  const user = found;
  if (activating && (!user.activation_expires_at || Number(user.activation_expires_at) <= t)) {
    await recordEvent(db, a.actor, { action: 'activation', outcome: 'failed', ...targetOf(a), detail: { reason: 'expired' } });
    throw new Problem(400, 'activation-expired', 'Activation code expired', '啟用碼已逾期，請洽管理者重新核發。', [{ field: 'current', message: '啟用碼已逾期，請洽管理者重新核發。' }]);
  }
  const problems = passwordProblems(input.next, user.account, { minLength: cfg.PASSWORD_MIN_LENGTH });
  if (problems.length) throw validation([{ field: 'next', message: problems.join('；') }], problems.join('；'));
  if (!activating && !user.must_change_password && user.password_changed_at && t - Number(user.password_changed_at) < cfg.PASSWORD_MIN_AGE_DAYS * DAY) {
    throw fieldError('next', `密碼變更後 ${cfg.PASSWORD_MIN_AGE_DAYS} 日內不得再次變更。`);
  }
  const history = await repo.passwordHistory(db, user.id, cfg.PASSWORD_HISTORY);
  for (const old of [user.password_hash, ...history]) {
    if (old && (await verifyPassword(old, input.next))) throw fieldError('next', `新密碼不得與最近 ${cfg.PASSWORD_HISTORY} 次使用過的密碼相同。`);
  }
  const hash = await hashPassword(input.next);
  return db.transaction(async (trx) => {
    await repo.setPassword(trx, user, hash, t, input.ip);
    // Whoever held the old password is signed out everywhere (ASVS 3.3.3); the caller stays.
    const sessionsEnded = await repo.endSessions(trx, user.id, input.keepSid);
    await recordEvent(trx, { id: user.id, account: user.account, ip: input.ip }, { action: activating ? 'activation' : 'password-change', targetType: 'user', targetId: user.id, unitId: user.unit_id, detail: { sessionsEnded } });
    return { sessionsEnded };
  });
}
