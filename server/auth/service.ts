// Sign-in and password change. No Express here: routes call these and map results to HTTP.
import type { Config } from '../config.ts';
import type { Db } from '../db.ts';
import { localDate, now } from '../time.ts';
import { recordEvent } from '../events/service.ts';
import { fieldError, validation } from '../web/problem.ts';
import { dummyHash, hashPassword, passwordProblems, verifyPassword } from './passwords.ts';
import * as repo from './repo.ts';

const DAY = 86_400_000;

export type LoginResult =
  | { kind: 'ok'; userId: number; account: string }
  | { kind: 'invalid' }
  | { kind: 'locked'; until: number }
  | { kind: 'password-expired'; userId: number; account: string };

/** Clause 3(二)1(6): a scheduled disable takes effect at the start of its day (Taipei). */
export function isDisabledNow(u: { status: string; disable_on: string | null }, at = now()): boolean {
  if (u.status !== 'active') return true;
  return !!u.disable_on && u.disable_on <= localDate(at);
}

export function passwordExpired(u: { password_changed_at: number | null; must_change_password: number | boolean }, cfg: Pick<Config, 'PASSWORD_MAX_AGE_DAYS'>, at = now()): boolean {
  if (u.must_change_password) return true;
  return u.password_changed_at == null || at - Number(u.password_changed_at) > cfg.PASSWORD_MAX_AGE_DAYS * DAY;
}

/** Local password sign-in with lockout. Unknown account and wrong password answer the same. */
export async function login(db: Db, cfg: Config, input: { account: string; password: string; ip: string | null }): Promise<LoginResult> {
  const t = now();
  const user = await repo.findByAccount(db, input.account);
  const actor = { id: user?.id ?? null, account: input.account.slice(0, 64), ip: input.ip };
  if (!user || user.auth_source !== 'local') {
    await verifyPassword(await dummyHash(), input.password);
    await recordEvent(db, actor, { action: 'login', outcome: 'failed', detail: { reason: user ? 'directory-account' : 'unknown-account' } });
    return { kind: 'invalid' };
  }
  if (user.locked_until && Number(user.locked_until) > t) {
    await recordEvent(db, actor, { action: 'login', outcome: 'denied', targetType: 'user', targetId: user.id, detail: { reason: 'locked' } });
    return { kind: 'locked', until: Number(user.locked_until) };
  }
  const ok = await verifyPassword(user.password_hash, input.password);
  if (!ok || isDisabledNow(user)) {
    if (!ok) {
      const failed = (user.locked_until && Number(user.locked_until) <= t ? 0 : user.failed_logins) + 1;
      const lock = failed >= cfg.LOCKOUT_THRESHOLD ? t + cfg.LOCKOUT_MINUTES * 60_000 : null;
      await repo.recordFailure(db, user.id, failed, lock);
      await recordEvent(db, actor, { action: lock ? 'lockout' : 'login', outcome: 'failed', targetType: 'user', targetId: user.id, detail: { reason: 'wrong-password', failed } });
      if (lock) return { kind: 'locked', until: lock };
    } else {
      await recordEvent(db, actor, { action: 'login', outcome: 'denied', targetType: 'user', targetId: user.id, detail: { reason: 'account-disabled' } });
    }
    return { kind: 'invalid' };
  }
  if (passwordExpired(user, cfg, t)) {
    await recordEvent(db, actor, { action: 'login', outcome: 'denied', targetType: 'user', targetId: user.id, detail: { reason: 'password-expired' } });
    return { kind: 'password-expired', userId: user.id, account: user.account };
  }
  await repo.recordSuccess(db, user.id, t, input.ip);
  await recordEvent(db, actor, { action: 'login', targetType: 'user', targetId: user.id });
  return { kind: 'ok', userId: user.id, account: user.account };
}

/**
 * Changes a password given the current one (no session needed, so an expired password can be
 * changed). Enforces policy, history and minimum age; the change and its event commit together.
 */
export async function changePassword(db: Db, cfg: Config, input: { account: string; current: string; next: string; ip: string | null }): Promise<void> {
  const t = now();
  const user = await repo.findByAccount(db, input.account);
  const ok = user && user.auth_source === 'local' && !(user.locked_until && Number(user.locked_until) > t) && (await verifyPassword(user.password_hash, input.current));
  if (!user || !ok || user.status === 'disabled') {
    if (!user) await verifyPassword(await dummyHash(), input.current);
    await recordEvent(db, { id: user?.id ?? null, account: input.account.slice(0, 64), ip: input.ip }, { action: 'password-change', outcome: 'failed' });
    throw fieldError('current', '帳號或目前密碼不正確。');
  }
  const problems = passwordProblems(input.next, user.account, { minLength: cfg.PASSWORD_MIN_LENGTH });
  if (problems.length) throw validation([{ field: 'next', message: problems.join('；') }], problems.join('；'));
  if (!user.must_change_password && user.password_changed_at && t - Number(user.password_changed_at) < cfg.PASSWORD_MIN_AGE_DAYS * DAY) {
    throw fieldError('next', `密碼變更後 ${cfg.PASSWORD_MIN_AGE_DAYS} 日內不得再次變更。`);
  }
  const history = await repo.passwordHistory(db, user.id, cfg.PASSWORD_HISTORY);
  for (const old of [user.password_hash, ...history]) {
    if (await verifyPassword(old, input.next)) throw fieldError('next', `新密碼不得與最近 ${cfg.PASSWORD_HISTORY} 次使用過的密碼相同。`);
  }
  const hash = await hashPassword(input.next);
  await db.transaction(async (trx) => {
    await repo.setPassword(trx, user.id, hash, t);
    await recordEvent(trx, { id: user.id, account: user.account, ip: input.ip }, { action: 'password-change', targetType: 'user', targetId: user.id });
  });
}
