// `nhi-audit reconcile import --source S --unit CODE --period YYYY-MM --file F [--json] [--report F.xlsx]`:
// imports a source file as the server's operator (every agency). Exit 0 imported, 1 the file was
// refused (each row, column and reason on stderr, or the problem as JSON), 2 bad arguments, 3 the
// same file was already imported for the source.
import fs from 'node:fs';
import path from 'node:path';
import type { CliArgs, Command } from '../capability.ts';
import type { JobContext } from '../../jobs/registry.ts';
import { Problem } from '../problem.ts';
import { now } from '../time.ts';
import * as svc from './service.ts';
import { writeRefusalReport } from './report.ts';
import { OPERATOR } from '../actor.ts';

const USAGE = 'reconcile import --source S --unit CODE --period YYYY-MM --file F [--json] [--report ERRORS.xlsx]';

async function importCommand(ctx: JobContext, args: CliArgs, out: (line: string) => void): Promise<number> {
  const err = (s: string) => process.stderr.write(s + '\n');
  const f = args.flags;
  const json = f.json === true || f.json === 'true';
  const missing = ['source', 'unit', 'period', 'file'].filter((k) => typeof f[k] !== 'string' || !(f[k] as string).trim());
  const report = typeof f.report === 'string' ? path.resolve(f.report) : null;
  const fail = (p: Problem, code: number): number => {
    if (json) out(JSON.stringify(p.toJSON()));
    else {
      err(`reconcile import: ${p.detail ?? p.title}`);
      for (const e of p.errors) err(`  ${e.field}: ${e.message}`);
      if (p instanceof svc.ImportRefused && p.errorCount > p.errors.length) err(`  …and ${p.errorCount - p.errors.length} more`);
    }
    return code;
  };
  if (missing.length) return fail(new Problem(400, 'validation', 'Validation failed', `usage: ${USAGE}`, missing.map((k) => ({ field: k, message: `--${k} is required` }))), 2);
  if (f.report !== undefined && (!report || !report.endsWith('.xlsx'))) return fail(new Problem(400, 'validation', 'Validation failed', '--report needs a file name ending in .xlsx', [{ field: 'report', message: '--report ERRORS.xlsx' }]), 2);
  const file = path.resolve(f.file as string);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return fail(new Problem(400, 'validation', 'Validation failed', `cannot read ${file}`, [{ field: 'file', message: '找不到檔案或無法讀取' }]), 2);
  }
  if (!stat.isFile()) return fail(new Problem(400, 'validation', 'Validation failed', `${file} is not a file`, [{ field: 'file', message: '不是檔案' }]), 2);
  // The size is known before a byte is read: a file over the limit is never read.
  if (stat.size > ctx.cfg.RECONCILE_MAX_FILE_MB * 1048576) return fail(svc.tooLarge(ctx.cfg), 1);
  await ctx.db.migrate.latest();
  try {
    const r = await svc.importFile(ctx.db, ctx.cfg, OPERATOR, {
      source: f.source as string, unit: f.unit as string, period: f.period as string, file: { fileName: path.basename(file), bytes: fs.readFileSync(file) }, via: 'cli',
    });
    if (json) out(JSON.stringify(r));
    else {
      out(`imported ${r.fileName} as import ${r.id}: source ${r.source} (mapping version ${r.mappingVersion}), unit ${r.unit}, period ${r.period}`);
      out(`rows ${r.rows}, records ${r.records}${r.kind === 'counts' ? ` (queries counted ${r.counted})` : ''}, unknown accounts ${r.unknownAccounts}`);
      out(`sha256 ${r.sha256}`);
    }
    return 0;
  } catch (e) {
    if (e instanceof svc.ImportRefused) {
      if (report) {
        fs.mkdirSync(path.dirname(report), { recursive: true });
        const stream = fs.createWriteStream(report);
        const done = new Promise<void>((resolve, reject) => stream.on('finish', resolve).on('error', reject));
        await writeRefusalReport(stream, { ...e.context, at: now(), errorCount: e.errorCount, errors: e.rowErrors });
        await done;
      }
      const code = fail(e, 1);
      if (report && !json) err(`errors written to ${report}`);
      return code;
    }
    if (e instanceof Problem) return fail(e, e.status === 409 ? 3 : e.status === 413 ? 1 : 2);
    throw e;
  }
}

const WITHDRAW_USAGE = 'reconcile withdraw --import ID --reason TEXT [--json]';

/**
 * `reconcile withdraw`: withdraws an import as the server's operator (its records kept, out of
 * matching; the month reconciled again). Exit 0 withdrawn, 2 bad arguments or reason, 3 already
 * withdrawn, 4 no such import.
 */
async function withdrawCommand(ctx: JobContext, args: CliArgs, out: (line: string) => void): Promise<number> {
  const f = args.flags;
  const json = f.json === true || f.json === 'true';
  const fail = (p: Problem, code: number): number => {
    if (json) out(JSON.stringify(p.toJSON()));
    else {
      process.stderr.write(`reconcile withdraw: ${p.detail ?? p.title}\n`);
      for (const e of p.errors) process.stderr.write(`  ${e.field}: ${e.message}\n`);
    }
    return code;
  };
  const id = typeof f.import === 'string' && /^\d+$/.test(f.import) ? Number(f.import) : null;
  const reason = typeof f.reason === 'string' ? f.reason : '';
  const missing = [...(id == null ? [{ field: 'import', message: '--import ID (a number) is required' }] : []), ...(!reason.trim() ? [{ field: 'reason', message: '--reason TEXT is required' }] : [])];
  if (missing.length) return fail(new Problem(400, 'validation', 'Validation failed', `usage: ${WITHDRAW_USAGE}`, missing), 2);
  await ctx.db.migrate.latest();
  try {
    const r = await svc.withdrawImport(ctx.db, ctx.cfg, OPERATOR, id!, { reason });
    if (json) out(JSON.stringify(r));
    else {
      out(`withdrew import ${r.id} (${r.fileName}): source ${r.source}, unit ${r.unit}, period ${r.period}; its records are kept but no longer matched`);
      if (r.rerun) out(`reconciled again: run ${r.rerun.runId} (generation ${r.rerun.generation})`);
    }
    return 0;
  } catch (e) {
    if (e instanceof Problem) return fail(e, e.status === 409 ? 3 : e.status === 404 ? 4 : 2);
    throw e;
  }
}

export const importCommands: Command[] = [
  { name: 'reconcile import', usage: USAGE, run: importCommand },
  { name: 'reconcile withdraw', usage: WITHDRAW_USAGE, run: withdrawCommand },
];
