// The tamper-evident query log. Each entry is chained:
//   hash = SHA-256(prev_hash ‖ "\n" ‖ canonical entry)
// where the canonical entry is a JSON array of the recorded fields in a fixed order, seq first.
// Appenders lock the chain head row (id = 1) before reading it, which serialises them on both
// databases (SELECT … FOR UPDATE on MariaDB; an UPDATE first on SQLite, taking its write lock).
// The subject's ciphertext is deliberately outside the hash so the encryption key can be rotated;
// the subject's HMAC, which identifies the person, is inside it.
import crypto from 'node:crypto';
import type { Conn, Db } from '../db.ts';
import { insertChunked, pagesAhead, selectArrays } from '../db.ts';
import { canonicalJson, lockChainHead } from '../hashchain.ts';
import { now } from '../time.ts';
import { isWellFormed } from '../text.ts';

export const GENESIS = '0'.repeat(64);

/** The recorded fields of a query log entry, as stored. */
export interface EntryFields {
  user_id: number;
  account: string;
  unit_id: number;
  queried_at: number;
  op_code: string;
  scope_code: string;
  query_request_id: number | null;
  case_no: string;
  reason: string;
  subject_type: string;
  subject_hmac: string;
  subject_cipher: string;
  subject_mask: string;
  client_ip: string | null;
  source: string;
  token_id: number | null;
}

export interface ChainedRow extends EntryFields {
  seq: number;
  prev_hash: string;
  hash: string;
}

// The canonical entry: these fields, in this order, JSON-encoded. `n` a number, `n?` a number or
// null, `s` text, `s?` text or null. One list serves the appender and the verifier.
const CANONICAL_FIELDS = [
  ['seq', 'n'], ['user_id', 'n'], ['account', 's'], ['unit_id', 'n'], ['queried_at', 'n'], ['op_code', 's'], ['scope_code', 's'],
  ['query_request_id', 'n?'], ['case_no', 's'], ['reason', 's'], ['subject_type', 's'], ['subject_hmac', 's'],
  ['subject_mask', 's'], ['client_ip', 's?'], ['source', 's'], ['token_id', 'n?'],
] as const;
const FIELD_NAMES = CANONICAL_FIELDS.map(([name]) => name);
const FIELD_KINDS = CANONICAL_FIELDS.map(([, kind]) => kind);

/** The canonical text of the field values `v[at..at+15]`, in CANONICAL_FIELDS order (shared encoding: server/hashchain.ts). */
const canonicalValues = (v: readonly unknown[], at = 0): string => canonicalJson(FIELD_KINDS, v, at);

/** The canonical text of an entry: fixed field order, JSON-encoded, numbers as numbers. */
export function canonical(e: Omit<EntryFields, 'subject_cipher'> & { seq: number }): string {
  return canonicalValues(FIELD_NAMES.map((f) => (e as unknown as Record<string, unknown>)[f]));
}

const sha256hex = (text: string): string => crypto.hash('sha256', text, 'hex');

export function chainHash(prevHash: string, e: Omit<EntryFields, 'subject_cipher'> & { seq: number }): string {
  return sha256hex(`${prevHash}\n${canonical(e)}`);
}

export interface Appended { id: number; seq: number; hash: string }

/**
 * Appends entries to the chain inside the caller's transaction (all or nothing). The caller
 * acknowledges only after its transaction commits.
 */
export async function appendEntries(trx: Conn, entries: EntryFields[]): Promise<Appended[]> {
  if (!entries.length) return [];
  // What is hashed must be what the database gives back: a lone surrogate would be stored as
  // U+FFFD and break the chain for good. Callers validate text (server/text.ts); this is the last line.
  for (const e of entries) {
    for (const [name, kind] of CANONICAL_FIELDS) {
      const x = (e as unknown as Record<string, unknown>)[name];
      if ((kind === 's' || kind === 's?') && typeof x === 'string' && !isWellFormed(x)) throw new Error(`query log field ${name} is not well-formed Unicode: not appended`);
    }
  }
  // Outside a transaction the head lock would be released between statements: open one.
  if (!(trx as any).isTransaction) return (trx as Db).transaction((t) => appendEntries(t, entries));
  // Take the head's lock before reading it: a locking read on MariaDB (one statement), a write on
  // SQLite (which has no row locks; the first write takes the database's write lock).
  const head = await lockChainHead(trx, 'log_chain_head');
  if (!head) throw new Error('query log chain head is missing');
  let seq = Number(head.seq);
  let prev: string = head.hash;
  const rows: ChainedRow[] = entries.map((e) => {
    seq += 1;
    const hash = chainHash(prev, { ...e, seq });
    const row = { ...e, seq, prev_hash: prev, hash };
    prev = hash;
    return row;
  });
  await insertChunked(trx, 'query_logs', rows as unknown as Record<string, unknown>[]);
  await trx('log_chain_head').where({ id: 1 }).update({ seq, hash: prev, updated_at: now() });
  const first = rows[0].seq;
  const ids = await trx('query_logs').whereBetween('seq', [first, seq]).orderBy('seq').select('id', 'seq');
  return ids.map((r: any, i: number) => ({ id: Number(r.id), seq: Number(r.seq), hash: rows[i].hash }));
}

