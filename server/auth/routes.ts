// HTTP for sign-in, sign-out, password change and /api/v1/me.
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import type { Routes } from '../web/access.ts';
import { parseOr400, Problem, unauthorized } from '../problem.ts';
import { parseForm, formErrors } from '../web/validate.ts';
import { renderPage } from '../web/views.ts';
import { generateCsrfToken } from '../web/middleware.ts';
import { recordEvent } from '../events/service.ts';
import { iso, now, rocDateTime } from '../time.ts';
import { changePassword, login, logoutEverywhere, noteConcurrentUse, type LockoutNotice } from './service.ts';
import { permissionsOf } from './permissions.ts';

const loginBody = z.object({
  account: z.string().trim().min(1, '請輸入帳號').max(64, '帳號過長'),
  password: z.string().min(1, '請輸入密碼').max(256, '密碼過長'),
});
const passwordBody = z.object({
  account: z.string().trim().min(1, '請輸入帳號').max(64, '帳號過長'),
  current: z.string().min(1, '請輸入目前密碼或啟用碼').max(256),
  next: z.string().min(1, '請輸入新密碼').max(256, '密碼過長'),
});
/** The form after sign-in proved the password: no current password asked again. */
const provenPasswordBody = passwordBody.extend({ current: z.string().max(256).optional().default('') });

/**
 * How long a sign-in that answered "choose a new password" spares retyping the one-time password:
 * long enough to choose one, short enough that a session left open does not keep the proof.
 */
export const PASSWORD_PROOF_MS = 10 * 60_000;

/** A new session id holding only the proof that this account's password was just checked. */
function holdProof(req: Request, proof: { userId: number; account: string }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    req.session.regenerate((err) => {
      if (err) return reject(err);
      req.session.passwordProof = { ...proof, at: now() };
      req.session.save((e) => (e ? reject(e) : resolve()));
    });
  });
}
/** The session's proof when still fresh (and, given an account, for that account). */
function proofOf(req: Request, account?: string): { userId: number; account: string } | null {
  const p = req.session?.passwordProof;
  if (!p || req.actor || now() - Number(p.at) > PASSWORD_PROOF_MS || (account !== undefined && account !== p.account)) return null;
  return p;
}

const DIRECTORY_DOWN = '目錄服務（LDAP／AD）暫時無法連線，目錄帳號目前無法登入；本系統帳號不受影響。請稍後再試或洽資訊人員。';

/** Starts a fresh session (new id: no session fixation) for the user. */
function establish(req: Request, userId: number, notices: LockoutNotice[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    req.session.regenerate((err) => {
      if (err) return reject(err);
      req.session.userId = userId;
      req.session.createdAt = now();
      (req.session as any).ip = req.ip ?? null;
      // Lockouts since the last sign-in: the API shows them in /api/v1/me, pages once as a message.
      if (notices.length) {
        req.session.notices = notices;
        req.session.flash = { kind: 'error', text: lockoutNoticeText(notices) };
      }
      req.session.save((e) => (e ? reject(e) : resolve()));
    });
  });
}

/** After sign-in: a new session id, and concurrent use from another address recorded (3(二)1(4)). */
async function signedIn(req: Request, db: AppContext['db'], r: { userId: number; account: string; notices: LockoutNotice[] }): Promise<void> {
  await establish(req, r.userId, r.notices);
  await noteConcurrentUse(db, { id: r.userId, account: r.account }, req.sessionID, req.ip ?? null);
}

/** The owner's alert of lockouts since the last sign-in (in-app; e-mail comes in a later issue). */
function lockoutNoticeText(notices: LockoutNotice[]): string {
  const last = notices[0];
  return `自上次登入以來，您的帳號因連續登入失敗被鎖定 ${notices.length} 次（最近一次：${rocDateTime(last.at)}，來源位址 ${last.address || '不明'}）。鎖定只限該來源，您的登入不受影響；若非本人操作，請立即變更密碼並通知管理者。`;
}

const safeNext = (next: unknown): string => (typeof next === 'string' && /^\/(?!\/)[\w\-/?=&%.]*$/.test(next) ? next : '/');

