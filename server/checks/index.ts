// Monthly spot checks (clause 5(一)) and investigations (clause 5(二)).
import fs from 'node:fs';
import path from 'node:path';
import type { Capability, CliArgs, Command } from '../capability.ts';
import type { JobContext, JobDef } from '../../jobs/registry.ts';
import { previousMonthPeriod } from '../../jobs/periods.ts';
import { runJob } from '../../jobs/runner.ts';
import { agencyByCode } from '../accounts/units.ts';
import { localMonth, monthRange, now, previousMonth, setClock } from '../time.ts';
import { access, homePanels, nav, register } from './routes.ts';
import { MONTHLY_SAMPLING_JOB, verifyCheck } from './sampling.ts';
import { monthlySamplingJob } from './job.ts';
import { registerDraw, drawAccess, drawNav } from './draw-routes.ts';
import * as svc from './service.ts';
import { sheetHeader, writeMonthlySheetXlsx, SheetInputError } from '../../reports/monthly-sheet.ts';
import { cliWorkbookFormat } from '../../reports/cells.ts';
import type { SignedInActor } from '../actor.ts';

export const MONTHLY_SAMPLING = MONTHLY_SAMPLING_JOB;

export { monthlySamplingJob } from './job.ts';

const flag = (args: CliArgs, name: string): string | null => (typeof args.flags[name] === 'string' ? (args.flags[name] as string) : null);

const verifyCommand: Command = {
  name: 'checks verify',
  usage: 'checks verify --period YYYY-MM --unit CODE',
  async run(ctx: JobContext, args, out) {
    const period = flag(args, 'period');
    const code = flag(args, 'unit');
    if (!period || !code) {
      out(`usage: ${this.usage}`);
      return 2;
    }
    const bad = previousMonthPeriod.validatePeriod(period, now());
    if (bad) {
      out(`--period ${period}: ${bad} (expected YYYY-MM)`);
      return 2;
    }
    await ctx.db.migrate.latest();
    const found = await agencyByCode(ctx.db, code);
    if ('problem' in found) {
      out(`--unit ${code}: ${found.problem}`);
      return 2;
    }
    const { agency } = found;
    const check = await ctx.db('checks').where({ unit_id: agency.id, period }).orderBy('generation', 'desc').first();
    if (!check) {
      out(`no check recorded for ${agency.code} ${period}: run "job run ${MONTHLY_SAMPLING} --period ${period}" first`);
      return 1;
    }
    const r = await verifyCheck(ctx.db, ctx.cfg, check, agency);
    for (const line of r.lines) out(line);
    return r.ok ? 0 : 1;
  },
};

const sheetCommand: Command = {
  name: 'report monthly-sheet',
  usage: 'report monthly-sheet --month YYYY-MM --unit CODE [--format xlsx|ods] --out F.xlsx|F.ods',
  async run(ctx, args, out) {
    const month = flag(args, 'month');
    const code = flag(args, 'unit');
    const file = flag(args, 'out');
    if (!month || !code || !file) {
      out(`usage: ${this.usage}`);
      return 2;
    }
    const fmt = cliWorkbookFormat(args.flags.format, file);
    if ('error' in fmt) {
      out(fmt.error);
      return 2;
    }
    await ctx.db.migrate.latest();
    try {
      const h = await sheetHeader(ctx.db, code, month, ctx.cfg);
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      const r = await writeMonthlySheetXlsx(ctx.db, h, { filename: file }, fmt.format);
      out(`monthly sheet ${h.agency.code} ${month}: ${r.rows} entries${h.check ? `, ${h.check.sampleSize} sampled` : ', not sampled yet'} → ${file}`);
      return 0;
    } catch (e) {
      if (e instanceof SheetInputError) {
        out(`--${e.field}: ${e.message}`);
        return 2;
      }
      throw e;
    }
  },
};

/**
 * Demo data: runs the sampling for the past months that have entries; all but the latest are
 * completed (verdicts given, signed off); the latest stays open with one improper item and its
 * open investigation. Does little when there are no entries yet.
 */
async function seedDemo(ctx: JobContext, opts: { random: () => number }) {
  const current = localMonth(now());
  const months: string[] = [];
  for (let m = previousMonth(current), i = 0; i < 12; i++, m = previousMonth(m)) months.push(m);
  months.reverse();
  const withEntries: string[] = [];
  for (const m of months) {
    const [s, e] = monthRange(m);
    if (await ctx.db('query_logs').where('queried_at', '>=', s).andWhere('queried_at', '<', e).first('id')) withEntries.push(m);
  }
  const actorOf = async (userId: number): Promise<SignedInActor> => {
    const u = await ctx.db('users').where({ id: userId }).first('id', 'account', 'name', 'unit_id', 'rank');
    const roles = await ctx.db('user_roles').where({ user_id: userId }).pluck('role');
    return { id: Number(u.id), account: u.account, name: u.name, unitId: Number(u.unit_id), roles, rank: u.rank, ip: null };
  };
  let investigationOpened = false;
  // Demo history should look as it would have happened: each month sampled at 02:00 on the 1st of
  // the next month and checked within that month (not all "late" because seeded today).
  const realStart = Date.now();
  const at = (instant: number) => setClock(() => instant + (Date.now() - realStart));
  try {
    await seedMonths();
  } finally {
    setClock(null);
  }
  return [];

  async function seedMonths() {
  for (const [k, m] of withEntries.entries()) {
    const [, monthEnd] = monthRange(m);
    const latest0 = k === withEntries.length - 1;
    if (!latest0) at(monthEnd + 2 * 3_600_000);
    const outcome = await runJob(ctx, monthlySamplingJob, { period: m, trigger: 'manual' });
    if (!latest0) at(monthEnd + 9 * 86_400_000 + 10 * 3_600_000);
    if (outcome.status !== 'ran') continue;
    const latest = k === withEntries.length - 1;
    const checks = await ctx.db('checks').where({ period: m, status: 'open' }).select('id', 'checker_id');
    for (const c of checks) {
      const items = await ctx.db('check_items').where({ check_id: c.id }).orderBy('id').select('id', 'entry_id', 'checker_id');
      if (!items.length || items.some((i: any) => i.checker_id == null)) continue;
      if (latest) {
        if (!investigationOpened) {
          const pick = items[Math.floor(opts.random() * items.length)];
          await svc.setVerdict(ctx.db, await actorOf(Number(pick.checker_id)), Number(c.id), Number(pick.entry_id), { verdict: 'improper', note: '示範：查詢事由與案號不符，疑似非業務需要查詢。' });
          investigationOpened = true;
        }
        continue;
      }
      for (const i of items) await svc.setVerdict(ctx.db, await actorOf(Number(i.checker_id)), Number(c.id), Number(i.entry_id), { verdict: 'proper', note: null });
      if (c.checker_id != null) await svc.signOff(ctx.db, await actorOf(Number(c.checker_id)), Number(c.id));
    }
    setClock(null);
  }
  }
}

export const checks: Capability = {
  name: 'checks',
  access: [...access, ...drawAccess],
  nav: [...nav, ...drawNav],
  homePanels,
  // The draw first: its /checks/draw would otherwise be taken for a check id by /checks/:id.
  register: (r, ctx) => {
    registerDraw(r, ctx);
    register(r, ctx);
  },
  jobs: [monthlySamplingJob],
  commands: [verifyCommand, sheetCommand],
  seedDemo,
};


