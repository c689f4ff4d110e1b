// The queries capability (clause 4(一)): query request forms, the tamper-evident query log,
// subject protection, service tokens, signed checkpoints; jobs verify-log, retention and checkpoint;
// commands verify-log, rotate-subject-key and checkpoint …; demo entries for seed-demo.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Capability, CliArgs, Command } from '../capability.ts';
import type { JobDef } from '../../jobs/registry.ts';
import { dayPeriod, hourPeriod } from '../../jobs/periods.ts';
import { ConfigError, type Config } from '../config.ts';
import type { Conn, Db } from '../db.ts';
import { alertEthics } from '../mail/outbox.ts';
import { localDate, now } from '../time.ts';
import { withAdminDb } from '../db.ts';
import { recordEvent, SYSTEM_ACTOR, verifyEvents, type EventBreak } from '../events/service.ts';
import { MAX_BREAKS } from './chain.ts';
import { hourlyCheckpoint, parseHead, publicKeyPem, recordCheckpoint, rotateCheckpointKey, signerFor, verifyLog, type CheckpointSettings } from './checkpoints.ts';
import { rotateSubjectKey } from './service.ts';
import { CipherPool } from './ciphertexts.ts';
import { access } from './access.ts';
import { homePanels, nav, register } from './routes.ts';
import { seedDemoQueries } from './demo.ts';
import { batchCollector, verifyBatches } from './batch.ts';
import { batchAccess, registerBatches } from './batch-routes.ts';

/** The configured witness directory, checked by the daily job when checkpoints are signed. */
const ownWitness = (cfg: CheckpointSettings): string[] => (cfg.CHECKPOINT_KEY_FILE && cfg.WITNESS_DIR && fs.existsSync(cfg.WITNESS_DIR) ? [cfg.WITNESS_DIR] : []);

/** How an event-chain break reads beside the query log's. */
const eventBreakText = (b: EventBreak): string => `system event ${b.id != null ? `id ${b.id}` : '(missing)'}: ${b.reason}`;

const VERIFY_PAGE = 2000;

/**
 * Everything verify-log checks, for the command and the daily job alike: the chain with its
 * checkpoints, witnesses and printed heads; every ciphertext under its own entry; the event
 * chain. Breaks come in that order, each with the line that names it first and the one that lists it.
 * `cipherWorkers` sets the ciphertext check's worker threads (default: the cores beside this one);
 * `timings` receives the seconds of each part (the benchmark).
 */
