// Ciphertexts bound to their entry: every query log subject ciphertext must open under its own
// entry's identity (entryAad) and be the person its subject_hmac names. The chain hash covers the
// HMAC but not the ciphertext (so keys can rotate); this check closes that gap for verify-log: a
// ciphertext swapped between entries, or moved to another clerk or time, is a break.
//
// Two ways to run it, with the same result: verifyCiphertexts reads the log itself, page by page;
// CipherPool takes the pages the chain walk already reads (verify-log) and opens their ciphertexts
// in worker threads meanwhile, so the log is read once and the decryption runs on another core.
import os from 'node:os';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config.ts';
import type { Conn, Db } from '../db.ts';
import { pagesAhead, selectArrays } from '../db.ts';
import { checkPage, CIPHER_COLUMNS, ROLE, type CipherBreak, type CipherKeys, type CipherRow, type PageAnswer, type PageMessage, type PageResult, type WorkerSetup } from './ciphertexts-work.ts';

export type { CipherBreak } from './ciphertexts-work.ts';

export interface CipherCheck {
  /** Entries checked. */
  count: number;
  /** Legacy (v1) ciphertexts that match their HMAC but are bound to nothing: a warning, not a break. */
  unbound: number;
  /** Entries blanked by an approved destruction (destruction_id set): nothing left to open, not a break. */
  destroyed: number;
  /** Every bad entry in seq order, up to `maxReported`; `badCount` counts them all. */
  bad: CipherBreak[];
  badCount: number;
}

type Keys = Pick<Config, 'SUBJECT_HMAC_KEY' | 'subjectEncKey' | 'subjectEncKeyPrevious'>;
const cipherKeys = (keys: Keys): CipherKeys => ({ hmac: keys.SUBJECT_HMAC_KEY, ring: [keys.subjectEncKey, ...(keys.subjectEncKeyPrevious ? [keys.subjectEncKeyPrevious] : [])] });
const emptyCheck = (): CipherCheck => ({ count: 0, unbound: 0, destroyed: 0, bad: [], badCount: 0 });

/** Adds a page's (or a range's) result to `into`, which covers the entries before it in seq order. */
function fold(into: CipherCheck, r: PageResult | CipherCheck, maxReported: number): void {
  into.count += r.count;
  into.unbound += r.unbound;
  into.destroyed += r.destroyed;
  into.badCount += r.badCount;
  for (const b of r.bad) if (into.bad.length < maxReported) into.bad.push(b);
}

/**
 * Checks every query_logs row's ciphertext (with a seq in `range` when given, both ends
 * exclusive), walking by seq in pages (the next page read while this one is decrypted). Needs the
 * subject keys: SUBJECT_ENC_KEY (and SUBJECT_ENC_KEY_PREVIOUS during a rotation) and SUBJECT_HMAC_KEY.
 */
export async function verifyCiphertexts(db: Db | Conn, keys: Keys,
  opts: { pageSize?: number; maxReported?: number; onProgress?: (checked: number) => void; range?: { after: number; before: number } } = {}): Promise<CipherCheck> {
  const page = opts.pageSize ?? 10000;
  const maxReported = opts.maxReported ?? 10000;
  const k = cipherKeys(keys);
  const before = opts.range?.before ?? Infinity;
  // destruction_id is read, not filtered on: a filter on it could lead the database away from the seq index.
  const fetchAfter = (after: number): Promise<unknown[][]> =>
    (after + 1 >= before ? Promise.resolve([]) : selectArrays(db('query_logs').where('seq', '>', after).modify((q) => void (before < Infinity && q.andWhere('seq', '<', before))).orderBy('seq').limit(page), CIPHER_COLUMNS));
  const result = emptyCheck();
  for await (const rows of pagesAhead(fetchAfter, (r) => Number(r[1]), opts.range?.after ?? 0, page)) {
    fold(result, checkPage(k, rows, maxReported), maxReported);
    opts.onProgress?.(result.count);
  }
  return result;
}

/** How many worker threads CipherPool uses by default: the cores left beside the chain walk's thread. */
export const defaultCipherWorkers = (): number => Math.max(1, os.availableParallelism() - 1);

// A worker runs TypeScript as the command line does (bin/nhi-audit.js): it registers tsx, then
// loads the check. Under `node --import tsx` (tests, benchmarks) the worker inherits that flag and
// the registration is simply repeated.
// createRequire, not import.meta.resolve: tsx loads a module that uses import.meta.resolve as
// ESM only, which gives every module it imports a second instance beside the CommonJS one the
// test hooks load (two clocks, two registries).
const TSX_API = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href;
const WORK_MODULE = new URL('./ciphertexts-work.ts', import.meta.url).href;
const BOOTSTRAP = `import(${JSON.stringify(TSX_API)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORK_MODULE)}); });`;

/**
 * The ciphertext check of verify-log, fed by the chain walk: `columns` are what the walk must read
 * besides its own, `onPage` takes each page of the walk (rows as arrays, `cols` naming their
 * positions), and `finish` checks what the walk did not read (rows outside its range) and gives the
 * result, in seq order as verifyCiphertexts gives it. Pages go to `workers` worker threads; with 0,
 * or when a worker cannot start, they are checked in this thread.
 */
