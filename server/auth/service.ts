// Sign-in and password change. No Express here: routes call these and map results to HTTP.
import type { Config } from '../config.ts';
import type { Db } from '../db.ts';
import { localDate, now } from '../time.ts';
import { recordEvent } from '../events/service.ts';
import { fieldError, Problem, validation } from '../web/problem.ts';
import { directoryFor, type Directory } from './ldap.ts';
import { dummyHash, hashPassword, passwordProblems, verifyPassword } from './passwords.ts';
import * as repo from './repo.ts';

const DAY = 86_400_000;

export type LoginResult =
  | { kind: 'ok'; userId: number; account: string }
  | { kind: 'invalid' }
  | { kind: 'locked'; until: number }
  | { kind: 'password-expired'; userId: number; account: string }
  | { kind: 'directory-unavailable' };

/** Clause 3(二)1(6): a scheduled disable takes effect at the start of its day (Taipei). */
export function isDisabledNow(u: { status: string; disable_on: string | null }, at = now()): boolean {
  if (u.status !== 'active') return true;
  return !!u.disable_on && u.disable_on <= localDate(at);
}

export function passwordExpired(u: { password_changed_at: number | null; must_change_password: number | boolean }, cfg: Pick<Config, 'PASSWORD_MAX_AGE_DAYS'>, at = now()): boolean {
  if (u.must_change_password) return true;
  return u.password_changed_at == null || at - Number(u.password_changed_at) > cfg.PASSWORD_MAX_AGE_DAYS * DAY;
}

/** One more failed attempt; locks the account at the threshold. Returns the lock end, if any. */
async function countFailure(db: Db, cfg: Config, user: repo.UserAuthRow, actor: { id: number | null; account: string; ip: string | null }, action: string, reason: string, t: number): Promise<number | null> {
  const failed = (user.locked_until && Number(user.locked_until) <= t ? 0 : user.failed_logins) + 1;
  const lock = failed >= cfg.LOCKOUT_THRESHOLD ? t + cfg.LOCKOUT_MINUTES * 60_000 : null;
  await db.transaction(async (trx) => {
    await repo.recordFailure(trx, user.id, failed, lock);
    await recordEvent(trx, actor, { action, outcome: 'failed', targetType: 'user', targetId: user.id, unitId: user.unit_id, detail: { reason, failed } });
    if (lock) await recordEvent(trx, actor, { action: 'lockout', outcome: 'failed', targetType: 'user', targetId: user.id, unitId: user.unit_id, detail: { failed, until: new Date(lock).toISOString() } });
  });
  return lock;
}

/**
 * Sign-in with lockout: local accounts against their argon2id hash, directory accounts through
 * the directory (authorisation still from this system). Unknown account and wrong password
 * answer the same.
 */
