// System events are chained like the query log (server/queries/chain.ts):
//   hash = SHA-256(prev_hash ‖ "\n" ‖ canonical event)
// where the canonical event is a JSON array of the stored fields in a fixed order, seq first.
// Appenders lock the event chain head (event_chain_head, id = 1) inside the caller's transaction.
// Lock order: a transaction that appends to the query log takes the log head first and the event
// head last; an event is the last write of its transaction (the head stays locked until commit,
// so a write after it could wait on a row another appender holds while it waits for the head).
import crypto from 'node:crypto';
import type { Conn, Db } from '../db.ts';
import { pagesAhead, selectArrays } from '../db.ts';
import { canonicalJson, lockChainHead, type FieldKind } from '../hashchain.ts';
import { isWellFormed } from '../text.ts';
import { now } from '../time.ts';

/** String.prototype.toWellFormed (Node 20; ES2024, past this project's TypeScript lib). */
const toWellFormed = (s: string): string => (s as string & { toWellFormed(): string }).toWellFormed();

export const EVENT_GENESIS = '0'.repeat(64);

/** An event's fields as stored (detail is the JSON text, or null). */
export interface EventFields {
  at: number;
  actor_id: number | null;
  actor_account: string | null;
  action: string;
  outcome: string;
  target_type: string | null;
  target_id: string | null;
  unit_id: number | null;
  ip: string | null;
  detail: string | null;
}

const CANONICAL_FIELDS: ReadonlyArray<readonly [string, FieldKind]> = [
  ['seq', 'n'], ['at', 'n'], ['actor_id', 'n?'], ['actor_account', 's?'], ['action', 's'], ['outcome', 's'],
  ['target_type', 's?'], ['target_id', 's?'], ['unit_id', 'n?'], ['ip', 's?'], ['detail', 's?'],
];
const FIELD_NAMES = CANONICAL_FIELDS.map(([name]) => name);
const FIELD_KINDS = CANONICAL_FIELDS.map(([, kind]) => kind);
const canonicalValues = (v: readonly unknown[], at = 0): string => canonicalJson(FIELD_KINDS, v, at);

const sha256hex = (text: string): string => crypto.hash('sha256', text, 'hex');

export function eventHash(prevHash: string, e: EventFields & { seq: number }): string {
  return sha256hex(`${prevHash}\n${canonicalValues(FIELD_NAMES.map((f) => (e as unknown as Record<string, unknown>)[f]))}`);
}

/**
 * What is hashed must be what the database gives back: a lone surrogate would come back as U+FFFD
 * and break the chain for good, so text is made well-formed first (an event records what was
 * typed, e.g. a sign-in name, and must never fail for it).
 */
function wellFormed(e: EventFields): EventFields {
  const out = { ...e } as Record<string, unknown>;
  for (const [name, kind] of CANONICAL_FIELDS) {
    const x = out[name];
    if ((kind === 's' || kind === 's?') && typeof x === 'string' && !isWellFormed(x)) out[name] = toWellFormed(x);
  }
  return out as unknown as EventFields;
}

/** Appends events to the chain inside the caller's transaction (one is opened when given the database). */
export async function appendEvents(conn: Conn, events: EventFields[]): Promise<void> {
  if (!events.length) return;
  if (!(conn as any).isTransaction) return (conn as Db).transaction((t) => appendEvents(t, events));
  const head = await lockChainHead(conn, 'event_chain_head');
  if (!head) throw new Error('system event chain head is missing');
  let seq = Number(head.seq);
  let prev: string = head.hash;
  const rows = events.map((raw) => {
    const e = wellFormed(raw);
    seq += 1;
    const hash = eventHash(prev, { ...e, seq });
    const row = { ...e, seq, prev_hash: prev, hash };
    prev = hash;
    return row;
  });
  // One row per statement keeps ids in seq order on every database (ids are checked against seq).
  for (const r of rows) await conn('system_events').insert(r);
  await conn('event_chain_head').where({ id: 1 }).update({ seq, hash: prev, updated_at: now() });
}

