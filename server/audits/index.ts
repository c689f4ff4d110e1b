// Audits capability: internal audits (5(三)), retained data and destruction (4(二)1–2), yearly
// link reviews (4(二)3), the audit package (5(四)) and the annual filing workbook (5(五)).
import fs from 'node:fs';
import path from 'node:path';
import type { Capability, CliArgs, Command } from '../capability.ts';
import type { JobContext, JobDef, RunScope } from '../../jobs/registry.ts';
import type { Conn } from '../db.ts';
import { parseJson } from '../db.ts';
import { pendingUnits, recordCovered } from '../../jobs/coverage.ts';
import { dayPeriod, previousYearPeriod } from '../../jobs/periods.ts';
import { agencies, allUnits, subtreeOf, unitByCode } from '../accounts/units.ts';
import { recordEvent, SYSTEM_ACTOR } from '../events/service.ts';
import { verifyWorkbook, writeAnnualWorkbook } from '../../reports/annual.ts';
import { cliWorkbookFormat } from '../../reports/cells.ts';
import { now, yearRange } from '../time.ts';
import { access, homePanels, nav, register } from './routes.ts';
import { awaitExport, pruneExports, startExport } from './exports.ts';
import { yearProblemOf } from './service.ts';
import { seedAuditsDemo } from './demo.ts';

export const ANNUAL_REPORT_JOB = 'annual-report';

/**
 * Agencies owed the year's workbook (issue 17): none built for them by a run of the year, or one
 * built with no data while the agency has entries for the year now.
 */
export async function pendingAnnualAgencies(conn: Conn, year: number): Promise<number[]> {
  const units = await allUnits(conn);
  const ids = units.filter((u) => u.kind === 'agency').map((u) => u.id);
  const [start, end] = yearRange(year);
  return pendingUnits(conn, ANNUAL_REPORT_JOB, String(year), ids, async (emptyIds) => {
    const busy = new Set<number>();
    for (const id of emptyIds) if (await conn('query_logs').whereIn('unit_id', subtreeOf(units, id)).andWhere('queried_at', '>=', start).andWhere('queried_at', '<', end).first('id')) busy.add(id);
    return busy;
  });
}

/**
 * Builds the agencies' workbooks (every agency, or `scope.only`) one after another, then the
 * county-wide one again so it includes them. With no agency to build for, nothing is built: an
 * empty run, not an empty county workbook listed as done.
 */
export async function runAnnualReport(ctx: JobContext, year: number, scope?: RunScope): Promise<unknown> {
  const list = (await agencies(ctx.db)).filter((a) => !scope?.only || scope.only.includes(a.id));
  if (!list.length) return { year, workbooks: [], empty: true };
  const out: Array<{ unit: string; status: string; sha256: string | null }> = [];
  const targets: Array<{ id: number | null; code: string }> = [...list.map((a) => ({ id: a.id, code: a.code })), { id: null, code: 'county' }];
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    const started = await startExport(ctx, SYSTEM_ACTOR, { kind: 'annual', year, unitId: t.id });
    const row = await awaitExport(ctx.db, started.id);
    out.push({ unit: t.code, status: row?.status ?? 'missing', sha256: row?.sha256 ?? null });
    if (scope && t.id != null && row?.status === 'done') {
      const noData = Boolean(parseJson<{ noData?: boolean }>(row.result, {}).noData);
      await recordCovered(ctx.db, { runId: scope.runId, job: ANNUAL_REPORT_JOB, period: String(year) }, t.id, noData ? 'empty' : 'done');
    }
    ctx.progress?.((i + 1) / targets.length, t.code);
  }
  const failed = out.filter((o) => o.status !== 'done');
  if (failed.length) throw new Error(`annual workbooks failed for ${failed.map((f) => f.unit).join(', ')}`);
  return { year, workbooks: out };
}

export const annualReportJob: JobDef = {
  name: ANNUAL_REPORT_JOB,
  // 2 January, 02:30 Taipei: the previous year's workbooks, ready for filing before February.
  cron: '30 2 2 1 *',
  ...previousYearPeriod,
  pending: (ctx, period) => pendingAnnualAgencies(ctx.db, Number(period)),
  run: (ctx, period, scope) => runAnnualReport(ctx, Number(period), scope),
};

