// Builds the Express app (no listen): tests use it directly; main.ts listens.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import session from 'express-session';
import helmet from 'helmet';
import { rateLimit } from 'express-rate-limit';
import type { AppContext } from './context.ts';
import { CAPABILITIES } from './capabilities.ts';
import { declareAccess, Routes } from './web/access.ts';
import { csrfProtection, loadActor, requestId, serviceTokens, viewLocals, bearerOf, rocDateFields, textGuard } from './web/middleware.ts';
import { verifyJsonBody } from './web/validate.ts';
import { errorHandler, notFoundHandler } from './web/errors.ts';
import { Problem } from './problem.ts';
import { isDisabledNow } from './accounts/active.ts';
import { isUploadRequest, multipartUploads } from './web/upload.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PUBLIC_DIR = path.resolve(here, '..', 'public');

/** Requests that change state but have no session yet (they carry credentials instead). */
const CSRF_EXEMPT = new Set(['POST /api/v1/auth/login', 'POST /api/v1/auth/password']);

export function createApp(ctx: AppContext): express.Express {
  const { cfg, db } = ctx;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', cfg.TRUST_PROXY === 'true' ? true : cfg.TRUST_PROXY === 'false' ? false : cfg.TRUST_PROXY);

  app.use(requestId());
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          fontSrc: ["'self'"],
          connectSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          ...(cfg.COOKIE_SECURE ? { upgradeInsecureRequests: [] } : {}),
        },
      },
      strictTransportSecurity: cfg.COOKIE_SECURE ? { maxAge: 31536000, includeSubDomains: true } : false,
      referrerPolicy: { policy: 'same-origin' },
      frameguard: { action: 'deny' },
    }),
  );
  app.use('/assets', express.static(PUBLIC_DIR, { maxAge: cfg.NODE_ENV === 'production' ? '1d' : 0, fallthrough: false }));

  // Nesting depth is checked on the raw bytes before JSON.parse runs (verifyJsonBody): parsing
  // happens before authentication, so a deep body must cost no more than a scan.
  app.use(express.json({ limit: '2mb', type: ['application/json', 'application/*+json'], verify: verifyJsonBody }));
  app.use(express.urlencoded({ extended: false, limit: '256kb' }));
  app.use(rocDateFields());
  // A JSON API that is sent something other than JSON names the problem instead of guessing.
  app.use('/api', (req, _res, next) => {
    if (['POST', 'PUT', 'PATCH'].includes(req.method) && req.headers['content-length'] !== '0' && req.headers['content-type'] && !req.is('application/json') && !req.is('application/*+json') && !isUploadRequest(req)) {
      return next(new Problem(415, 'unsupported-media-type', 'Unsupported media type', 'API 請求內容必須為 application/json。'));
    }
    next();
  });

  app.use(serviceTokens(db));
  const sessionMw = session({
    name: 'nhi.sid',
    secret: cfg.SESSION_SECRET,
    store: ctx.sessions,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: { httpOnly: true, sameSite: 'lax', secure: cfg.COOKIE_SECURE, maxAge: cfg.SESSION_IDLE_MINUTES * 60_000 },
  });
  // Integrations authenticate with their token on every call: no cookie session for them.
  app.use((req, res, next) => (bearerOf(req) ? next() : sessionMw(req, res, next)));
  app.use(loadActor(db, { absoluteMs: cfg.SESSION_ABSOLUTE_HOURS * 3_600_000, isDisabledNow: (u) => isDisabledNow(u) }));
  // A file upload (server/web/upload.ts) is read here, once the person is known and before the CSRF check reads its form token.
  app.use(multipartUploads(cfg));
  // Every request that checks a password shares one budget per address: sign-in and password
  // change alike (each costs an argon2 verify; a flood of either would slow real sign-ins).
  app.use(['/login', '/api/v1/auth/login', '/password', '/api/v1/auth/password'], rateLimit({
    windowMs: 60_000,
    limit: cfg.LOGIN_RATE_PER_MINUTE,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    skip: (req) => req.method !== 'POST',
    handler: (_req, _res, next) => next(new Problem(429, 'too-many-requests', 'Too many requests', '登入嘗試過於頻繁，請稍後再試。')),
  }));
  app.use(csrfProtection(CSRF_EXEMPT));
  app.use(viewLocals(cfg.COUNTY_NAME));
  app.use(textGuard());

  const router = express.Router();
  const routes = new Routes(router);
  for (const c of CAPABILITIES) declareAccess(c.access ?? []);
  for (const c of CAPABILITIES) c.register?.(routes, ctx);
  // This app's menu and home panels, from the capabilities' lists (no process-wide registry).
  app.locals.navEntries = CAPABILITIES.flatMap((c) => c.nav ?? []);
  app.locals.homePanels = CAPABILITIES.flatMap((c) => c.homePanels ?? []);
  app.use(router);

  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
