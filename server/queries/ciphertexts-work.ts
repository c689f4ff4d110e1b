// The ciphertext check of one page of query_logs rows: pure work (no database), the same in the
// calling thread and in a worker thread. verify-log hands the chain walk's pages to workers
// (ciphertexts.ts, CipherPool) so that opening every ciphertext runs beside the walk's hashing on
// another core; this file is also the worker's entry. It imports nothing that opens a database, so
// a worker loads only the crypto it needs.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { isUnbound, matchesHmac, openEntrySubject, SubjectCipherError } from './subject.ts';

/** One row as the check reads it: [id, seq, user_id, queried_at, subject_type, subject_hmac, subject_cipher, destruction_id]. */
export type CipherRow = unknown[];
/** The columns of a CipherRow, in its order. */
export const CIPHER_COLUMNS = ['id', 'seq', 'user_id', 'queried_at', 'subject_type', 'subject_hmac', 'subject_cipher', 'destruction_id'] as const;

export interface CipherBreak { id: number; seq: number; reason: string }

/** What one page's check found: counts, and its bad entries in the page's (seq) order, up to the cap given. */
export interface PageResult { count: number; unbound: number; destroyed: number; bad: CipherBreak[]; badCount: number }

export interface CipherKeys {
  /** SUBJECT_HMAC_KEY. */
  hmac: string;
  /** SUBJECT_ENC_KEY, then SUBJECT_ENC_KEY_PREVIOUS during a rotation. */
  ring: Buffer[];
}

export const REASONS: Record<SubjectCipherError['kind'], string> = {
  tampered: 'its subject ciphertext does not open under this entry (user, time, subject): it was moved from another entry or changed',
  'no-key': 'its subject ciphertext is under a key that is not configured',
  malformed: 'its subject ciphertext is malformed',
  unrecognised: 'its subject ciphertext is not in a recognised form',
};
export const MISMATCH = 'its subject ciphertext is a person other than the one its subject_hmac names: the ciphertext was swapped';

/**
 * Checks each row's ciphertext: it must open under its own entry's identity (entryAad) and be the
 * person its subject_hmac names. A destroyed entry (destruction_id set) has had its subject blanked
 * by an approved destruction: counted apart, not checked (its segment is checked against the signed
 * destruction statement). A legacy (v1) ciphertext that matches its HMAC is counted as unbound.
 */
export function checkPage(keys: CipherKeys, rows: readonly CipherRow[], maxReported: number): PageResult {
  const out: PageResult = { count: 0, unbound: 0, destroyed: 0, bad: [], badCount: 0 };
  const fail = (r: CipherRow, reason: string) => {
    out.badCount++;
    if (out.bad.length < maxReported) out.bad.push({ id: Number(r[0]), seq: Number(r[1]), reason });
  };
  for (const r of rows) {
    if (r[7] != null) {
      out.destroyed++;
      continue;
    }
    out.count++;
    const row = { user_id: r[2] as number, queried_at: r[3] as number, subject_type: String(r[4]), subject_hmac: String(r[5]), subject_cipher: String(r[6]) };
    let plain: string;
    try {
      plain = openEntrySubject(keys.ring, row);
    } catch (e) {
      if (!(e instanceof SubjectCipherError)) throw e;
      fail(r, REASONS[e.kind]);
      continue;
    }
    // A legacy ciphertext opens anywhere: its HMAC is what ties it to its entry.
    if (!matchesHmac(keys.hmac, row, plain)) fail(r, MISMATCH);
    else if (isUnbound(row.subject_cipher)) out.unbound++;
  }
  return out;
}

/** What a worker is started with (workerData). Keys arrive as Uint8Array (structured clone). */
export interface WorkerSetup { role: typeof ROLE; hmac: string; ring: Uint8Array[]; maxReported: number }
/** A page for a worker, and its answer. */
export interface PageMessage { page: number; rows: CipherRow[] }
export type PageAnswer = { page: number; result: PageResult } | { page: number; error: string };

export const ROLE = 'nhi-audit.ciphertexts';

// The worker's entry: started by CipherPool (ciphertexts.ts), it answers each page in turn.
if (!isMainThread && parentPort && (workerData as WorkerSetup | undefined)?.role === ROLE) {
  const setup = workerData as WorkerSetup;
  const keys: CipherKeys = { hmac: setup.hmac, ring: setup.ring.map((k) => Buffer.from(k.buffer, k.byteOffset, k.byteLength)) };
  const port = parentPort;
  port.on('message', (m: PageMessage) => {
    let answer: PageAnswer;
    try {
      answer = { page: m.page, result: checkPage(keys, m.rows, setup.maxReported) };
    } catch (e) {
      answer = { page: m.page, error: e instanceof Error ? e.message : String(e) };
    }
    port.postMessage(answer);
  });
}
