// Subject conditions (被查詢者查詢條件) and their protection at rest: a keyed HMAC for exact
// look-up ("who queried this person?"), AES-256-GCM ciphertext bound to its entry for authorised
// display, and a mask for everywhere else. Keys come from the environment, never from the database.
import crypto from 'node:crypto';
import { textProblem } from '../text.ts';
import { parseRocDate } from '../time.ts';

export const SUBJECT_TYPES = ['national-id', 'resident-certificate', 'name-birthdate', 'other'] as const;
export type SubjectType = (typeof SUBJECT_TYPES)[number];

// Letter codes of the Taiwan national ID / resident certificate checksum.
const LETTER: Record<string, number> = {
  A: 10, B: 11, C: 12, D: 13, E: 14, F: 15, G: 16, H: 17, I: 34, J: 18, K: 19, L: 20, M: 21,
  N: 22, O: 35, P: 23, Q: 24, R: 25, S: 26, T: 27, U: 28, V: 29, W: 32, X: 30, Y: 31, Z: 33,
};
const WEIGHTS = [1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1];

function checksumOk(firstCode: number, secondDigit: number, rest: string): boolean {
  const digits = [Math.floor(firstCode / 10), firstCode % 10, secondDigit, ...rest.split('').map(Number)];
  const sum = digits.reduce((acc, d, i) => acc + d * WEIGHTS[i], 0);
  return sum % 10 === 0;
}

/**
 * An identifier as compared: Chinese input methods type full-width letters and digits
 * (Ａ１２３４５６７８９), which NFKC turns into the ASCII ones; the letter is upper-cased. An ASCII
 * ID (every ID stored before) is its own normal form, so stored HMACs still match.
 */
const idForm = (value: string): string => value.normalize('NFKC').trim().toUpperCase();

const NATIONAL_ID = /^[A-Z][12]\d{8}$/;
const RESIDENT_NEW = /^[A-Z][89]\d{8}$/;
const RESIDENT_OLD = /^[A-Z][A-D]\d{8}$/;

/** Taiwan national ID: a letter, 1 or 2 (sex), 8 digits, with its checksum. */
export function isNationalId(value: string): boolean {
  const v = idForm(value);
  if (!NATIONAL_ID.test(v)) return false;
  return checksumOk(LETTER[v[0]], Number(v[1]), v.slice(2));
}

/**
 * Resident certificate (居留證) numbers: the new format (2021–) is a letter, 8 or 9, 8 digits, with
 * the national-ID checksum; the old format is two letters (the second A–D), 8 digits, where the
 * second letter counts by the last digit of its code.
 */
export function isResidentCertificate(value: string): boolean {
  const v = idForm(value);
  if (RESIDENT_NEW.test(v)) return checksumOk(LETTER[v[0]], Number(v[1]), v.slice(2));
  if (RESIDENT_OLD.test(v)) return checksumOk(LETTER[v[0]], LETTER[v[1]] % 10, v.slice(2));
  return false;
}

/** The type a bare identifier most likely is, for searches that do not say (full-width forms included). */
export function guessSubjectType(value: string): SubjectType {
  return /^[A-Z][A-D0-9]\d{8}$/.test(idForm(value)) ? 'national-id' : 'other';
}

export interface Subject {
  type: SubjectType;
  value: string;
}

/** A birth date at the end of a name-birthdate value, in ASCII or full-width digits. */
const DATE_TAIL = /[0-9０-９]{4}[-－][0-9０-９]{2}[-－][0-9０-９]{2}$/;

/**
 * Normalised form (what the HMAC and ciphertext cover): IDs in NFKC and upper-case; other text
 * in NFC with whitespace collapsed, a full-width birth date made ASCII. Names and free text stay
 * NFC: NFKC would change the HMAC of values already stored (a full-width Latin name, say).
 */
