// Sessions live in the database so several instances behind a load balancer share them.
// A small store of our own rather than connect-session-knex: it keeps the user id beside the
// session (logout everywhere, concurrent-use detection) and stores instants as epoch ms like
// every other table.
import session from 'express-session';
import type { Db } from '../db.ts';
import { now } from '../time.ts';

type SessionData = session.SessionData;

export class DbSessionStore extends session.Store {
  private timer?: NodeJS.Timeout;
  constructor(private readonly db: Db, private readonly idleMs: number) {
    super();
    this.timer = setInterval(() => void this.prune().catch(() => undefined), 60_000);
    this.timer.unref();
  }
  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
  async prune(): Promise<number> {
    return this.db('sessions').where('expires_at', '<', now()).del();
  }
  private expiry(sess: SessionData): number {
    const exp = sess.cookie?.expires ? new Date(sess.cookie.expires).getTime() : NaN;
    return Number.isFinite(exp) ? exp : now() + this.idleMs;
  }
  override get(sid: string, cb: (err: unknown, session?: SessionData | null) => void): void {
    this.db('sessions').where({ sid }).andWhere('expires_at', '>', now()).first('sess')
      .then((row) => cb(null, row ? (JSON.parse(row.sess) as SessionData) : null), cb);
  }
  override set(sid: string, sess: SessionData, cb?: (err?: unknown) => void): void {
    const t = now();
    const row = { sess: JSON.stringify(sess), expires_at: this.expiry(sess), user_id: sess.userId ?? null, last_seen_at: t };
    this.db('sessions').insert({ sid, ...row, created_at: t, ip: (sess as any).ip ?? null })
      .onConflict('sid').merge(['sess', 'expires_at', 'user_id', 'last_seen_at'])
      .then(() => cb?.(), (e) => cb?.(e));
  }
  override touch(sid: string, sess: SessionData, cb?: (err?: unknown) => void): void {
    this.db('sessions').where({ sid }).update({ expires_at: this.expiry(sess), last_seen_at: now() })
      .then(() => cb?.(), (e) => cb?.(e));
  }
  override destroy(sid: string, cb?: (err?: unknown) => void): void {
    this.db('sessions').where({ sid }).del().then(() => cb?.(), (e) => cb?.(e));
  }
  /** Ends every session of a user (logout everywhere, disabled account). */
  async destroyForUser(userId: number, exceptSid?: string): Promise<number> {
    const q = this.db('sessions').where({ user_id: userId });
    if (exceptSid) q.whereNot({ sid: exceptSid });
    return q.del();
  }
}
