// Ciphertexts bound to their entry: every query log subject ciphertext must open under its own
// entry's identity (entryAad) and be the person its subject_hmac names. The chain hash covers the
// HMAC but not the ciphertext (so keys can rotate); this check closes that gap for verify-log: a
// ciphertext swapped between entries, or moved to another clerk or time, is a break.
import type { Config } from '../config.ts';
import type { Conn, Db } from '../db.ts';
import { pagesAhead, selectArrays } from '../db.ts';
import { isUnbound, matchesHmac, openEntrySubject, SubjectCipherError } from './subject.ts';

export interface CipherBreak { id: number; seq: number; reason: string }

export interface CipherCheck {
  /** Entries checked. */
  count: number;
  /** Legacy (v1) ciphertexts that match their HMAC but are bound to nothing: a warning, not a break. */
  unbound: number;
  /** Every bad entry in seq order, up to `maxReported`; `badCount` counts them all. */
  bad: CipherBreak[];
  badCount: number;
}

const REASONS: Record<SubjectCipherError['kind'], string> = {
  tampered: 'its subject ciphertext does not open under this entry (user, time, subject): it was moved from another entry or changed',
  'no-key': 'its subject ciphertext is under a key that is not configured',
  malformed: 'its subject ciphertext is malformed',
  unrecognised: 'its subject ciphertext is not in a recognised form',
};
const MISMATCH = 'its subject ciphertext is a person other than the one its subject_hmac names: the ciphertext was swapped';

/**
 * Checks every query_logs row's ciphertext, walking by seq in pages (the next page read while
 * this one is decrypted). Needs the subject keys: SUBJECT_ENC_KEY (and SUBJECT_ENC_KEY_PREVIOUS
 * during a rotation) and SUBJECT_HMAC_KEY.
 */
export async function verifyCiphertexts(db: Db | Conn, keys: Pick<Config, 'SUBJECT_HMAC_KEY' | 'subjectEncKey' | 'subjectEncKeyPrevious'>,
  opts: { pageSize?: number; maxReported?: number; onProgress?: (checked: number) => void } = {}): Promise<CipherCheck> {
  const page = opts.pageSize ?? 10000;
  const maxReported = opts.maxReported ?? 10000;
  const ring = [keys.subjectEncKey, ...(keys.subjectEncKeyPrevious ? [keys.subjectEncKeyPrevious] : [])];
  const COLS = ['id', 'seq', 'user_id', 'queried_at', 'subject_type', 'subject_hmac', 'subject_cipher'] as const;
  const fetchAfter = (after: number): Promise<unknown[][]> => selectArrays(db('query_logs').where('seq', '>', after).orderBy('seq').limit(page), COLS);
  const result: CipherCheck = { count: 0, unbound: 0, bad: [], badCount: 0 };
  const fail = (id: number, seq: number, reason: string) => {
    result.badCount++;
    if (result.bad.length < maxReported) result.bad.push({ id, seq, reason });
  };
  for await (const rows of pagesAhead(fetchAfter, (r) => Number(r[1]), 0, page)) {
    for (const r of rows) {
      const row = { user_id: r[2] as number, queried_at: r[3] as number, subject_type: String(r[4]), subject_hmac: String(r[5]), subject_cipher: String(r[6]) };
      const id = Number(r[0]);
      const seq = Number(r[1]);
      result.count++;
      let plain: string;
      try {
        plain = openEntrySubject(ring, row);
      } catch (e) {
        if (!(e instanceof SubjectCipherError)) throw e;
        fail(id, seq, REASONS[e.kind]);
        continue;
      }
      // A legacy ciphertext opens anywhere: its HMAC is what ties it to its entry.
      if (!matchesHmac(keys.SUBJECT_HMAC_KEY, row, plain)) fail(id, seq, MISMATCH);
      else if (isUnbound(row.subject_cipher)) result.unbound++;
    }
    opts.onProgress?.(result.count);
  }
  return result;
}
