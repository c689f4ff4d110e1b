// Signed checkpoints of the query log (issue 15). The chain proves that nobody edited a row
// carelessly; these prove that nobody with write access to the database rewrote history: the head
// (seq, hash, entry count, time) is signed with an Ed25519 key held outside the database
// (CHECKPOINT_KEY_FILE, kept by the IT unit) and each signed checkpoint is also appended to a
// witness file in WITNESS_DIR, apart from the database. verify-log then checks that the chain
// passes through every signed head, so a rewrite with recomputed hashes fails for anyone holding
// the public key and a witness copy. Key rotation is a statement signed by the old key and
// countersigned by the new one.
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, type Config } from '../config.ts';
import type { Conn, Db } from '../db.ts';
import { localMonth, now } from '../time.ts';
import { chainHead, sortBreaks, verifyChain, MAX_BREAKS, type Anchor, type ChainBreak, type DestroyedSegment, type PageHook, type VerifyResult } from './chain.ts';

export type CheckpointSettings = Partial<Pick<Config, 'CHECKPOINT_KEY_FILE' | 'WITNESS_DIR'>>;
export type CheckpointKind = 'hourly' | 'retention' | 'print' | 'manual' | 'destruction';

const HEAD_TYPE = 'nhi-audit.checkpoint.v1';
const ROTATION_TYPE = 'nhi-audit.key-rotation.v1';
const DESTRUCTION_TYPE = 'nhi-audit.destruction.v1';
const DEFAULT_WITNESS_DIR = './data/witness';

export interface Signer { privateKey: KeyObject; publicKey: KeyObject; keyId: string }

/** SHA-256 of the public key (SPKI DER), hex: names a key in rows, witness lines and messages. */
export const keyIdOf = (pub: KeyObject): string => crypto.hash('sha256', pub.export({ type: 'spki', format: 'der' }), 'hex');
export const publicKeyPem = (pub: KeyObject): string => String(pub.export({ type: 'spki', format: 'pem' }));
/**
 * The public key as people copy it from a page or a filing's cover: the PEM body on one line
 * (SPKI, Base64) and its SHA-256 fingerprint. Null without a key (checkpoints unsigned).
 */
export function publishedKey(cfg: CheckpointSettings): { spki: string; keyId: string } | null {
  const signer = signerFor(cfg);
  return signer ? { spki: signer.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), keyId: signer.keyId } : null;
}
const spkiB64 = (pub: KeyObject): string => pub.export({ type: 'spki', format: 'der' }).toString('base64');
const fromSpki = (b64: string): KeyObject => crypto.createPublicKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'spki' });

