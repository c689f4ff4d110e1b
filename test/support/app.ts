// The app over a test database, and signed-in supertest agents.
import request from 'supertest';
import type { Express } from 'express';
import { createApp } from '../../server/app.ts';
import { DbSessionStore } from '../../server/web/session-store.ts';
import type { TestDb } from './db.ts';
import { PASSWORD } from './fixtures.ts';

export function appFor(t: TestDb): Express {
  const sessions = new DbSessionStore(t.db, t.cfg.SESSION_IDLE_MINUTES * 60_000);
  sessions.close();
  return createApp({ cfg: t.cfg, db: t.db, sessions });
}

export interface Signed {
  agent: ReturnType<typeof request.agent>;
  csrf: string;
}

/** Signs in through the JSON API and returns an agent with its CSRF token. */
export async function signIn(app: Express, account: string, password = PASSWORD): Promise<Signed> {
  const agent = request.agent(app);
  const res = await agent.post('/api/v1/auth/login').send({ account, password });
  if (res.status !== 204) throw new Error(`sign-in of ${account} failed: ${res.status} ${JSON.stringify(res.body)}`);
  const me = await agent.get('/api/v1/me');
  return { agent, csrf: me.body.csrfToken };
}

/** The CSRF token embedded in a page's form. */
export function csrfFromHtml(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token in page');
  return m[1];
}

/** A request answering a file (an xlsx download): the response with its body as one Buffer. */
export function asFile(req: request.Test) {
  return req.buffer(true).parse((res, cb) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => cb(null, Buffer.concat(chunks)));
  });
}

/** GET of a file (an xlsx download). */
export const getFile = (agent: Signed['agent'], url: string) => asFile(agent.get(url));