export async function verifyEverything(db: Db, cfg: Config, opts: Parameters<typeof verifyLog>[2] & { cipherWorkers?: number; timings?: Record<string, number> } = {}) {
  const { cipherWorkers, timings, ...logOpts } = opts;
  const t0 = performance.now();
  // The ciphertexts are opened from the chain walk's own pages (the log is read once), in worker
  // threads while the walk hashes; pages of 2,000 rows die young (larger ones cost more in garbage collection).
  const pool = new CipherPool(cfg, { workers: cipherWorkers, maxReported: MAX_BREAKS });
  let log, ciphers;
  const batchSeen = batchCollector();
  try {
    // With `timings` (the benchmark), the time to the walk's first page is what came before it: the signatures.
    const inner = timings ? { columns: pool.columns, onPage: (rows: readonly unknown[][], cols: readonly string[]) => ((timings.signatures ??= (performance.now() - t0) / 1000), pool.onPage(rows, cols)) } : pool;
    // Batch entries (batch.ts) are noted from the same pages, then checked against their side tables.
    const pages = { columns: inner.columns, onPage: (rows: readonly unknown[][], cols: readonly string[]) => (batchSeen.onPage(rows, cols), inner.onPage(rows, cols)) };
    log = await verifyLog(db, cfg, { pageSize: VERIFY_PAGE, ...logOpts, pages });
    if (timings) timings.chain = (performance.now() - t0) / 1000;
    ciphers = await pool.finish(db, { pageSize: logOpts.pageSize ?? VERIFY_PAGE });
    if (timings) timings.ciphertextsAfterChain = (performance.now() - t0) / 1000 - timings.chain;
  } finally {
    pool.close();
  }
  const batches = await verifyBatches(db, cfg.SUBJECT_HMAC_KEY, batchSeen.seen, MAX_BREAKS);
  const t1 = performance.now();
  const events = await verifyEvents(db);
  if (timings) timings.events = (performance.now() - t1) / 1000;
  const breaks = [
    ...log.breaks.map((b) => ({ id: b.id, first: `query log BROKEN: first bad entry id ${b.id ?? '(missing)'} (seq ${b.seq ?? '?'}): ${b.reason}`, text: `${b.id != null ? `entry id ${b.id} ` : ''}${b.seq != null ? `(seq ${b.seq})` : ''}: ${b.reason}` })),
    ...ciphers.bad.map((b) => ({ id: b.id as number | null, first: `query log BROKEN: first bad entry id ${b.id} (seq ${b.seq}): ${b.reason}`, text: `entry id ${b.id} (seq ${b.seq}): ${b.reason}` })),
    ...batches.breaks.map((b) => ({ id: b.id as number | null, first: `query log BROKEN: first bad entry id ${b.id}${b.seq != null ? ` (seq ${b.seq})` : ''}: ${b.reason}`, text: `entry id ${b.id}${b.seq != null ? ` (seq ${b.seq})` : ''}: ${b.reason}` })),
    ...events.breaks.map((b) => ({ id: null, first: `system events BROKEN: first bad ${eventBreakText(b)}`, text: eventBreakText(b) })),
  ];
  const total = log.breaks.length + ciphers.badCount + batches.badCount + events.breaks.length;
  return { log, ciphers, batches, events, breaks, total, ok: log.ok && log.chain.ok && total === 0 };
}

/**
 * A break mails the county-wide ethics unit (issue 18), in the transaction that records the
 * verification; keyed by the day and the first break, so the daily job and a manual run that
 * find the same break send one mail. The text holds the count only, never an entry's content.
 */
const alertChainBreak = (conn: Conn, cfg: Config, first: string, total: number) =>
  alertEthics(conn, cfg, { kind: 'chain-break', key: `${localDate(now())}:${crypto.createHash('sha256').update(first).digest('hex').slice(0, 32)}`, unitId: null, countyWide: true, href: '/integrity', detail: `${total} 處` });

export const verifyLogJob: JobDef = {
  name: 'verify-log',
  cron: '30 2 * * *',
  ...dayPeriod,
  async run(ctx) {
    const v = await verifyEverything(ctx.db, ctx.cfg, { witness: ownWitness(ctx.cfg) });
    const { log: r, ciphers, events: ev } = v;
    const c = r.chain;
    const first = r.breaks[0];
    await ctx.db.transaction(async (trx) => {
      await recordEvent(trx, SYSTEM_ACTOR, { action: 'query-log.verify', outcome: v.ok ? 'ok' : 'failed', targetType: 'query_log', targetId: v.breaks[0]?.id ?? null,
        detail: v.ok && c.ok ? { count: c.count, headSeq: c.headSeq, headHash: c.headHash, checkpoints: r.checkpoints.total, events: ev.count } : { badSeq: first?.seq ?? null, reason: first?.reason ?? '', breaks: r.breaks.length, ciphertexts: ciphers.badCount, batches: v.batches.badCount, events: ev.breaks.length } });
      if (!v.ok || !c.ok) await alertChainBreak(trx, ctx.cfg, v.breaks[0]?.first ?? 'query log broken', v.total);
    });
    if (!v.ok || !c.ok) throw new Error(`${v.breaks[0]?.first ?? 'query log broken'}${v.total > 1 ? ` (and ${v.total - 1} more)` : ''}`);
    return { count: c.count, headSeq: c.headSeq, headHash: c.headHash, checkpoints: r.checkpoints.total, events: ev.count };
  },
};

