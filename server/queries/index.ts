// The queries capability (clause 4(一)): query request forms, the tamper-evident query log,
// subject protection, service tokens; jobs verify-log and retention; commands verify-log and
// rotate-subject-key; demo entries for seed-demo.
import type { Capability, Command } from '../capabilities.ts';
import type { JobDef } from '../../jobs/registry.ts';
import { dayPeriod } from '../../jobs/periods.ts';
import { recordEvent, SYSTEM_ACTOR } from '../events/service.ts';
import { verifyChain } from './chain.ts';
import { purgeExpired, rotateSubjectKey } from './service.ts';
import { access } from './access.ts';
import { register } from './routes.ts';
import { seedDemoQueries } from './demo.ts';

export const verifyLogJob: JobDef = {
  name: 'verify-log',
  cron: '30 2 * * *',
  ...dayPeriod,
  async run(ctx) {
    const r = await verifyChain(ctx.db);
    await recordEvent(ctx.db, SYSTEM_ACTOR, { action: 'query-log.verify', outcome: r.ok ? 'ok' : 'failed', targetType: 'query_log', targetId: r.ok ? null : r.badId, detail: r.ok ? { count: r.count, headSeq: r.headSeq, headHash: r.headHash } : { badSeq: r.badSeq, reason: r.reason } });
    if (!r.ok) throw new Error(`query log chain broken at entry ${r.badId ?? '(missing)'} (seq ${r.badSeq}): ${r.reason}`);
    return { count: r.count, headSeq: r.headSeq, headHash: r.headHash };
  },
};

export const retentionJob: JobDef = {
  name: 'retention',
  cron: '45 2 * * *',
  ...dayPeriod,
  run: (ctx) => purgeExpired(ctx.db, ctx.cfg),
};

const verifyCommand: Command = {
  name: 'verify-log',
  usage: 'verify-log    checks the whole query-log chain; exit 0 and the head hash, or exit 1 naming the first bad entry',
  async run(ctx, _args, out) {
    await ctx.db.migrate.latest();
    const r = await verifyChain(ctx.db);
    if (r.ok) {
      out(`query log intact: ${r.count} entries verified${r.fromCheckpoint ? ` from checkpoint seq ${r.fromCheckpoint.seq}` : ''}; head seq ${r.headSeq}`);
      out(r.headHash);
      return 0;
    }
    out(`query log BROKEN: first bad entry id ${r.badId ?? '(missing)'} (seq ${r.badSeq}): ${r.reason}`);
    process.stderr.write(`bad entry id ${r.badId ?? 'none'}\n`);
    return 1;
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
    const r = await rotateSubjectKey(ctx.db, ctx.cfg, { batch });
    out(`re-encrypted ${r.queryLogs} query log subjects and ${r.queryRequests} request forms under the new key`);
    return 0;
  },
};

export const queries: Capability = {
  name: 'queries',
  access,
  register,
  jobs: [verifyLogJob, retentionJob],
  commands: [verifyCommand, rotateCommand],
  seedDemo: seedDemoQueries,
};