export function normalise(s: Subject): string {
  if (s.type === 'national-id' || s.type === 'resident-certificate') return idForm(s.value);
  const v = s.value.normalize('NFC').trim().replace(/\s+/g, ' ');
  if (s.type !== 'name-birthdate') return v;
  // A birth date typed in the ROC calendar (王小明 69/05/06) is the same person as its ISO form.
  const w = v.replace(DATE_TAIL, (d) => d.normalize('NFKC'));
  return w.replace(ROC_TAIL, (d) => parseRocDate(d.normalize('NFKC')) ?? d);
}
/** A ROC birth date at the end: 69/05/06, 69-5-6, 690506, 0690506, 民國69年5月6日 (full-width digits too). */
const ROC_TAIL = /(?<=[ ,，|/])\s*(?:民國\s*)?(?:[0-9０-９]{2,3}[/／.\-－年][0-9０-９]{1,2}[/／.\-－月][0-9０-９]{1,2}日?|[0-9０-９]{6,7})$/;

/** A message (zh-TW) when the subject is not valid for its type; null when valid. */
export function subjectProblem(s: Subject): string | null {
  const tp = textProblem(s.value, { multiline: true });
  if (tp) return `被查詢者查詢條件${tp}`;
  const v = normalise(s);
  if (!v) return '請輸入被查詢者查詢條件';
  switch (s.type) {
    case 'national-id':
      if (!NATIONAL_ID.test(v)) return '身分證統一編號應為 1 個英文字母加 9 位數字，第 2 碼為 1 或 2';
      return isNationalId(v) ? null : '身分證統一編號的檢查碼不符，請核對是否打錯';
    case 'resident-certificate':
      if (!RESIDENT_NEW.test(v) && !RESIDENT_OLD.test(v)) return '居留證統一證號應為 1 個英文字母加 9 位數字（第 2 碼為 8 或 9），或舊式 2 個英文字母加 8 位數字';
      return isResidentCertificate(v) ? null : '居留證統一證號的檢查碼不符，請核對是否打錯';
    case 'name-birthdate': {
      const m = /^(.+?)[ ,，|/]\s*(\d{4}-\d{2}-\d{2})$/.exec(v);
      if (!m) return '請以「姓名 出生日期」格式輸入，出生日期用民國年，例如「王小明 69/05/06」';
      if ([...m[1]].length > 50) return '姓名過長';
      const d = new Date(m[2] + 'T00:00:00Z');
      if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== m[2]) return '出生日期不正確';
      return m[2] < '1900-01-01' || d.getTime() > Date.now() ? '出生日期不在合理範圍' : null;
    }
    case 'other':
      return [...v].length > 200 ? '查詢條件過長（最多 200 字）' : null;
    default:
      return '被查詢者查詢條件類型不正確';
  }
}

// A batch entry's digest (queries/batch.ts) has a key space of its own: no subject's HMAC can equal it.
const kindOf = (t: SubjectType) => (t === 'national-id' || t === 'resident-certificate' ? 'id' : t === 'name-birthdate' ? 'nb' : (t as string) === 'batch' ? 'bt' : 'ot');

/** Keyed HMAC-SHA256 for exact search. National ID and resident certificate share one key space. */
export function subjectHmac(key: string | Buffer, s: Subject): string {
  return crypto.createHmac('sha256', key).update(`${kindOf(s.type)}:${normalise(s)}`).digest('hex');
}

// Remembered per key buffer: asked for on every encryption (the keys are read once from the environment).
const keyIds = new WeakMap<Buffer, string>();
/** Short fingerprint naming which key encrypted a value, so rotation can tell old from new. */
export const keyId = (key: Buffer): string => {
  let id = keyIds.get(key);
  if (id === undefined) keyIds.set(key, (id = crypto.createHash('sha256').update(key).digest('hex').slice(0, 8)));
  return id;
};

/** Why a subject ciphertext was not opened: `tampered` when it does not authenticate (changed, or moved to another entry). */
export class SubjectCipherError extends Error {
  constructor(readonly kind: 'unrecognised' | 'malformed' | 'no-key' | 'tampered', message: string) {
    super(message);
  }
}