/** An Ed25519 key (private or public half) read from a PEM file; a bad file is a ConfigError naming `key` (the setting or flag). */
function readEd25519(file: string, key: string, half: 'private' | 'public'): KeyObject {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(key, `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let k: KeyObject;
  try {
    // A private key file gives its public half too.
    k = half === 'private' ? crypto.createPrivateKey(text) : crypto.createPublicKey(text);
  } catch {
    throw new ConfigError(key, `${file} is not a PEM ${half} key`);
  }
  if (k.asymmetricKeyType !== 'ed25519') throw new ConfigError(key, `${file} must be an Ed25519 ${half} key (openssl genpkey -algorithm ed25519)`);
  return k;
}

/** Reads the PEM Ed25519 private key that signs checkpoints. */
export function readPrivateKey(file: string, key = 'CHECKPOINT_KEY_FILE'): Signer {
  const privateKey = readEd25519(file, key, 'private');
  const publicKey = crypto.createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

/** Reads an Ed25519 public key from a PEM file (a private key file gives its public half). */
export const readPublicKey = (file: string, key = '--public-key'): KeyObject => readEd25519(file, key, 'public');

const signers = new Map<string, Signer>();
/** The configured signing key, read once per file; null without CHECKPOINT_KEY_FILE (development). */
export function signerFor(cfg: CheckpointSettings): Signer | null {
  const file = cfg.CHECKPOINT_KEY_FILE;
  if (!file) return null;
  let s = signers.get(file);
  if (!s) signers.set(file, (s = readPrivateKey(file)));
  return s;
}

/** The text signed for a head: fixed key order, JSON. */
export function headPayload(h: { kind: string; seq: number; hash: string; count: number; at: number; events?: { seq: number; hash: string } }): string {
  return JSON.stringify({ type: HEAD_TYPE, kind: h.kind, seq: h.seq, hash: h.hash, count: h.count, at: h.at, ...(h.events ? { events: { seq: h.events.seq, hash: h.events.hash } } : {}) });
}

/** The system events' chain head, signed with every checkpoint so the events cannot be rewritten either. */
async function eventHead(conn: Conn): Promise<{ seq: number; hash: string } | undefined> {
  const h = await conn('event_chain_head').where({ id: 1 }).first('seq', 'hash');
  return h && Number(h.seq) > 0 ? { seq: Number(h.seq), hash: h.hash } : undefined;
}

const sign = (s: Signer, payload: string): string => crypto.sign(null, Buffer.from(payload, 'utf8'), s.privateKey).toString('base64');
const verifySig = (pub: KeyObject, payload: string, sig: string): boolean => {
  try {
    return crypto.verify(null, Buffer.from(payload, 'utf8'), pub, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
};

/** What identifies one signature check: the same key, payload and signature always give the same verdict. */
const sigKey = (keyId: string, payload: string, sig: string): string => `${keyId}\n${sig}\n${payload}`;

/**
 * The verdicts of many signature checks (by sigKey): each distinct check once (a witness line
 * repeats its checkpoint's row), on the thread pool (crypto.verify's callback form) a window at a
 * time, so the tens of thousands of hourly checkpoints of five years verify on every core.
 */
async function verifySignatures(items: Array<{ keyId: string; key: KeyObject; payload: string; signature: string }>): Promise<Map<string, boolean>> {
  const verdicts = new Map<string, boolean>();
  const todo = items.filter((it) => {
    const k = sigKey(it.keyId, it.payload, it.signature);
    if (verdicts.has(k)) return false;
    verdicts.set(k, false);
    return true;
  });
  const one = (it: (typeof todo)[number]) => new Promise<void>((resolve) => {
    const done = (ok: boolean) => { verdicts.set(sigKey(it.keyId, it.payload, it.signature), ok); resolve(); };
    try {
      crypto.verify(null, Buffer.from(it.payload, 'utf8'), it.key, Buffer.from(it.signature, 'base64'), (err, ok) => done(!err && ok));
    } catch {
      done(false);
    }
  });
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(64, todo.length) }, async () => {
    while (next < todo.length) await one(todo[next++]);
  }));
  return verdicts;
}

/** One witness line: what was signed, by which key, and the signature(s). */
interface WitnessLine { payload: string; keyId: string | null; signature: string | null; cosignature?: string | null }

/**
 * Appends one line to this month's witness file and flushes it to disk before returning, so a
 * checkpoint the database holds is never missing from the witness after a crash.
 */
export function appendWitness(dir: string, line: WitnessLine, at: number): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `witness-${localMonth(at)}.jsonl`);
  const created = !fs.existsSync(file);
  const fd = fs.openSync(file, 'a', 0o640);
  try {
    fs.writeSync(fd, JSON.stringify(line) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (created) {
    // The new file's directory entry must reach the disk too.
    const d = fs.openSync(dir, 'r');
    try { fs.fsyncSync(d); } catch { /* not every filesystem syncs directories */ } finally { fs.closeSync(d); }
  }
  return file;
}

/** The latest retention checkpoint's seq (the chain's start), or 0. */
async function retentionStart(conn: Conn): Promise<number> {
  const cp = await conn('log_checkpoints').orderBy('id', 'desc').first('seq');
  return cp ? Number(cp.seq) : 0;
}

export interface RecordedCheckpoint { id: number; kind: string; seq: number; hash: string; count: number; at: number; signed: boolean; keyId: string | null; witness: string | null }

/**
 * Records a checkpoint of `head` (the current chain head when absent): signed when a key is
 * configured, and then also written to the witness. `count` is the number of entries the log
 * holds up to the head (head seq minus the chain's start), unless given.
 */
export async function recordCheckpoint(conn: Conn, cfg: CheckpointSettings, kind: CheckpointKind, head?: { seq: number; hash: string; count?: number }): Promise<RecordedCheckpoint> {
  const h: { seq: number; hash: string; count?: number } = head ?? (await chainHead(conn));
  const signer = signerFor(cfg);
  const at = now();
  const count = h.count ?? Math.max(0, h.seq - (await retentionStart(conn)));
  const payload = headPayload({ kind, seq: h.seq, hash: h.hash, count, at, events: await eventHead(conn) });
  const signature = signer ? sign(signer, payload) : null;
  const keyId = signer?.keyId ?? null;
  const [id] = await conn('signed_checkpoints').insert({ kind, seq: h.seq, hash: h.hash, entry_count: count, signed_at: at, payload, key_id: keyId, signature });
  const witness = signer ? appendWitness(cfg.WITNESS_DIR ?? DEFAULT_WITNESS_DIR, { payload, keyId, signature }, at) : null;
  return { id: Number(id), kind, seq: h.seq, hash: h.hash, count, at, signed: !!signer, keyId, witness };
}

/**
 * The head a sheet or filing prints (the current head unless given), recorded as a checkpoint so
 * the printed head is signed and witnessed too. A head already recorded under the same key is not
 * recorded again (a page viewed twice adds nothing).
 */
export async function signHead(conn: Conn, cfg: CheckpointSettings, head?: { seq: number; hash: string }): Promise<{ seq: number; hash: string }> {
  const h = head ?? (await chainHead(conn));
  if (h.seq === 0) return h;
  const signer = signerFor(cfg);
  const same = await conn('signed_checkpoints').where({ seq: h.seq, hash: h.hash }).modify((q) => void (signer ? q.where('key_id', signer.keyId) : q.whereNull('key_id'))).first('id');
  if (!same) await recordCheckpoint(conn, cfg, 'print', h);
  return h;
}

/** The hourly checkpoint: signs the head when entries were added since the last checkpoint. */
export async function hourlyCheckpoint(db: Db, cfg: CheckpointSettings): Promise<{ signed: boolean; seq: number; hash: string; skipped?: string }> {
  const h = await chainHead(db);
  const signer = signerFor(cfg);
  const last = await db('signed_checkpoints').whereNotNull('seq').modify((q) => void (signer ? q.where('key_id', signer.keyId) : q.whereNull('key_id'))).max({ s: 'seq' }).first();
  if (h.seq === 0 || (last?.s != null && Number(last.s) >= h.seq)) return { signed: false, seq: h.seq, hash: h.hash, skipped: 'no new entries' };
  const r = await recordCheckpoint(db, cfg, 'hourly', h);
  return { signed: r.signed, seq: r.seq, hash: r.hash };
}

/**
 * Key rotation: a statement naming the old and the new public key, signed by the old key (the
 * configured one) and countersigned by the new one, stored and witnessed. Verification then trusts
 * keys linked to the trusted key by such statements; a key signs nothing dated after its rotation.
 */
export async function rotateCheckpointKey(db: Db, cfg: CheckpointSettings, newKeyFile: string): Promise<{ oldKeyId: string; newKeyId: string; witness: string }> {
  const old = signerFor(cfg);
  if (!old) throw new ConfigError('CHECKPOINT_KEY_FILE', 'is needed to rotate: the old key signs the statement');
  const next = readPrivateKey(newKeyFile, '--new-key');
  if (next.keyId === old.keyId) throw new ConfigError('--new-key', 'is the key already configured');
  const at = now();
  const payload = JSON.stringify({ type: ROTATION_TYPE, oldKey: spkiB64(old.publicKey), newKey: spkiB64(next.publicKey), at });
  const signature = sign(old, payload);
  const cosignature = sign(next, payload);
  await db('signed_checkpoints').insert({ kind: 'rotation', seq: null, hash: null, entry_count: null, signed_at: at, payload, key_id: old.keyId, signature, cosignature });
  const witness = appendWitness(cfg.WITNESS_DIR ?? DEFAULT_WITNESS_DIR, { payload, keyId: old.keyId, signature, cosignature }, at);
  return { oldKeyId: old.keyId, newKeyId: next.keyId, witness };
}

/** What a destruction statement signs: the approved list, exactly the entries it blanked, and who approved. */
export interface DestructionFacts {
  destruction: number;
  agency: string;
  cutoff: string;
  firstSeq: number;
  lastSeq: number;
  count: number;
  segment: string;
  approvals: Array<{ duty: string; account: string; at: number }>;
}

const destructionPayload = (d: DestructionFacts, at: number): string =>
  JSON.stringify({ type: DESTRUCTION_TYPE, destruction: d.destruction, agency: d.agency, cutoff: d.cutoff, firstSeq: d.firstSeq, lastSeq: d.lastSeq, count: d.count, segment: d.segment,
    approvals: d.approvals.map((a) => ({ duty: a.duty, account: a.account, at: a.at })), at });

/**
 * Records the signed statement of an executed destruction (in the caller's transaction) and
 * witnesses it: verify-log accepts blanked entries only when such a statement covers exactly them.
 */
export async function recordDestruction(conn: Conn, cfg: CheckpointSettings, d: DestructionFacts): Promise<{ id: number; signed: boolean }> {
  const signer = signerFor(cfg);
  const at = now();
  const payload = destructionPayload(d, at);
  const signature = signer ? sign(signer, payload) : null;
  const [id] = await conn('signed_checkpoints').insert({ kind: 'destruction', seq: null, hash: null, entry_count: d.count, signed_at: at, payload, key_id: signer?.keyId ?? null, signature });
  if (signer) appendWitness(cfg.WITNESS_DIR ?? DEFAULT_WITNESS_DIR, { payload, keyId: signer.keyId, signature }, at);
  return { id: Number(id), signed: !!signer };
}

function parseDestruction(payload: string): (DestructionFacts & { at: number }) | null {
  try {
    const o = JSON.parse(payload);
    const ints = [o?.destruction, o?.firstSeq, o?.lastSeq, o?.count, o?.at];
    if (o?.type !== DESTRUCTION_TYPE || !ints.every(Number.isSafeInteger) || typeof o.segment !== 'string' || typeof o.agency !== 'string' || typeof o.cutoff !== 'string' || !Array.isArray(o.approvals)) return null;
    return { destruction: o.destruction, agency: o.agency, cutoff: o.cutoff, firstSeq: o.firstSeq, lastSeq: o.lastSeq, count: o.count, segment: o.segment, approvals: o.approvals, at: o.at };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Verification

/** A break in the log (an entry's, a checkpoint's, a witness line's), in chain order where it has a seq. */
export type LogBreak = ChainBreak;

export interface LogVerifyResult {
  ok: boolean;
  chain: VerifyResult;
  /** Every break, the first in chain order first. */
  breaks: LogBreak[];
  /** The trusted key's id, or null when none was configured or given (signatures not verified). */
  keyId: string | null;
  /** Head checkpoints in the database (witness lines are counted under witness). */
  checkpoints: { total: number; signed: number };
  witness: { files: string[]; lines: number };
  heads: number;
}

interface Statement { source: string; payload: string; keyId: string | null; signature: string | null; cosignature: string | null; columns?: { kind: string; seq: unknown; hash: unknown; count: unknown } }
interface Head { kind: string; seq: number; hash: string; count: number; at: number; events?: { seq: number; hash: string } }

/** Parses a printed head `SEQ:HASH`; null when malformed. */
export function parseHead(text: string): { seq: number; hash: string } | null {
  const m = /^(\d{1,15}):([0-9a-f]{64})$/i.exec(text.trim());
  return m ? { seq: Number(m[1]), hash: m[2].toLowerCase() } : null;
}

/** Every *.jsonl file under PATH (a file or a directory), in name order. */
function witnessFiles(p: string): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw new ConfigError('--witness', `${p} does not exist`);
  }
  if (!st.isDirectory()) return [p];
  return fs.readdirSync(p).filter((f) => f.endsWith('.jsonl')).sort().map((f) => path.join(p, f));
}

function parseHeadPayload(payload: string): Head | null {
  try {
    const o = JSON.parse(payload);
    if (o?.type !== HEAD_TYPE || !Number.isSafeInteger(o.seq) || o.seq < 0 || typeof o.hash !== 'string' || !/^[0-9a-f]{64}$/.test(o.hash) || !Number.isSafeInteger(o.count) || !Number.isSafeInteger(o.at) || typeof o.kind !== 'string') return null;
    const ev = o.events;
    if (ev !== undefined && (!Number.isSafeInteger(ev?.seq) || ev.seq < 1 || typeof ev.hash !== 'string' || !/^[0-9a-f]{64}$/.test(ev.hash))) return null;
    return { kind: o.kind, seq: o.seq, hash: o.hash, count: o.count, at: o.at, ...(ev ? { events: { seq: ev.seq, hash: ev.hash } } : {}) };
  } catch {
    return null;
  }
}

function parseRotation(payload: string): { oldKey: KeyObject; newKey: KeyObject; at: number } | null {
  try {
    const o = JSON.parse(payload);
    if (o?.type !== ROTATION_TYPE || typeof o.oldKey !== 'string' || typeof o.newKey !== 'string' || !Number.isSafeInteger(o.at)) return null;
    return { oldKey: fromSpki(o.oldKey), newKey: fromSpki(o.newKey), at: o.at };
  } catch {
    return null;
  }
}

/**
 * The system events' chain must pass through every event head a checkpoint signed (the event
 * chain's own links are walked by verifyEvents): a rewrite of the events with recomputed hashes
 * changes the hash at a signed seq, or removes it.
 */
async function checkEventAnchors(db: Db, anchors: Anchor[], report: (b: LogBreak) => void): Promise<void> {
  const bySeq = new Map<number, Anchor[]>();
  for (const a of anchors) bySeq.set(a.seq, [...(bySeq.get(a.seq) ?? []), a]);
  const seqs = [...bySeq.keys()].sort((a, b) => a - b);
  for (let i = 0; i < seqs.length; i += 500) {
    const part = seqs.slice(i, i + 500);
    const rows = new Map((await db('system_events').whereIn('seq', part).select('seq', 'hash')).map((r: any) => [Number(r.seq), r.hash as string]));
    for (const seq of part) {
      for (const a of bySeq.get(seq)!) {
        const hash = rows.get(seq);
        if (hash !== a.hash) report({ id: null, seq: null, reason: `system events: the event chain does not pass through ${a.label}: ${hash ? 'the event there has another hash (the events were rewritten)' : 'there is no event at that seq (events were removed)'}` });
      }
    }
  }
}

/** Why a statement's signature is not good under the trusted keys, or null when it is. */
function signatureProblem(st: Statement, trusted: Map<string, KeyObject>, retiredAt: Map<string, number>, at?: number, verdicts?: Map<string, boolean>): string | null {
  const key = st.keyId ? trusted.get(st.keyId) : undefined;
  if (!st.signature) return 'is unsigned: a checkpoint must be signed';
  if (!key) return 'is signed by a key that is not trusted: it was forged';
  if (!(verdicts?.get(sigKey(st.keyId!, st.payload, st.signature)) ?? verifySig(key, st.payload, st.signature))) return 'has a bad signature: it was forged or altered';
  if (at != null && at > (retiredAt.get(st.keyId!) ?? Infinity)) return 'is signed by a key after that key was rotated out';
  return null;
}

/**
 * Blanked entries against destruction statements: every destroyed segment the walk found must be
 * exactly what a well-signed statement approved (count, first and last seq, segment hash), and
 * every such statement must find its entries destroyed in the log.
 */
type SignedDestruction = { st: Statement; d: DestructionFacts & { at: number } };
function checkDestructions(statements: SignedDestruction[], found: DestroyedSegment[], problem: (s: SignedDestruction) => string | null, report: (b: LogBreak) => void): void {
  const good = new Map<number, DestructionFacts>();
  for (const s of statements) {
    const { st, d } = s;
    const why = problem(s);
    if (why) report({ id: null, seq: d.firstSeq, reason: `${st.source} (destruction #${d.destruction}) ${why}` });
    else good.set(d.destruction, d);
  }
  const seen = new Set<number>();
  for (const g of found) {
    seen.add(g.destructionId);
    const d = good.get(g.destructionId);
    const span = `entries seq ${g.firstSeq}–${g.lastSeq} (${g.count})`;
    if (!d) report({ id: null, seq: g.firstSeq, reason: `${span} are blanked as destruction #${g.destructionId}, which has no signed destruction statement: they were destroyed without an approved destruction` });
    else if (d.segment !== g.segmentHash || d.count !== g.count || d.firstSeq !== g.firstSeq || d.lastSeq !== g.lastSeq) {
      report({ id: null, seq: g.firstSeq, reason: `${span} blanked as destruction #${g.destructionId} are not the ${d.count} entries (seq ${d.firstSeq}–${d.lastSeq}) its signed list approved: entries were blanked outside the approved destruction` });
    }
  }
  for (const d of good.values()) {
    if (!seen.has(d.destruction)) report({ id: null, seq: d.firstSeq, reason: `destruction #${d.destruction} (seq ${d.firstSeq}–${d.lastSeq}, ${d.count} entries) was signed but its entries are not in the log as destroyed: they were removed or restored` });
  }
}

/**
 * verify-log: the chain, every checkpoint's signature, that the chain passes through every signed
 * head, every witness line, every printed head, and id order against seq order. Every break is
 * reported. With no key configured or given, signatures are not verified (development) but the
 * heads still are.
 */
export async function verifyLog(db: Db, cfg: CheckpointSettings, opts: { publicKeyFile?: string; witness?: string[]; heads?: Array<{ seq: number; hash: string }>; pageSize?: number; pages?: PageHook } = {}): Promise<LogVerifyResult> {
  const breaks: LogBreak[] = [];
  const report = (b: LogBreak) => void (breaks.length < MAX_BREAKS && breaks.push(b));
  const root = opts.publicKeyFile ? readPublicKey(opts.publicKeyFile) : (signerFor(cfg)?.publicKey ?? null);
  const files = (opts.witness ?? []).flatMap(witnessFiles);

  // Statements: the database's rows, then every witness line. Read before the chain's head, so
  // any head they sign lies at or before it.
  const statements: Statement[] = [];
  const rows = await db('signed_checkpoints').orderBy('id').select('id', 'kind', 'seq', 'hash', 'entry_count', 'payload', 'key_id', 'signature', 'cosignature');
  for (const r of rows) statements.push({ source: `checkpoint #${r.id}`, payload: r.payload, keyId: r.key_id, signature: r.signature, cosignature: r.cosignature, columns: { kind: r.kind, seq: r.seq, hash: r.hash, count: r.entry_count } });
  let witnessLines = 0;
  for (const f of files) {
    const lines = fs.readFileSync(f, 'utf8').split('\n');
    lines.forEach((text, i) => {
      if (!text.trim()) return;
      witnessLines++;
      const source = `witness ${path.basename(f)} line ${i + 1}`;
      try {
        const o = JSON.parse(text);
        if (typeof o?.payload !== 'string') throw new Error('no payload');
        statements.push({ source, payload: o.payload, keyId: o.keyId ?? null, signature: o.signature ?? null, cosignature: o.cosignature ?? null });
      } catch {
        report({ id: null, seq: null, reason: `${source} is not a checkpoint: the witness was altered` });
      }
    });
  }

  // Trusted keys: the root, and every key linked to it by a rotation statement that both keys signed.
  const trusted = new Map<string, KeyObject>();
  const retiredAt = new Map<string, number>();
  const heads: Array<{ st: Statement; h: Head }> = [];
  const rotations: Array<{ st: Statement; oldId: string; newId: string; oldKey: KeyObject; newKey: KeyObject; at: number }> = [];
  const destructions: Array<{ st: Statement; d: DestructionFacts & { at: number } }> = [];
  for (const st of statements) {
    const h = parseHeadPayload(st.payload);
    if (h) {
      heads.push({ st, h });
      if (st.columns && (st.columns.kind !== h.kind || Number(st.columns.seq) !== h.seq || st.columns.hash !== h.hash || Number(st.columns.count) !== h.count)) {
        report({ id: null, seq: h.seq, reason: `${st.source}: its columns differ from what was signed: the row was altered` });
      }
      continue;
    }
    const des = parseDestruction(st.payload);
    if (des) {
      if (st.columns && Number(st.columns.count) !== des.count) report({ id: null, seq: des.firstSeq, reason: `${st.source}: its columns differ from what was signed: the row was altered` });
      destructions.push({ st, d: des });
      continue;
    }
    const rot = parseRotation(st.payload);
    if (!rot) {
      report({ id: null, seq: null, reason: `${st.source} is neither a checkpoint nor a key rotation: it was altered` });
      continue;
    }
    const oldId = keyIdOf(rot.oldKey);
    const newId = keyIdOf(rot.newKey);
    if (!st.signature || !st.cosignature || !verifySig(rot.oldKey, st.payload, st.signature) || !verifySig(rot.newKey, st.payload, st.cosignature)) {
      if (root) report({ id: null, seq: null, reason: `${st.source}: the key rotation is not signed by both keys: it was forged or altered` });
      continue;
    }
    rotations.push({ st, oldId, newId, oldKey: rot.oldKey, newKey: rot.newKey, at: rot.at });
  }
  if (root) {
    trusted.set(keyIdOf(root), root);
    for (let grew = true; grew;) {
      grew = false;
      for (const r of rotations) {
        if (trusted.has(r.oldId) !== trusted.has(r.newId)) {
          if (!trusted.has(r.oldId)) trusted.set(r.oldId, r.oldKey);
          else trusted.set(r.newId, r.newKey);
          grew = true;
        }
      }
    }
    for (const r of rotations) {
      if (!trusted.has(r.oldId)) report({ id: null, seq: null, reason: `${r.st.source}: a key rotation between keys not linked to the trusted key` });
      else retiredAt.set(r.oldId, Math.min(retiredAt.get(r.oldId) ?? Infinity, r.at));
    }
  }

  // Signatures, and the heads the chain must pass through.
  let signed = 0;
  let total = 0;
  const anchors: Anchor[] = [];
  const eventAnchors: Anchor[] = [];
  const starts = new Set<number>([0]);
  // Without a key every recorded purge is taken as a start; with one, only signed purges are.
  if (!root) for (const c of await db('log_checkpoints').select('seq')) starts.add(Number(c.seq));
  const retentionSigned = new Map<number, Set<string>>();
  // Every head's signature checked up front, all cores at once (verifySignatures).
  const verdicts = root ? await verifySignatures(heads.flatMap(({ st }) => {
    const key = st.keyId ? trusted.get(st.keyId) : undefined;
    return key && st.signature ? [{ keyId: st.keyId!, key, payload: st.payload, signature: st.signature }] : [];
  })) : undefined;
  for (const { st, h } of heads) {
    if (st.columns) total++;
    if (st.columns && st.signature) signed++;
    const why = root ? signatureProblem(st, trusted, retiredAt, h.at, verdicts) : null;
    if (why) report({ id: null, seq: h.seq, reason: `${st.source} (seq ${h.seq}) ${why}` });
    const good = !why;
    anchors.push({ seq: h.seq, hash: h.hash, label: `${st.source} (seq ${h.seq})` });
    if (h.events) eventAnchors.push({ seq: h.events.seq, hash: h.events.hash, label: `${st.source} (event seq ${h.events.seq})` });
    if (good && h.kind === 'retention') {
      starts.add(h.seq);
      retentionSigned.set(h.seq, (retentionSigned.get(h.seq) ?? new Set()).add(h.hash));
    }
  }
  // The entry count: what the log held up to the head, from a start the log really had.
  for (const { st, h } of heads) {
    if (h.count > h.seq || !starts.has(h.seq - h.count)) report({ id: null, seq: h.seq, reason: `${st.source} (seq ${h.seq}) records ${h.count} entries, which agrees with no start the log had` });
  }
  for (const p of opts.heads ?? []) anchors.push({ seq: p.seq, hash: p.hash, label: `the printed head ${p.seq}:${p.hash.slice(0, 12)}…` });

  const chain = await verifyChain(db, { pageSize: opts.pageSize, anchors, pages: opts.pages });
  breaks.push(...chain.breaks.slice(0, Math.max(0, MAX_BREAKS - breaks.length)));
  await checkEventAnchors(db, eventAnchors, report);
  checkDestructions(destructions, chain.destroyed, root ? ({ st, d }) => signatureProblem(st, trusted, retiredAt, d.at) : () => null, report);
  // The chain's start after a purge must itself be signed: else rows were deleted and a
  // retention checkpoint slipped in by hand.
  const cp = await db('log_checkpoints').orderBy('id', 'desc').first('seq', 'hash');
  if (root && cp && !retentionSigned.get(Number(cp.seq))?.has(cp.hash)) {
    report({ id: null, seq: Number(cp.seq), reason: `the retention checkpoint at seq ${cp.seq} has no signed checkpoint: entries before it were removed outside an approved purge` });
  }
  return { ok: breaks.length === 0, chain, breaks: sortBreaks(breaks), keyId: root ? keyIdOf(root) : null, checkpoints: { total, signed }, witness: { files, lines: witnessLines }, heads: opts.heads?.length ?? 0 };
}