/** One break found by the walk: the entry (id, seq) where known, and why. */
export interface ChainBreak { id: number | null; seq: number | null; reason: string }

/** A head the chain must pass through: a signed checkpoint, a witness line, a printed head. */
export interface Anchor { seq: number; hash: string; label: string }

/**
 * The entries one destruction blanked, as the walk found them: how many, where, and the segment
 * hash over them (segmentLine), which must equal the signed destruction statement's.
 */
export interface DestroyedSegment { destructionId: number; count: number; firstSeq: number; lastSeq: number; segmentHash: string }

/** One entry's line in a destruction's segment hash: its place and its link, never its content. */
export const segmentLine = (seq: number, prevHash: string, hash: string): string => `${seq}:${prevHash}:${hash}\n`;

export type VerifyResult =
  | { ok: true; count: number; headSeq: number; headHash: string; fromCheckpoint: { seq: number; hash: string } | null; breaks: ChainBreak[]; destroyed: DestroyedSegment[] }
  | { ok: false; count: number; badId: number | null; badSeq: number; reason: string; breaks: ChainBreak[]; destroyed: DestroyedSegment[] };

/** Breaks beyond this many are counted, not listed: a rewritten log must not exhaust memory. */
export const MAX_BREAKS = 1000;

/**
 * Walks the chain in seq order from the latest retention checkpoint (or the genesis), paging by
 * key, and reports every break it finds, the first in chain order first: a changed, deleted,
 * inserted or reordered entry, ids out of seq order (two whole rows swapped between ids), and any
 * anchor (a signed or printed head) the chain does not pass through.
 */
/**
 * Another check that reads the same rows as the walk (verify-log's ciphertext check): the walk also
 * reads `columns` and hands it each page, `cols` naming the row arrays' positions; a promise it
 * returns is awaited after the page is hashed (it holds the walk while its own work is behind).
 */
export interface PageHook { columns: readonly string[]; onPage: (rows: readonly unknown[][], cols: readonly string[]) => Promise<void> | undefined }