export function register(r: Routes, ctx: AppContext): void {
  const { db, cfg } = ctx;

  r.get('/login', (req, res) => {
    if (req.actor) return res.redirect(303, '/');
    renderPage(res, 'login', { title: '登入', values: { account: '' }, errors: {}, next: safeNext(req.query.next) });
  });

  r.post('/login', async (req, res) => {
    const parsed = parseForm(loginBody, req.body);
    const next = safeNext(req.body?.next);
    if (!parsed.ok) return renderPage(res, 'login', { title: '登入', values: { account: String(req.body?.account ?? '') }, errors: parsed.errors, next }, 400);
    const result = await login(db, cfg, { ...parsed.value, ip: req.ip ?? null });
    if (result.kind === 'ok') {
      await signedIn(req, db, result);
      return res.redirect(303, next);
    }
    if (result.kind === 'directory-unavailable') {
      return renderPage(res, 'login', { title: '登入', values: { account: parsed.value.account }, errors: { form: DIRECTORY_DOWN }, next }, 503);
    }
    if (result.kind === 'password-expired') {
      // The password was right: the next page asks only for the new one (this session, briefly).
      await holdProof(req, { userId: result.userId, account: result.account });
      req.session.flash = { kind: 'error', text: '密碼已逾期或須於首次登入時變更，請設定新密碼。' };
      return res.redirect(303, `/password?account=${encodeURIComponent(result.account)}`);
    }
    const message = result.kind === 'locked' ? '登入失敗次數過多，帳號已暫時鎖定，請稍後再試或洽管理者。' : '帳號或密碼不正確。';
    renderPage(res, 'login', { title: '登入', values: { account: parsed.value.account }, errors: { form: message }, next }, result.kind === 'locked' ? 423 : 401);
  });

  r.post('/logout', async (req, res) => {
    const actor = req.actor!;
    await recordEvent(db, { id: actor.id, account: actor.account, ip: req.ip ?? null }, { action: 'logout' });
    req.session.destroy(() => res.redirect(303, '/login'));
  });

  r.get('/password', (req, res) => {
    const asked = typeof req.query.account === 'string' ? req.query.account : undefined;
    const proof = proofOf(req, asked);
    const account = proof?.account ?? asked ?? req.actor?.account ?? '';
    renderPage(res, 'password', { title: '變更密碼', values: { account }, errors: {}, minLength: cfg.PASSWORD_MIN_LENGTH, proven: !!proof, proofMinutes: PASSWORD_PROOF_MS / 60_000 });
  });

  r.post('/password', async (req, res) => {
    const proof = proofOf(req, String(req.body?.account ?? '').trim());
    const parsed = parseForm(proof ? provenPasswordBody : passwordBody, req.body);
    const values = { account: String(req.body?.account ?? '') };
    const show = (errors: Record<string, string>, status: number) =>
      renderPage(res, 'password', { title: '變更密碼', values, errors, minLength: cfg.PASSWORD_MIN_LENGTH, proven: !!proof, proofMinutes: PASSWORD_PROOF_MS / 60_000 }, status);
    if (!parsed.ok) return show(parsed.errors, 400);
    if (req.body.next !== req.body.confirm) return show({ confirm: '兩次輸入的新密碼不一致' }, 400);
    const self = req.actor?.account === parsed.value.account;
    try {
      await changePassword(db, cfg, { ...parsed.value, ip: req.ip ?? null, keepSid: self ? req.sessionID : undefined, provenUserId: proof?.userId });
    } catch (e) {
      if (e instanceof Problem && e.errors.length) {
        return show(formErrors(e), e.status);
      }
      throw e;
    }
    // One use: the proof ends with the change.
    delete req.session.passwordProof;
    // Signed in as this account: this session stays, every other one has ended.
    if (self) {
      req.session.flash = { kind: 'ok', text: '密碼已變更；此帳號在其他地方的登入均已登出。' };
      return res.redirect(303, '/');
    }
    req.session.flash = { kind: 'ok', text: '密碼已變更，請以新密碼登入。' };
    res.redirect(303, '/login');
  });

  r.post('/api/v1/auth/login', async (req: Request, res: Response) => {
    const body = parseOr400(loginBody, req.body);
    const result = await login(db, cfg, { ...body, ip: req.ip ?? null });
    if (result.kind === 'ok') {
      await signedIn(req, db, result);
      return res.status(204).end();
    }
    if (result.kind === 'directory-unavailable') throw new Problem(503, 'directory-unavailable', 'Directory unavailable', DIRECTORY_DOWN);
    if (result.kind === 'locked') throw new Problem(423, 'account-locked', 'Locked', '登入失敗次數過多，帳號已暫時鎖定。', [], { lockedUntil: new Date(result.until).toISOString() });
    if (result.kind === 'password-expired') throw new Problem(409, 'password-expired', 'Password change required', '密碼已逾期或須變更，請以 POST /api/v1/auth/password 設定新密碼。');
    throw unauthorized('帳號或密碼不正確。');
  });

  r.post('/api/v1/auth/logout', async (req, res) => {
    const actor = req.actor!;
    await recordEvent(db, { id: actor.id, account: actor.account, ip: req.ip ?? null }, { action: 'logout' });
    req.session.destroy(() => res.status(204).end());
  });

  // Logout everywhere: ends every session of the signed-in account, this one included.
  r.post('/api/v1/auth/logout-all', async (req, res) => {
    const a = req.actor!;
    const ended = await logoutEverywhere(db, { id: a.id, account: a.account, ip: req.ip ?? null });
    req.session.destroy(() => res.json({ ended }));
  });

  r.post('/logout-all', async (req, res) => {
    const a = req.actor!;
    await logoutEverywhere(db, { id: a.id, account: a.account, ip: req.ip ?? null });
    req.session.destroy(() => res.redirect(303, '/login'));
  });

  r.post('/api/v1/auth/password', async (req, res) => {
    const body = parseOr400(passwordBody, req.body);
    // A caller signed in as this account keeps its session; every other session of it ends.
    await changePassword(db, cfg, { ...body, ip: req.ip ?? null, keepSid: req.actor?.account === body.account ? req.sessionID : undefined });
    res.status(204).end();
  });

  r.get('/api/v1/me', async (req, res) => {
    const a = req.actor!;
    const unit = await db('units').where({ id: a.unitId }).first('id', 'code', 'name', 'kind');
    res.json({
      id: a.id,
      account: a.account,
      name: a.name,
      roles: a.roles,
      rank: a.rank,
      unit: unit ? { id: unit.id, code: unit.code, name: unit.name, kind: unit.kind } : null,
      permissions: await permissionsOf(db, a.id),
      // Lockouts of this account between the previous sign-in and this session's.
      notices: (req.session.notices ?? []).map((n) => ({ type: 'lockout', at: iso(n.at), address: n.address, lockedUntil: iso(n.until) })),
      csrfToken: generateCsrfToken(req),
    });
  });
}