export async function login(db: Db, cfg: Config, input: { account: string; password: string; ip: string | null }, directory: Directory | null = directoryFor(cfg)): Promise<LoginResult> {
  const t = now();
  const user = await repo.findByAccount(db, input.account);
  const actor = { id: user?.id ?? null, account: input.account.slice(0, 64), ip: input.ip };
  if (!user || (user.auth_source !== 'local' && user.auth_source !== 'ldap')) {
    await verifyPassword(await dummyHash(), input.password);
    await recordEvent(db, actor, { action: 'login', outcome: 'failed', detail: { reason: 'unknown-account' } });
    return { kind: 'invalid' };
  }
  if (user.locked_until && Number(user.locked_until) > t) {
    await recordEvent(db, actor, { action: 'login', outcome: 'denied', targetType: 'user', targetId: user.id, unitId: user.unit_id, detail: { reason: 'locked' } });
    return { kind: 'locked', until: Number(user.locked_until) };
  }
  let ok: boolean;
  if (user.auth_source === 'ldap') {
    if (!directory) {
      await recordEvent(db, actor, { action: 'login', outcome: 'failed', targetType: 'user', targetId: user.id, unitId: user.unit_id, detail: { reason: 'directory-not-configured' } });
      return { kind: 'directory-unavailable' };
    }
    const r = await directory.authenticate(user.account, input.password);
    if (r.kind === 'unavailable') {
      await recordEvent(db, actor, { action: 'login', outcome: 'failed', targetType: 'user', targetId: user.id, unitId: user.unit_id, detail: { reason: 'directory-unavailable' } });
      return { kind: 'directory-unavailable' };
    }
    ok = r.kind === 'ok';
  } else {
    ok = await verifyPassword(user.password_hash, input.password);
  }
  if (!ok) {
    const lock = await countFailure(db, cfg, user, actor, 'login', user.auth_source === 'ldap' ? 'directory-refused' : 'wrong-password', t);
    return lock ? { kind: 'locked', until: lock } : { kind: 'invalid' };
  }
  if (isDisabledNow(user, t)) {
    await recordEvent(db, actor, { action: 'login', outcome: 'denied', targetType: 'user', targetId: user.id, unitId: user.unit_id, detail: { reason: user.status === 'pending' ? 'not-activated' : 'account-disabled' } });
    return { kind: 'invalid' };
  }
  if (user.auth_source === 'local' && passwordExpired(user, cfg, t)) {
    await recordEvent(db, actor, { action: 'login', outcome: 'denied', targetType: 'user', targetId: user.id, unitId: user.unit_id, detail: { reason: 'password-expired' } });
    return { kind: 'password-expired', userId: user.id, account: user.account };
  }
  await db.transaction(async (trx) => {
    await repo.recordSuccess(trx, user.id, t, input.ip);
    await recordEvent(trx, actor, { action: 'login', targetType: 'user', targetId: user.id, unitId: user.unit_id, detail: { source: user.auth_source } });
  });
  return { kind: 'ok', userId: user.id, account: user.account };
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

/**
 * Changes a password given the current one (no session needed, so an expired password can be
 * changed). Enforces policy, history and minimum age; the change and its event commit together.
 */
export async function changePassword(db: Db, cfg: Config, input: { account: string; current: string; next: string; ip: string | null }): Promise<void> {
  const t = now();
  const user = await repo.findByAccount(db, input.account);
  const actor = { id: user?.id ?? null, account: input.account.slice(0, 64), ip: input.ip };
  const refuse = async (message = '帳號或目前密碼不正確。') => {
    throw fieldError('current', message);
  };
  if (!user || user.auth_source !== 'local' || user.status === 'disabled') {
    if (!user) await verifyPassword(await dummyHash(), input.current);
    await recordEvent(db, actor, { action: 'password-change', outcome: 'failed', detail: { reason: user ? 'not-changeable' : 'unknown-account' } });
    return refuse();
  }
  if (user.locked_until && Number(user.locked_until) > t) {
    await recordEvent(db, actor, { action: 'password-change', outcome: 'denied', targetType: 'user', targetId: user.id, detail: { reason: 'locked' } });
    throw new Problem(423, 'account-locked', 'Locked', '登入失敗次數過多，帳號已暫時鎖定，請稍後再試。', [{ field: 'current', message: '帳號已暫時鎖定。' }]);
  }
  // A pending account sets its first password with the one-time activation code (3(二)1(3)).
  const activating = user.status === 'pending';
  if (activating) {
    const valid = !!user.activation_hash && (await verifyPassword(user.activation_hash, input.current));
    if (!valid) {
      await countFailure(db, cfg, user, actor, 'password-change', 'wrong-activation-code', t);
      return refuse('帳號或啟用碼不正確。');
    }
    if (!user.activation_expires_at || Number(user.activation_expires_at) <= t) {
      await recordEvent(db, actor, { action: 'activation', outcome: 'failed', targetType: 'user', targetId: user.id, unitId: user.unit_id, detail: { reason: 'expired' } });
      throw new Problem(400, 'activation-expired', 'Activation code expired', '啟用碼已逾期，請洽管理者重新核發。', [{ field: 'current', message: '啟用碼已逾期，請洽管理者重新核發。' }]);
    }
  } else if (!(await verifyPassword(user.password_hash, input.current))) {
    await countFailure(db, cfg, user, actor, 'password-change', 'wrong-password', t);
    return refuse();
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
  await db.transaction(async (trx) => {
    await repo.setPassword(trx, user.id, hash, t);
    await recordEvent(trx, { id: user.id, account: user.account, ip: input.ip }, { action: activating ? 'activation' : 'password-change', targetType: 'user', targetId: user.id, unitId: user.unit_id });
  });
}
