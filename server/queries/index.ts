// The queries capability (clause 4(一)): query request forms, the tamper-evident query log,
// subject protection, service tokens, signed checkpoints; jobs verify-log, retention and checkpoint;
// commands verify-log, rotate-subject-key and checkpoint …; demo entries for seed-demo.
import fs from 'node:fs';
import type { Capability, CliArgs, Command } from '../capabilities.ts';
import type { JobDef } from '../../jobs/registry.ts';
import { dayPeriod, hourPeriod } from '../../jobs/periods.ts';
import { ConfigError } from '../config.ts';
import { withAdminDb } from '../db.ts';
import { recordEvent, SYSTEM_ACTOR, verifyEvents, type EventBreak } from '../events/service.ts';
import { MAX_BREAKS } from './chain.ts';
import { hourlyCheckpoint, parseHead, publicKeyPem, recordCheckpoint, rotateCheckpointKey, signerFor, verifyLog, type CheckpointSettings } from './checkpoints.ts';
import { purgeExpired, rotateSubjectKey } from './service.ts';
import { verifyCiphertexts } from './ciphertexts.ts';
import { access } from './access.ts';
import { register } from './routes.ts';
import { seedDemoQueries } from './demo.ts';

/** The configured witness directory, checked by the daily job when checkpoints are signed. */
const ownWitness = (cfg: CheckpointSettings): string[] => (cfg.CHECKPOINT_KEY_FILE && cfg.WITNESS_DIR && fs.existsSync(cfg.WITNESS_DIR) ? [cfg.WITNESS_DIR] : []);

/** How an event-chain break reads beside the query log's. */
const eventBreakText = (b: EventBreak): string => `system event ${b.id != null ? `id ${b.id}` : '(missing)'}: ${b.reason}`;

export const verifyLogJob: JobDef = {
  name: 'verify-log',
  cron: '30 2 * * *',
  ...dayPeriod,
  async run(ctx) {
    const r = await verifyLog(ctx.db, ctx.cfg, { witness: ownWitness(ctx.cfg) });
    // Every ciphertext must open under its own entry, and the admin and security events are chained too.
    const ciphers = await verifyCiphertexts(ctx.db, ctx.cfg, { maxReported: 3 });
    const ev = await verifyEvents(ctx.db);
    const first = r.breaks[0];
    const c = r.chain;
    const ok = r.ok && c.ok && !ciphers.badCount && ev.ok;
    await recordEvent(ctx.db, SYSTEM_ACTOR, { action: 'query-log.verify', outcome: ok ? 'ok' : 'failed', targetType: 'query_log', targetId: first?.id ?? ciphers.bad[0]?.id ?? null,
      detail: ok && c.ok ? { count: c.count, headSeq: c.headSeq, headHash: c.headHash, checkpoints: r.checkpoints.total, events: ev.count } : { badSeq: first?.seq ?? null, reason: first?.reason ?? '', breaks: r.breaks.length, ciphertexts: ciphers.badCount, events: ev.breaks.length } });
    if (!r.ok || !c.ok) throw new Error(`query log broken at entry ${first?.id ?? '(missing)'} (seq ${first?.seq ?? '?'}): ${first?.reason}${r.breaks.length > 1 ? ` (and ${r.breaks.length - 1} more)` : ''}`);
    if (ciphers.badCount) throw new Error(`query log ciphertexts do not open under their entries: ${ciphers.bad.map((b) => `entry ${b.id} (seq ${b.seq}): ${b.reason}`).join('; ')}${ciphers.badCount > 3 ? ` (and ${ciphers.badCount - 3} more)` : ''}`);
    if (!ev.ok) throw new Error(`system events broken: ${ev.breaks.map(eventBreakText).slice(0, 3).join('; ')}${ev.breaks.length > 3 ? ` (and ${ev.breaks.length - 3} more)` : ''}`);
    return { count: c.count, headSeq: c.headSeq, headHash: c.headHash, checkpoints: r.checkpoints.total, events: ev.count };
  },
};