// IVs are drawn from the CSPRNG a few kilobytes at a time, each 12 bytes handed out once: one
// randomBytes call per entry cost more than the encryption itself (Node's randomUUID pools likewise).
const IV_POOL = 12 * 512;
let ivPool = Buffer.alloc(0);
let ivAt = IV_POOL;
const freshIv = (): Buffer => {
  if (ivAt + 12 > ivPool.length) {
    ivPool = crypto.randomFillSync(Buffer.allocUnsafeSlow(IV_POOL));
    ivAt = 0;
  }
  return ivPool.subarray(ivAt, (ivAt += 12));
};

/**
 * AES-256-GCM bound to what it belongs to: "v2.<keyId>.<iv>.<tag>.<ciphertext>" (base64url parts),
 * `aad` authenticated with it (see entryAad, requestAad). Values stored before binding are
 * "v1.…" (no associated data); they still decrypt and rotate-subject-key binds them.
 */
export function encryptSubject(key: Buffer, plain: string, aad: string): string {
  const iv = freshIv();
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const ct = c.update(plain, 'utf8');
  c.final(); // GCM adds no bytes at the end: it computes the tag
  return ['v2', keyId(key), iv.toString('base64url'), c.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
}

/** Whether a ciphertext predates binding (v1: opens anywhere, so only the HMAC check ties it to its entry). */
export const isUnbound = (token: string): boolean => token.startsWith('v1.');

/**
 * Decrypts with whichever of the given keys encrypted the value, checking a bound (v2) value
 * against `aad`; a legacy v1 value carries none. Throws SubjectCipherError.
 */
export function decryptSubject(keys: Buffer[], token: string, aad: string): string {
  const [v, kid, iv, tag, ct] = token.split('.');
  if ((v !== 'v1' && v !== 'v2') || !ct) throw new SubjectCipherError('unrecognised', 'unrecognised subject ciphertext');
  const key = keys.find((k) => keyId(k) === kid);
  if (!key) throw new SubjectCipherError('no-key', `no key ${kid} configured for this subject ciphertext`);
  const ivBuf = Buffer.from(iv, 'base64url');
  const tagBuf = Buffer.from(tag, 'base64url');
  // A shortened tag would weaken GCM's integrity check: accept only the full 16 bytes.
  if (ivBuf.length !== 12 || tagBuf.length !== 16) throw new SubjectCipherError('malformed', 'malformed subject ciphertext');
  const d = crypto.createDecipheriv('aes-256-gcm', key, ivBuf, { authTagLength: 16 });
  if (v === 'v2') d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(tagBuf);
  try {
    // GCM is a stream mode: final() adds no bytes, it checks the tag (and throws when it fails).
    const out = d.update(Buffer.from(ct, 'base64url'));
    d.final();
    return out.toString('utf8');
  } catch {
    throw new SubjectCipherError('tampered', 'subject ciphertext does not authenticate: changed, or not this entry\'s');
  }
}

/** What identifies a query log entry when its subject is encrypted; every field is inside the chain hash. */
export interface EntryIdentity {
  user_id: number | string;
  queried_at: number | string;
  subject_type: string;
  subject_hmac: string;
}

/**
 * The associated data of an entry's subject ciphertext: who queried, when, and whom (the HMAC).
 * A ciphertext copied to another entry no longer opens, and rewriting these fields breaks the
 * chain. Numbers may arrive as strings (BIGINT from a driver).
 */
export const entryAad = (e: EntryIdentity): string =>
  JSON.stringify(['query_logs', Number(e.user_id), Number(e.queried_at), e.subject_type, e.subject_hmac]);

/** The associated data of a query request form's expected subjects: its requester and filing time. */
export const requestAad = (r: { requester_id: number | string; created_at: number | string }): string =>
  JSON.stringify(['query_requests', Number(r.requester_id), Number(r.created_at)]);

/** An entry's subject in clear, from its stored row (throws SubjectCipherError). */
export const openEntrySubject = (keys: Buffer[], row: EntryIdentity & { subject_cipher: string }): string => decryptSubject(keys, row.subject_cipher, entryAad(row));

/** Whether a decrypted subject is the person the entry's HMAC names. */
export const matchesHmac = (hmacKey: string | Buffer, row: { subject_type: string; subject_hmac: string }, plain: string): boolean =>
  subjectHmac(hmacKey, { type: row.subject_type as SubjectType, value: plain }) === row.subject_hmac;

export const cipherKeyId = (token: string): string => token.split('.')[1] ?? '';

/** What people without display rights see: A123456789 → A12****789; 王小明 1980-05-06 → 王*明 1980-**-**. */
export function maskSubject(s: Subject): string {
  const v = normalise(s);
  if (s.type === 'national-id' || s.type === 'resident-certificate') return v.length >= 10 ? `${v.slice(0, 3)}****${v.slice(-3)}` : '*'.repeat(v.length);
  if (s.type === 'name-birthdate') {
    const m = /^(.+?)[ ,，|/]\s*(\d{4})-\d{2}-\d{2}$/.exec(v);
    const name = m ? m[1] : v;
    const chars = [...name];
    const maskedName = chars.length <= 1 ? '*' : chars.length === 2 ? `${chars[0]}*` : `${chars[0]}${'*'.repeat(chars.length - 2)}${chars[chars.length - 1]}`;
    return m ? `${maskedName} ${m[2]}-**-**` : maskedName;
  }
  const chars = [...v];
  return chars.length <= 2 ? '**' : `${chars.slice(0, 2).join('')}${'*'.repeat(Math.min(6, chars.length - 2))}`;
}

/** Everything stored about a subject, computed once; the ciphertext is bound to the entry (entryAad). */
export function protectSubject(keys: { enc: Buffer; hmac: string }, s: Subject, at: { user_id: number; queried_at: number }): { subject_type: SubjectType; subject_hmac: string; subject_cipher: string; subject_mask: string } {
  const plain = normalise(s);
  const subject_hmac = subjectHmac(keys.hmac, s);
  const subject_cipher = encryptSubject(keys.enc, plain, entryAad({ user_id: at.user_id, queried_at: at.queried_at, subject_type: s.type, subject_hmac }));
  return { subject_type: s.type, subject_hmac, subject_cipher, subject_mask: maskSubject(s) };
}

const LETTERS = Object.keys(LETTER);
/** The check digit that completes the first nine characters (letter + 8 digits, or two letters + 7 digits). */
function checkDigit(firstCode: number, second: number, middle: string): number {
  const digits = [Math.floor(firstCode / 10), firstCode % 10, second, ...middle.split('').map(Number)];
  const sum = digits.reduce((acc, d, i) => acc + d * WEIGHTS[i], 0);
  return (10 - (sum % 10)) % 10;
}

/** A valid national ID with a correct checksum, for demo data and tests (random in [0,1)). */
export function generateNationalId(random: () => number = Math.random, sex?: 1 | 2): string {
  const letter = LETTERS[Math.floor(random() * LETTERS.length)];
  const s = sex ?? (random() < 0.5 ? 1 : 2);
  const middle = Array.from({ length: 7 }, () => Math.floor(random() * 10)).join('');
  return `${letter}${s}${middle}${checkDigit(LETTER[letter], s, middle)}`;
}

/** A valid resident certificate number: the new format (letter, 8 or 9, …) or the old (two letters). */
export function generateResidentCertificate(random: () => number = Math.random, format: 'new' | 'old' = 'new'): string {
  const letter = LETTERS[Math.floor(random() * LETTERS.length)];
  const middle = Array.from({ length: 7 }, () => Math.floor(random() * 10)).join('');
  if (format === 'new') {
    const s = random() < 0.5 ? 8 : 9;
    return `${letter}${s}${middle}${checkDigit(LETTER[letter], s, middle)}`;
  }
  const second = 'ABCD'[Math.floor(random() * 4)];
  return `${letter}${second}${middle}${checkDigit(LETTER[letter], LETTER[second] % 10, middle)}`;
}
