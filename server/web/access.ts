// The access-control inventory: every route's method, path, who may call it and whose units'
// data it may touch. Routes are registered only through `Routes`, which takes the guard from
// this table, so a route cannot exist without an entry; a test walks the real router to make
// sure nothing bypasses it.
import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import type { Role } from '../accounts/roles.ts';
import { forbidden, unauthorized } from '../problem.ts';
import { log } from '../log.ts';

/** public: anyone; signed-in: any session; token: an integration's Bearer token; or a role list. */
export type Audience = 'public' | 'signed-in' | 'token' | 'signed-in-or-token' | readonly Role[];
/** Which units' data the route may touch for its caller (enforced in the service). */
export type UnitReach = 'none' | 'self' | 'own-unit' | 'subtree' | 'all';

export interface AccessEntry {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  who: Audience;
  units: UnitReach;
  note?: string;
}

const table = new Map<string, AccessEntry>();
const key = (method: string, path: string) => `${method.toUpperCase()} ${path}`;

/** Capabilities declare their routes' access here (from their own access.ts). */
export function declareAccess(entries: AccessEntry[]): void {
  for (const e of entries) table.set(key(e.method, e.path), e);
}
export function accessTable(): AccessEntry[] {
  return [...table.values()];
}
export function accessFor(method: string, path: string): AccessEntry | undefined {
  return table.get(key(method, path));
}

function isApi(req: Request): boolean {
  return req.path.startsWith('/api/');
}

/** Middleware enforcing an entry's audience. */
export function guard(entry: AccessEntry): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const who = entry.who;
    if (who === 'public') return next();
    const actor = req.actor;
    const token = req.serviceToken;
    if (who === 'token') return token ? next() : next(unauthorized('需要服務權杖 (Bearer token)。'));
    if (who === 'signed-in-or-token') return actor || token ? next() : next(unauthorized());
    if (!actor) {
      if (!isApi(req) && req.method === 'GET') return res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
      return next(unauthorized());
    }
    if (who === 'signed-in') return next();
    if (actor.roles.some((r) => (who as readonly Role[]).includes(r))) return next();
    // Failed access-control decisions are logged (ASVS 7.2.2): ids only, no personal data.
    log.warn({ reqId: req.requestId, userId: actor.id, method: req.method, route: entry.path }, 'access denied');
    return next(forbidden());
  };
}

type Method = AccessEntry['method'];

/** Registers routes on a router, each guarded by its inventory entry. */
export class Routes {
  constructor(private readonly router: Router) {}
  private add(method: Method, path: string, handlers: RequestHandler[]): this {
    const entry = accessFor(method, path);
    if (!entry) throw new Error(`route ${method} ${path} has no entry in the access-control inventory`);
    const m = method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
    this.router[m](path, guard(entry), ...handlers);
    return this;
  }
  get(path: string, ...h: RequestHandler[]) { return this.add('GET', path, h); }
  post(path: string, ...h: RequestHandler[]) { return this.add('POST', path, h); }
  put(path: string, ...h: RequestHandler[]) { return this.add('PUT', path, h); }
  patch(path: string, ...h: RequestHandler[]) { return this.add('PATCH', path, h); }
  delete(path: string, ...h: RequestHandler[]) { return this.add('DELETE', path, h); }
}