const pruneExportsJob: JobDef = {
  name: 'prune-exports',
  // 03:40 daily Taipei: export files past EXPORT_KEEP_DAYS (filed workbooks kept).
  cron: '40 3 * * *',
  ...dayPeriod,
  run: (ctx) => pruneExports(ctx),
};

const reportAnnual: Command = {
  name: 'report annual',
  usage: 'report annual --year Y [--unit CODE] [--format xlsx|ods] --out F.xlsx|F.ods',
  async run(ctx: JobContext, args: CliArgs, out) {
    const err = (s: string) => process.stderr.write(s + '\n');
    const { year: y, unit, out: file } = args.flags;
    if (typeof y !== 'string' || !/^\d{4}$/.test(y)) {
      err('report annual: --year YYYY is required (western calendar, e.g. 2025)');
      return 2;
    }
    if (typeof file !== 'string') {
      err('report annual: --out F.xlsx (or F.ods) is required');
      return 2;
    }
    const fmt = cliWorkbookFormat(args.flags.format, file);
    if ('error' in fmt) {
      err(`report annual: ${fmt.error}`);
      return 2;
    }
    const year = Number(y);
    const bad = yearProblemOf(year);
    if (bad) {
      err(`report annual: --year ${y}: ${year > new Date(now()).getFullYear() ? 'is in the future' : 'is not valid'} (${bad})`);
      return 2;
    }
    await ctx.db.migrate.latest();
    let unitId: number | null = null;
    if (unit !== undefined) {
      if (typeof unit !== 'string') {
        err('report annual: --unit needs a unit code');
        return 2;
      }
      const u = await unitByCode(ctx.db, unit);
      if (!u) {
        err(`report annual: unknown unit ${unit}`);
        return 2;
      }
      unitId = u.kind === 'planning' ? null : u.id;
    }
    const r = await writeAnnualWorkbook(ctx.db, { year, unitId, out: path.resolve(file), countyName: ctx.cfg.COUNTY_NAME, checkpoints: ctx.cfg });
    await recordEvent(ctx.db, SYSTEM_ACTOR, { action: 'export-finished', targetType: 'export', targetId: `cli:annual:${year}`, unitId, detail: { kind: 'annual', year, sha256: r.sha256, via: 'cli' } });
    for (const s of r.sheets) out(`${s.name}\t${s.rows}\t${s.sha256}`);
    out(r.noData ? `${year}: no data for the year; workbook written to ${file}` : `written ${file} (${r.counts.entries} entries)`);
    out(`sha256 ${r.sha256}`);
    return 0;
  },
};

const reportVerify: Command = {
  name: 'report verify',
  usage: 'report verify FILE',
  async run(_ctx: JobContext, args: CliArgs, out) {
    // The workbook is checked on its own: the cover's sheet hashes against its sheets (.xlsx or .ods).
    const file = args.positional[2];
    if (!file || !fs.existsSync(file)) {
      process.stderr.write(`report verify: ${file ? `no file ${file}` : 'FILE is required'}\n`);
      return 2;
    }
    let r: Awaited<ReturnType<typeof verifyWorkbook>>;
    try {
      r = await verifyWorkbook(file);
    } catch (e) {
      process.stderr.write(`report verify: ${file} is not a readable workbook (${(e as Error).message})\n`);
      return 1;
    }
    for (const s of r.sheets) out(`${s.actual === s.expected ? 'ok ' : 'BAD'}\t${s.name}\t${s.expected}${s.actual === s.expected ? '' : `\tactual ${s.actual ?? '(sheet missing)'}`}`);
    out(r.ok ? `${r.format} ok: ${r.sheets.length} sheets match the cover` : `${r.format} FAILED: ${r.sheets.length ? 'a sheet does not match the cover' : 'no cover with sheet hashes'}`);
    return r.ok ? 0 : 1;
  },
};

export const audits: Capability = {
  name: 'audits',
  access,
  register,
  nav,
  homePanels,
  jobs: [annualReportJob, pruneExportsJob],
  commands: [reportAnnual, reportVerify],
  seedDemo: seedAuditsDemo,
};