/** Every hour that has new entries, the head is signed (and witnessed). */
export const checkpointJob: JobDef = {
  name: 'checkpoint',
  cron: '5 * * * *',
  ...hourPeriod,
  run: (ctx) => hourlyCheckpoint(ctx.db, ctx.cfg),
};

/** The values of a flag that may be repeated; `--head a,b` is taken as two. */
const listFlag = (args: CliArgs, name: string): string[] | null => {
  if (args.flags[name] === true) return null;
  return (args.repeated?.[name] ?? (typeof args.flags[name] === 'string' ? [args.flags[name] as string] : [])).flatMap((v) => v.split(','));
};

const verifyCommand: Command = {
  name: 'verify-log',
  usage: 'verify-log [--witness PATH]… [--public-key FILE] [--head SEQ:HASH]…    checks the chain, every checkpoint, witness and printed head; exit 0 and the head hash, or exit 1 naming the first break, then every other',
  async run(ctx, args, out) {
    const witness = listFlag(args, 'witness');
    const headTexts = listFlag(args, 'head');
    const publicKeyFile = args.flags['public-key'];
    if (!witness || !headTexts || publicKeyFile === true) {
      out('verify-log: --witness, --head and --public-key each need a value');
      return 2;
    }
    const heads = headTexts.map(parseHead);
    const badHead = headTexts.find((_, i) => !heads[i]);
    if (badHead !== undefined) {
      out(`verify-log: --head ${badHead}: expected SEQ:HASH (a seq and 64 hex digits)`);
      return 2;
    }
    await ctx.db.migrate.latest();
    let v;
    try {
      v = await verifyEverything(ctx.db, ctx.cfg, { publicKeyFile, witness, heads: heads as Array<{ seq: number; hash: string }> });
    } catch (e) {
      if (e instanceof ConfigError) {
        out(`verify-log: ${e.message}`);
        return 2;
      }
      throw e;
    }
    const { log: r, ciphers, events: ev } = v;
    const c = r.chain;
    if (v.ok && c.ok) {
      out(`query log intact: ${c.count} entries verified${c.fromCheckpoint ? ` from checkpoint seq ${c.fromCheckpoint.seq}` : ''}; head seq ${c.headSeq}`);
      out(r.keyId ? `checkpoints: ${r.checkpoints.total} verified with key ${r.keyId.slice(0, 16)}` : `checkpoints: ${r.checkpoints.total} recorded, unsigned: not verified (no CHECKPOINT_KEY_FILE or --public-key)`);
      if (r.witness.files.length) out(`witness: ${r.witness.lines} lines in ${r.witness.files.length} files verified`);
      if (r.heads) out(`printed heads: ${r.heads} verified`);
      out(`subject ciphertexts: ${ciphers.count} opened under their entries${ciphers.unbound ? ` (${ciphers.unbound} legacy, not yet bound: rotate-subject-key binds them)` : ''}`);
      if (v.batches.count) out(`batch queries: ${v.batches.count} checked against their subjects`);
      out(`system events intact: ${ev.count} events verified`);
      out(c.headHash);
      return 0;
    }
    const [first, ...rest] = v.breaks;
    // The alert must never keep the verdict from being printed (a read-only account, say).
    await alertChainBreak(ctx.db, ctx.cfg, first.first, v.total).catch((e) => process.stderr.write(`verify-log: ethics alert not queued: ${(e as Error).message}\n`));
    out(first.first);
    for (const b of rest) out(`  also: ${b.text}`);
    const why = r.breaks.length
      ? `${v.breaks.length >= MAX_BREAKS ? ' (listing stopped there)' : ''}${r.keyId ? '' : '; checkpoint signatures unsigned: not verified'}`
      : ` (the query log itself verified: ${c.count} entries)`;
    out(`${v.total} break${v.total > 1 ? 's' : ''} in all${why}`);
    process.stderr.write(`bad entry id ${first.id ?? 'none'}\n`);
    return 1;
  },
};