export async function verifyChain(db: Db | Conn, opts: { pageSize?: number; onProgress?: (checked: number) => void; anchors?: Anchor[]; pages?: PageHook } = {}): Promise<VerifyResult> {
  const page = opts.pageSize ?? 10000;
  const breaks: ChainBreak[] = [];
  const report = (id: number | null, seq: number | null, reason: string) => void (breaks.length < MAX_BREAKS && breaks.push({ id, seq, reason }));
  // The head is read first: entries appended while the walk runs lie beyond it and are left for
  // the next run, so a busy log never reports a false break.
  const head = await db('log_chain_head').where({ id: 1 }).first('seq', 'hash');
  const headSeq = head ? Number(head.seq) : 0;
  const cp = await db('log_checkpoints').orderBy('id', 'desc').first('seq', 'hash');
  const startSeq = cp ? Number(cp.seq) : 0;
  let expectSeq = startSeq + 1;
  let prev: string = cp ? cp.hash : GENESIS;
  let count = 0;
  let lastSeq = startSeq;
  let lastId = 0;
  // Anchors in seq order; those at or before the start are checked against it (earlier ones were purged).
  const anchors = [...(opts.anchors ?? [])].sort((a, b) => a.seq - b.seq);
  let ai = 0;
  for (; ai < anchors.length && anchors[ai].seq <= startSeq; ai++) {
    const a = anchors[ai];
    if (a.seq === startSeq && a.hash !== prev) report(null, a.seq, `the chain does not pass through ${a.label}: the chain starts at seq ${startSeq} with another hash`);
  }
  // Rows are read as arrays [id, prev_hash, hash, ...canonical fields, destruction_id]: this walk reads every entry.
  const OWN = ['id', 'prev_hash', 'hash', ...FIELD_NAMES, 'destruction_id'];
  const SEQ = 3; // the position of seq (the first canonical field)
  const DESTROYED = OWN.length - 1;
  const COLS = [...OWN, ...(opts.pages?.columns ?? []).filter((c) => !OWN.includes(c))];
  // A destroyed entry's content is blanked, so its hash cannot be recomputed: its link still is,
  // and its (seq, prev_hash, hash) goes into its destruction's segment hash, which verifyLog
  // compares with the signed destruction statement.
  const segments = new Map<number, { count: number; firstSeq: number; lastSeq: number; hash: crypto.Hash }>();
  const fetchAfter = async (after: number): Promise<unknown[][]> =>
    (after >= headSeq ? [] : selectArrays(db('query_logs').where('seq', '>', after).andWhere('seq', '<=', headSeq).orderBy('seq').limit(page), COLS));
  // The next page is read while this one is hashed.
  for await (const rows of pagesAhead(fetchAfter, (r) => Number(r[SEQ]), expectSeq - 1, page)) {
    const handed = opts.pages?.onPage(rows, COLS);
    for (const r of rows) {
      const seq = Number(r[SEQ]);
      const id = Number(r[0]);
      if (seq !== expectSeq) report(id, seq, `entry seq ${seq} follows seq ${expectSeq - 1}: entries are missing before it`);
      else if (r[1] !== prev) report(id, seq, 'its prev_hash does not match the previous entry: an entry before it was changed, removed or moved');
      if (r[DESTROYED] != null) {
        const d = Number(r[DESTROYED]);
        let g = segments.get(d);
        if (!g) segments.set(d, (g = { count: 0, firstSeq: seq, lastSeq: seq, hash: crypto.createHash('sha256') }));
        g.count++;
        g.lastSeq = seq;
        g.hash.update(segmentLine(seq, String(r[1]), String(r[2])));
      } else if (sha256hex(`${r[1]}\n${canonicalValues(r, SEQ)}`) !== r[2]) report(id, seq, 'its content does not match its hash: the entry was changed');
      // Checks and investigations point at ids: an id out of seq order points them at another query.
      if (id <= lastId) report(id, seq, `its id comes after id ${lastId} in seq order: entries were reordered or swapped between ids`);
      for (; ai < anchors.length && anchors[ai].seq <= seq; ai++) {
        const a = anchors[ai];
        if (a.seq < seq) report(null, a.seq, `the chain does not pass through ${a.label}: there is no entry at seq ${a.seq}`);
        else if (a.hash !== r[2]) report(id, seq, `the chain does not pass through ${a.label}: the entry at seq ${seq} has another hash (the log was rewritten after it)`);
      }
      // Go on from what the row says, so one break is reported once, not at every later entry.
      prev = r[2] as string;
      lastSeq = seq;
      lastId = Math.max(lastId, id);
      expectSeq = seq + 1;
      count++;
    }
    opts.onProgress?.(count);
    if (handed) await handed;
  }
  for (; ai < anchors.length; ai++) {
    const a = anchors[ai];
    report(null, a.seq, `the chain does not pass through ${a.label}: the log ends at seq ${lastSeq} (entries at the end were removed)`);
  }
  if (head && (headSeq !== lastSeq || head.hash !== prev)) {
    // Name the entry after the last good one when it exists (e.g. a row whose seq was moved
    // beyond the head), else report the missing tail.
    const next = await db('query_logs').where('seq', '>', lastSeq).orderBy('seq').first('id', 'seq');
    report(next ? Number(next.id) : null, lastSeq + 1, `the chain head records seq ${headSeq} but the verified log ends at seq ${lastSeq}: entries at the end were removed or the head was altered`);
  }
  // A row placed beyond the head (an inserted entry) or at or below the last purge: the rows are
  // read before the head again, so a concurrent append (which moves the head in its own
  // transaction) is never mistaken for one.
  const beyond = await db('query_logs').where('seq', '>', headSeq).orderBy('seq', 'desc').first('id', 'seq');
  if (beyond) {
    const head2 = await db('log_chain_head').where({ id: 1 }).first('seq');
    if (Number(beyond.seq) > Number(head2?.seq ?? 0)) {
      const first = await db('query_logs').where('seq', '>', Number(head2?.seq ?? 0)).orderBy('seq').first('id', 'seq');
      report(Number(first.id), Number(first.seq), `entry seq ${first.seq} lies beyond the chain head (seq ${head2?.seq}): it was inserted outside the log`);
    }
  }
  if (cp) {
    const below = await db('query_logs').where('seq', '<=', Number(cp.seq)).orderBy('seq').first('id', 'seq');
    if (below) report(Number(below.id), Number(below.seq), `entry seq ${below.seq} lies at or before the retention checkpoint (seq ${cp.seq}): it was inserted after the purge`);
  }
  const destroyed = [...segments].map(([destructionId, g]) => ({ destructionId, count: g.count, firstSeq: g.firstSeq, lastSeq: g.lastSeq, segmentHash: g.hash.digest('hex') }));
  if (breaks.length) {
    const sorted = sortBreaks(breaks);
    const first = sorted[0];
    return { ok: false, count, badId: first.id, badSeq: first.seq ?? lastSeq + 1, reason: first.reason, breaks: sorted, destroyed };
  }
  return { ok: true, count, headSeq: lastSeq, headHash: prev, fromCheckpoint: cp ? { seq: Number(cp.seq), hash: cp.hash } : null, breaks, destroyed };
}

/** Breaks in chain order (by seq, those without a seq last); the walk's own order within a seq. */
export function sortBreaks<T extends { seq: number | null }>(breaks: T[]): T[] {
  return breaks.map((b, i) => ({ b, i })).sort((x, y) => (x.b.seq ?? Infinity) - (y.b.seq ?? Infinity) || x.i - y.i).map((x) => x.b);
}

/** The current chain head, printed on monthly sheets and annual reports. */
export async function chainHead(db: Conn): Promise<{ seq: number; hash: string }> {
  const head = await db('log_chain_head').where({ id: 1 }).first('seq', 'hash');
  return { seq: Number(head?.seq ?? 0), hash: head?.hash ?? GENESIS };
}
