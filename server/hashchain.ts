// What the two hash chains (the query log, server/queries/chain.ts; the system events,
// server/events/chain.ts) share: the canonical JSON of a row and the lock on a one-row head.
import type { Conn } from './db.ts';
import { isMysql } from './db.ts';
import { now } from './time.ts';

/** How a canonical field is encoded: `n` a number, `n?` a number or null, `s` text, `s?` text or null. */
export type FieldKind = 'n' | 'n?' | 's' | 's?';

/**
 * The canonical text of the values `v[at..]`, one per kind, JSON-encoded. Numbers may arrive as
 * strings (BIGINT from a driver): they are hashed as numbers.
 */
export function canonicalJson(kinds: readonly FieldKind[], v: readonly unknown[], at = 0): string {
  const out: unknown[] = new Array(kinds.length);
  for (let i = 0; i < kinds.length; i++) {
    const x = v[at + i];
    const k = kinds[i];
    out[i] = k === 'n' ? Number(x) : k === 'n?' ? (x == null ? null : Number(x)) : (x ?? null);
  }
  return JSON.stringify(out);
}

/**
 * Locks the head row (id = 1) of `table` in the transaction and reads it: a locking read on
 * MariaDB (one statement), a write first on SQLite (no row locks; the first write takes the
 * database's write lock). The lock is held until the transaction ends.
 */
export async function lockChainHead(trx: Conn, table: string): Promise<{ seq: number; hash: string } | undefined> {
  if (isMysql(trx)) return trx(table).where({ id: 1 }).forUpdate().first('seq', 'hash');
  await trx(table).where({ id: 1 }).update({ updated_at: now() });
  return trx(table).where({ id: 1 }).first('seq', 'hash');
}