const checkpointKeyCommand: Command = {
  name: 'checkpoint public-key',
  usage: 'checkpoint public-key    prints the public key (PEM) of CHECKPOINT_KEY_FILE, for verifiers and witnesses',
  async run(ctx, _args, out) {
    const signer = signerFor(ctx.cfg);
    if (!signer) {
      out('checkpoint public-key: no CHECKPOINT_KEY_FILE configured: checkpoints are unsigned');
      return 2;
    }
    out(publicKeyPem(signer.publicKey).trimEnd());
    return 0;
  },
};

const checkpointNowCommand: Command = {
  name: 'checkpoint now',
  usage: 'checkpoint now    signs the current chain head at once (and appends it to the witness)',
  async run(ctx, _args, out) {
    await ctx.db.migrate.latest();
    const r = await recordCheckpoint(ctx.db, ctx.cfg, 'manual');
    out(`checkpoint ${r.signed ? 'signed' : 'recorded UNSIGNED (no CHECKPOINT_KEY_FILE)'}: seq ${r.seq}, ${r.count} entries${r.witness ? `; witness ${r.witness}` : ''}`);
    out(`${r.seq}:${r.hash}`);
    return 0;
  },
};

const checkpointRotateCommand: Command = {
  name: 'checkpoint rotate',
  usage: 'checkpoint rotate --new-key FILE    records a rotation to FILE signed by the configured key and countersigned by the new one; then set CHECKPOINT_KEY_FILE=FILE',
  async run(ctx, args, out) {
    const file = args.flags['new-key'];
    if (typeof file !== 'string') {
      out(`usage: ${this.usage}`);
      return 2;
    }
    await ctx.db.migrate.latest();
    try {
      const r = await rotateCheckpointKey(ctx.db, ctx.cfg, file);
      out(`checkpoint key rotated: ${r.oldKeyId.slice(0, 16)} → ${r.newKeyId.slice(0, 16)}; witness ${r.witness}. Now set CHECKPOINT_KEY_FILE=${file} and restart.`);
      return 0;
    } catch (e) {
      if (e instanceof ConfigError) {
        out(`checkpoint rotate: ${e.message}`);
        return 2;
      }
      throw e;
    }
  },
};

const rotateCommand: Command = {
  name: 'rotate-subject-key',
  usage: 'rotate-subject-key    re-encrypts subject ciphertexts from SUBJECT_ENC_KEY_PREVIOUS to SUBJECT_ENC_KEY (idempotent)',
  async run(ctx, args, out) {
    if (!ctx.cfg.subjectEncKeyPrevious) {
      out('rotate-subject-key: set SUBJECT_ENC_KEY_PREVIOUS to the old key and SUBJECT_ENC_KEY to the new one');
      return 2;
    }
    const batch = typeof args.flags.batch === 'string' ? Math.max(1, Number(args.flags.batch) || 1000) : 1000;
    const r = await withAdminDb(ctx, (db) => rotateSubjectKey(db, ctx.cfg, { batch }));
    out(`re-encrypted ${r.queryLogs} query log subjects and ${r.queryRequests} request forms under the new key${r.sourceRecords ? `, and ${r.sourceRecords} reconciliation source records` : ''}`);
    return 0;
  },
};

export const queries: Capability = {
  name: 'queries',
  access: [...access, ...batchAccess],
  nav,
  homePanels,
  register(r, ctx) {
    register(r, ctx);
    registerBatches(r, ctx);
  },
  jobs: [verifyLogJob, checkpointJob],
  commands: [verifyCommand, rotateCommand, checkpointKeyCommand, checkpointNowCommand, checkpointRotateCommand],
  seedDemo: seedDemoQueries,
};