export interface EventBreak { id: number | null; reason: string }
export interface EventVerifyResult { ok: boolean; count: number; headSeq: number; headHash: string; breaks: EventBreak[] }

const MAX_BREAKS = 1000;

/**
 * Walks the event chain in seq order and reports every break it finds, the first in chain order first:
 * a changed event (its hash), a removed one (a gap in seq, or a prev_hash that does not match), one
 * inserted outside the chain (no seq, or beyond the head), and a reordered one (ids out of seq
 * order, e.g. two whole rows swapped between ids).
 */
export async function verifyEvents(db: Db | Conn, opts: { pageSize?: number } = {}): Promise<EventVerifyResult> {
  const page = opts.pageSize ?? 10000;
  const breaks: EventBreak[] = [];
  const report = (id: number | null, reason: string) => void (breaks.length < MAX_BREAKS && breaks.push({ id, reason }));
  // The head is read first: events appended during the walk lie beyond it and wait for the next run.
  const head = await db('event_chain_head').where({ id: 1 }).first('seq', 'hash');
  const headSeq = head ? Number(head.seq) : 0;
  let expectSeq = 1;
  let prev = EVENT_GENESIS;
  let lastId = 0;
  let count = 0;
  const COLS = ['id', 'prev_hash', 'hash', ...FIELD_NAMES];
  const SEQ = 3;
  const fetchAfter = async (after: number): Promise<unknown[][]> =>
    (after >= headSeq ? [] : selectArrays(db('system_events').where('seq', '>', after).andWhere('seq', '<=', headSeq).orderBy('seq').limit(page), COLS));
  for await (const rows of pagesAhead(fetchAfter, (r) => Number(r[SEQ]), 0, page)) {
    for (const r of rows) {
      const id = Number(r[0]);
      const seq = Number(r[SEQ]);
      if (seq !== expectSeq) report(id, `event seq ${seq} follows seq ${expectSeq - 1}: events are missing before it`);
      else if (r[1] !== prev) report(id, 'its prev_hash does not match the previous event: an event before it was changed, removed or moved');
      if (sha256hex(`${r[1]}\n${canonicalValues(r, SEQ)}`) !== r[2]) report(id, 'its content does not match its hash: the event was changed');
      if (id <= lastId) report(id, `its id is not above id ${lastId} of an earlier event: events were reordered or swapped between ids`);
      // Go on from what the row says, so one break is reported once, not at every later event.
      prev = r[2] as string;
      lastId = Math.max(lastId, id);
      expectSeq = seq + 1;
      count++;
    }
  }
  if (head && (expectSeq - 1 !== headSeq || head.hash !== prev)) {
    report(null, `the event chain head records seq ${headSeq} but the verified events end at seq ${expectSeq - 1}: events at the end were removed or the head was altered`);
  }
  // Rows outside the chain: without a seq, or beyond the head. As the query log's check does, the
  // rows are read before the head is read again: an append moves the head in the same commit as
  // its rows, so a row committed during the walk lies within the head read after it. (Reading the
  // head first let an append committing in between pass for an inserted row.)
  const unchained = await db('system_events').whereNull('seq').orWhere('seq', '<', 1).orderBy('id').limit(MAX_BREAKS).select('id', 'seq');
  for (const r of unchained) report(Number(r.id), r.seq == null ? 'it has no seq: it was inserted outside the event chain' : `its seq ${r.seq} lies outside the event chain: it was inserted outside the chain`);
  const beyond = await db('system_events').where('seq', '>', headSeq).max('seq as seq').first();
  if (beyond?.seq != null) {
    const headNow = Number((await db('event_chain_head').where({ id: 1 }).first('seq'))?.seq ?? 0);
    if (Number(beyond.seq) > headNow) {
      const outside = await db('system_events').where('seq', '>', headNow).orderBy('seq').limit(MAX_BREAKS).select('id', 'seq');
      for (const r of outside) report(Number(r.id), `its seq ${r.seq} lies outside the event chain (head seq ${headNow}): it was inserted outside the chain`);
    }
  }
  return { ok: breaks.length === 0, count, headSeq, headHash: head?.hash ?? EVENT_GENESIS, breaks };
}