export const retentionJob: JobDef = {
  name: 'retention',
  cron: '45 2 * * *',
  ...dayPeriod,
  // Deletes from query_logs: under DATABASE_ADMIN_URL when set (the app's own account may not).
  run: (ctx) => withAdminDb(ctx, (db) => purgeExpired(db, ctx.cfg)),
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
    let r;
    try {
      r = await verifyLog(ctx.db, ctx.cfg, { publicKeyFile, witness, heads: heads as Array<{ seq: number; hash: string }> });
    } catch (e) {
      if (e instanceof ConfigError) {
        out(`verify-log: ${e.message}`);
        return 2;
      }
      throw e;
    }
    const c = r.chain;
    const ev = await verifyEvents(ctx.db);
    // With the subject keys present, every ciphertext must open under its own entry and match its HMAC.
    const ciphers = await verifyCiphertexts(ctx.db, ctx.cfg, { maxReported: MAX_BREAKS });
    if (r.ok && c.ok && ciphers.badCount) {
      const [b1, ...more] = ciphers.bad;
      out(`query log BROKEN: first bad entry id ${b1.id} (seq ${b1.seq}): ${b1.reason}`);
      for (const b of more) out(`  also: entry id ${b.id} (seq ${b.seq}): ${b.reason}`);
      for (const b of ev.breaks) out(`  also: ${eventBreakText(b)}`);
      out(`${ciphers.badCount + ev.breaks.length} breaks in all (ciphertexts: ${ciphers.badCount}; the chain itself verified: ${c.count} entries)`);
      process.stderr.write(`bad entry id ${b1.id}\n`);
      return 1;
    }
    if (r.ok && c.ok && !ev.ok) {
      const [e1, ...more] = ev.breaks;
      out(`system events BROKEN: first bad ${eventBreakText(e1)}`);
      for (const b of more) out(`  also: ${eventBreakText(b)}`);
      out(`${ev.breaks.length} break${ev.breaks.length > 1 ? 's' : ''} in all (the query log itself verified: ${c.count} entries)`);
      return 1;
    }
    if (r.ok && c.ok) {
      out(`query log intact: ${c.count} entries verified${c.fromCheckpoint ? ` from checkpoint seq ${c.fromCheckpoint.seq}` : ''}; head seq ${c.headSeq}`);
      out(r.keyId ? `checkpoints: ${r.checkpoints.total} verified with key ${r.keyId.slice(0, 16)}` : `checkpoints: ${r.checkpoints.total} recorded, unsigned: not verified (no CHECKPOINT_KEY_FILE or --public-key)`);
      if (r.witness.files.length) out(`witness: ${r.witness.lines} lines in ${r.witness.files.length} files verified`);
      if (r.heads) out(`printed heads: ${r.heads} verified`);
      out(`subject ciphertexts: ${ciphers.count} opened under their entries${ciphers.unbound ? ` (${ciphers.unbound} legacy, not yet bound: rotate-subject-key binds them)` : ''}`);
      out(`system events intact: ${ev.count} events verified`);
      out(c.headHash);
      return 0;
    }
    const [first, ...rest] = r.breaks;
    out(`query log BROKEN: first bad entry id ${first.id ?? '(missing)'} (seq ${first.seq ?? '?'}): ${first.reason}`);
    for (const b of rest) out(`  also: ${b.id != null ? `entry id ${b.id} ` : ''}${b.seq != null ? `(seq ${b.seq})` : ''}: ${b.reason}`);
    for (const b of ciphers.bad) out(`  also: entry id ${b.id} (seq ${b.seq}): ${b.reason}`);
    for (const b of ev.breaks) out(`  also: ${eventBreakText(b)}`);
    out(`${r.breaks.length + ciphers.badCount + ev.breaks.length} break${r.breaks.length + ciphers.badCount + ev.breaks.length > 1 ? 's' : ''} in all${r.breaks.length >= MAX_BREAKS ? ' (listing stopped there)' : ''}${r.keyId ? '' : '; checkpoint signatures unsigned: not verified'}`);
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
    out(`re-encrypted ${r.queryLogs} query log subjects and ${r.queryRequests} request forms under the new key`);
    return 0;
  },
};

export const queries: Capability = {
  name: 'queries',
  access,
  register,
  jobs: [verifyLogJob, retentionJob, checkpointJob],
  commands: [verifyCommand, rotateCommand, checkpointKeyCommand, checkpointNowCommand, checkpointRotateCommand],
  seedDemo: seedDemoQueries,
};
