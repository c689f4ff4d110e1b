// One clock (資通系統防護基準: 時間戳記及校時). Entry and event times are taken from the app's clock
// (time.ts now()) on whichever instance records them, so every instance must agree with one
// reference: the database server's clock, which all instances share. The skew is measured against
// it; beyond MAX_SKEW_MS /healthz says degraded and the dashboard shows a warning.
import type { Conn } from './db.ts';
import { isMysql } from './db.ts';

export const MAX_SKEW_MS = 2000;

/** Reads the reference clock in epoch ms; null when the database runs on this machine (SQLite). */
export type ReferenceClock = (db: Conn) => Promise<number | null>;

const databaseClock: ReferenceClock = async (db) => {
  if (!isMysql(db)) return null;
  // The session's time zone is UTC (db.ts), so this is the server's instant in ms.
  const [rows] = await db.raw('SELECT ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000) AS ms');
  return Number(rows[0].ms);
};

let reference: ReferenceClock = databaseClock;
/** Tests replace the reference to show a skewed server without touching the system clock. */
export function setReferenceClock(fn: ReferenceClock | null): void {
  reference = fn ?? databaseClock;
}

export interface Skew { skewMs: number; ok: boolean }

/**
 * This machine's clock minus the reference, taken at the middle of the round trip. The machine's
 * clock (what now() reads in production), not now() itself: tests move now() on purpose.
 */
export async function measureSkew(db: Conn): Promise<Skew> {
  const before = Date.now();
  const ref = await reference(db);
  const after = Date.now();
  if (ref == null) return { skewMs: 0, ok: true };
  const skewMs = Math.round((before + after) / 2 - ref);
  return { skewMs, ok: Math.abs(skewMs) <= MAX_SKEW_MS };
}
