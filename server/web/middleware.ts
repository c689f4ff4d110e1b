// Request-level plumbing: request ids, the signed-in actor, absolute session lifetime, CSRF,
// service tokens and locals for the views.
import crypto from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { csrfSync } from 'csrf-sync';
import type { Db } from '../db.ts';
import { now, parseRocDate } from '../time.ts';
import { isRole, type Role } from '../accounts/roles.ts';
import { isDisabledNow } from '../accounts/active.ts';
import { navFor } from './views.ts';
import { Problem, unauthorized, validation } from '../problem.ts';
import { checksOwnText, textFieldErrors } from './validate.ts';

export function requestId(): RequestHandler {
  return (req, res, next) => {
    req.requestId = crypto.randomUUID();
    res.setHeader('X-Request-Id', req.requestId);
    next();
  };
}

export const bearerOf = (req: Request): string | null => {
  const h = req.headers.authorization;
  return h && /^Bearer\s+\S+$/i.test(h) ? h.replace(/^Bearer\s+/i, '') : null;
};

export const sha256hex = (s: string): string => crypto.createHash('sha256').update(s).digest('hex');

/** Resolves `Authorization: Bearer` service tokens (integrations), bound to one unit. */
export function serviceTokens(db: Db): RequestHandler {
  return async (req, _res, next) => {
    const raw = bearerOf(req);
    if (!raw) return next();
    const row = await db('service_tokens as t')
      .join('users as u', 'u.id', 't.user_id')
      .where({ 't.token_hash': sha256hex(raw), 't.status': 'active' })
      .first('t.id', 't.name', 't.unit_id', 't.user_id', 't.last_used_at', 'u.status', 'u.disable_on');
    // The service account counts as disabled from its scheduled disable day, job run or not.
    if (!row || isDisabledNow(row)) return next(unauthorized('服務權杖無效或已停用。'));
    req.serviceToken = { id: row.id, name: row.name, unitId: row.unit_id, userId: row.user_id };
    // "Last used" is for the admin's token list: a minute's precision is enough, and writing it on
    // every call would serialise one integration's requests on this row.
    const t = now();
    if (row.last_used_at == null || t - Number(row.last_used_at) > 60_000) {
      await db('service_tokens').where({ id: row.id }).update({ last_used_at: t });
    }
    next();
  };
}

/**
 * Loads the signed-in person on every request, so a disabled account or one whose scheduled
 * disable date has come stops working at once, not at its next login.
 */
export function loadActor(db: Db, opts: { absoluteMs: number; isDisabledNow: (u: { status: string; disable_on: string | null }) => boolean }): RequestHandler {
  return async (req, _res, next) => {
    const s = req.session;
    if (!s?.userId) return next();
    if (s.createdAt && now() - s.createdAt > opts.absoluteMs) {
      return s.regenerate(() => next());
    }
    const user = await db('users').where({ id: s.userId }).first('id', 'account', 'name', 'unit_id', 'rank', 'status', 'disable_on');
    if (!user || opts.isDisabledNow(user)) {
      return s.regenerate(() => next());
    }
    const roles = (await db('user_roles').where({ user_id: user.id }).pluck('role')).filter(isRole) as Role[];
    req.actor = { id: user.id, account: user.account, name: user.name, unitId: user.unit_id, roles, rank: user.rank, ip: req.ip ?? null };
    next();
  };
}

// Synchroniser-token CSRF: the token lives in the session; forms send `_csrf`, scripts `X-CSRF-Token`.
const csrf = csrfSync({
  getTokenFromRequest: (req) => (req.body && typeof req.body._csrf === 'string' ? req.body._csrf : (req.headers['x-csrf-token'] as string | undefined)),
});
export const generateCsrfToken = (req: Request): string => csrf.generateToken(req);

/** CSRF on every state-changing request that rides on a session cookie. */
export function csrfProtection(exempt: Set<string>): RequestHandler {
  return (req, res, next) => {
    if (req.serviceToken) return next(); // Bearer tokens are not sent by browsers automatically.
    if (exempt.has(`${req.method} ${req.path}`)) return next();
    csrf.csrfSynchronisedProtection(req, res, (err?: unknown) => {
      if (err) return next(new Problem(403, 'csrf', 'CSRF token missing or invalid', '表單已過期或來源不明，請重新整理頁面後再送出。'));
      next();
    });
  };
}

/**
 * The backstop for text in every field: a body (JSON or form) or query string holding a lone
 * surrogate, a control character or a bidirectional override is refused with a 400 naming each
 * field (problem+json for the API, the error page for browsers), before any route sees it. Forms
 * whose own rules check their text (`formChecksOwnText`) are left to them, so the form is re-shown
 * with the message beside the field.
 */
export function textGuard(): RequestHandler {
  return (req, _res, next) => {
    const errors = [...textFieldErrors(req.query), ...(checksOwnText(req.method, req.path) && !req.path.startsWith('/api/') ? [] : textFieldErrors(req.body))];
    if (errors.length) return next(validation(errors, '輸入資料含有不可用的字元（無效編碼、控制字元或改變文字方向的字元），請修正後再送出。'));
    next();
  };
}

/** Locals every page needs: the actor, navigation, CSRF token, flash message. */
export function viewLocals(countyName: string): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    res.locals.actor = req.actor ?? null;
    // Whatever a signed-in person sees may hold personal data: never keep it in a (shared) browser cache.
    if (req.actor) res.setHeader('Cache-Control', 'no-store');
    res.locals.nav = navFor(req.app.locals.navEntries ?? [], req.actor?.roles);
    res.locals.countyName = countyName;
    res.locals.path = req.path;
    // Made only when a page is rendered: a token stored in a fresh session would otherwise write a
    // session row for every anonymous request (health checks, API calls) — an unauthenticated
    // write amplifier.
    Object.defineProperty(res.locals, 'csrfToken', { enumerable: true, configurable: true, get: () => (req.session ? generateCsrfToken(req) : '') });
    if (req.session?.flash) {
      res.locals.flash = req.session.flash;
      delete req.session.flash;
    }
    next();
  };
}

/**
 * Forms show and take dates in the ROC calendar (民國 115/01/31). A date input names itself in a
 * hidden `_roc` field; before any route sees the request, those fields are turned into ISO days
 * (anything that is not a date is left as typed, for the route's own validation to name).
 */
export function rocDateFields(): RequestHandler {
  const NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
  const names = (x: unknown): string[] => (Array.isArray(x) ? x : x == null ? [] : [x]).filter((n): n is string => typeof n === 'string' && NAME.test(n));
  const toIso = (v: string): string => parseRocDate(v) ?? v;
  return (req, _res, next) => {
    const body = req.body as Record<string, unknown> | undefined;
    if (body && typeof body === 'object' && !Array.isArray(body) && Object.hasOwn(body, '_roc') && req.is('application/x-www-form-urlencoded')) {
      for (const n of names(body._roc)) if (Object.hasOwn(body, n) && typeof body[n] === 'string') body[n] = toIso(body[n] as string);
      delete body._roc;
    }
    const q = req.url.indexOf('?');
    if (req.method === 'GET' && q >= 0 && req.url.includes('_roc=')) {
      const params = new URLSearchParams(req.url.slice(q + 1));
      for (const n of names(params.getAll('_roc'))) {
        const v = params.get(n);
        if (v != null) params.set(n, toIso(v));
      }
      params.delete('_roc');
      req.url = `${req.url.slice(0, q)}?${params.toString()}`;
    }
    next();
  };
}