export class CipherPool {
  readonly columns: readonly string[] = ['subject_cipher'];
  private readonly keys: CipherKeys;
  private readonly maxReported: number;
  private readonly workers: Array<Worker | undefined> = [];
  private readonly busy: number[] = [];
  /** Pages handed to a worker and not yet answered, kept so they can be checked here if it fails. */
  private readonly outstanding = new Map<number, { rows: CipherRow[]; worker: number }>();
  private readonly answers = new Map<number, PageResult>();
  private readonly result = emptyCheck();
  private pages = 0;
  private folded = 0;
  private firstSeq: number | null = null;
  private lastSeq: number | null = null;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private positions: number[] | null = null;
  private positionsOf: readonly string[] | null = null;

  constructor(keys: Keys, opts: { workers?: number; maxReported?: number } = {}) {
    this.keys = cipherKeys(keys);
    this.maxReported = opts.maxReported ?? 10000;
    const n = opts.workers ?? defaultCipherWorkers();
    const setup: WorkerSetup = { role: ROLE, hmac: this.keys.hmac, ring: this.keys.ring, maxReported: this.maxReported };
    for (let i = 0; i < n; i++) {
      const w = new Worker(BOOTSTRAP, { eval: true, workerData: setup });
      w.on('message', (m: PageAnswer) => this.answered(i, m));
      w.on('error', (e) => this.lost(i, e));
      w.on('exit', (code) => this.lost(i, code));
      this.workers.push(w);
      this.busy.push(0);
    }
  }

  /** Takes one page of the chain walk (in seq order). */
  onPage = (rows: readonly unknown[][], cols: readonly string[]): Promise<void> | undefined => {
    if (this.failure) throw this.failure;
    if (!rows.length) return undefined;
    if (this.positionsOf !== cols) {
      this.positions = CIPHER_COLUMNS.map((c) => cols.indexOf(c));
      const missing = CIPHER_COLUMNS.filter((_, i) => this.positions![i] < 0);
      if (missing.length) throw new Error(`the chain walk's pages lack ${missing.join(', ')}`);
      this.positionsOf = cols;
    }
    const at = this.positions!;
    const page: CipherRow[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      page[i] = [r[at[0]], r[at[1]], r[at[2]], r[at[3]], r[at[4]], r[at[5]], r[at[6]], r[at[7]]];
    }
    this.firstSeq ??= Number(page[0][1]);
    this.lastSeq = Number(page[page.length - 1][1]);
    const n = this.pages++;
    // Two pages a worker at most (one being checked, one waiting): when every worker has its two,
    // this thread checks the page itself rather than wait, so memory stays bounded and no core idles.
    let i = -1;
    for (let w = 0; w < this.workers.length; w++) if (this.workers[w] && this.busy[w] < 2 && (i < 0 || this.busy[w] < this.busy[i])) i = w;
    if (i < 0) {
      this.answers.set(n, checkPage(this.keys, page, this.maxReported));
      this.foldAnswers();
      return undefined;
    }
    this.outstanding.set(n, { rows: page, worker: i });
    this.busy[i]++;
    this.workers[i]!.postMessage({ page: n, rows: page } satisfies PageMessage);
    return undefined;
  };

  /** The result, once every page is answered and the rows outside the walk's range are checked on `db`. */
  async finish(db: Db | Conn, opts: { pageSize?: number } = {}): Promise<CipherCheck> {
    await this.until(() => this.outstanding.size === 0);
    this.close();
    const walked = this.result;
    const out = emptyCheck();
    const outside = (range: { after: number; before: number }) => verifyCiphertexts(db, { SUBJECT_HMAC_KEY: this.keys.hmac, subjectEncKey: this.keys.ring[0], subjectEncKeyPrevious: this.keys.ring[1] }, { pageSize: opts.pageSize, maxReported: this.maxReported, range });
    if (this.firstSeq == null || this.lastSeq == null) {
      fold(out, await outside({ after: 0, before: Infinity }), this.maxReported);
      return out;
    }
    fold(out, await outside({ after: 0, before: this.firstSeq }), this.maxReported);
    fold(out, walked, this.maxReported);
    fold(out, await outside({ after: this.lastSeq, before: Infinity }), this.maxReported);
    return out;
  }

  /** Stops the workers (finish does; call it when the walk failed). */
  close(): void {
    for (const w of this.workers) void w?.terminate();
    this.workers.length = 0;
  }

  private answered(worker: number, m: PageAnswer): void {
    const sent = this.outstanding.get(m.page);
    if (!sent) return;
    this.outstanding.delete(m.page);
    this.busy[worker]--;
    if ('error' in m) this.failure ??= new Error(`ciphertext check: ${m.error}`);
    else this.answers.set(m.page, m.result);
    this.foldAnswers();
    this.wake?.();
  }

  /** A worker that failed (it could not start, or died): its pages are checked here, and it gets no more. */
  private lost(worker: number, _e: unknown): void {
    if (!this.workers[worker]) return;
    void this.workers[worker].terminate();
    this.workers[worker] = undefined;
    for (const [page, sent] of this.outstanding) {
      if (sent.worker !== worker) continue;
      this.outstanding.delete(page);
      try {
        this.answers.set(page, checkPage(this.keys, sent.rows, this.maxReported));
      } catch (e) {
        this.failure ??= e as Error;
      }
    }
    this.busy[worker] = 0;
    this.foldAnswers();
    this.wake?.();
  }

  /** Folds the answered pages that follow the ones already folded, so the result stays in seq order. */
  private foldAnswers(): void {
    for (let r = this.answers.get(this.folded); r; r = this.answers.get(this.folded)) {
      this.answers.delete(this.folded++);
      fold(this.result, r, this.maxReported);
    }
  }

  private until(done: () => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.failure) reject(this.failure);
        else if (done()) resolve();
        else return;
        this.wake = null;
      };
      this.wake = check;
      check();
    });
  }
}
