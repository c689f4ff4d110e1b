// HTTP for reconciliation results (issue 16): the runs of each agency and period within reach, one
// run with its findings, and a re-run; the same as JSON under /api/v1/reconciliations. And the
// command `reconcile run`. Parse, authorise, call results.ts, render.
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import type { CliArgs, Command } from '../capability.ts';
import type { AccessEntry, Routes } from '../web/access.ts';
import { renderPage, type NavEntry } from '../web/views.ts';
import { parseForm, pathId, formErrors } from '../web/validate.ts';
import { parseOr400, Problem } from '../problem.ts';
import { localMonth, now, parseRocMonth, previousMonth, ROC_MONTH_HINT, rocDateTime, rocInput, rocMonth } from '../time.ts';
import { agencyByCode } from '../accounts/units.ts';
import { FINDING_KINDS, RESULT_READERS, RESULT_RUNNERS, listRuns, rerun, runDetail, runReconciliation, type FindingKind } from './results.ts';

export const resultsAccess: AccessEntry[] = [
  { method: 'GET', path: '/api/v1/reconciliations', who: RESULT_READERS, units: 'subtree', note: 'current reconciliation run of each agency and period within reach (county-wide for the planning department): figures, coverage, SHA-256' },
  { method: 'GET', path: '/api/v1/reconciliations/:id', who: RESULT_READERS, units: 'subtree', note: 'one run with its sources and a page of findings (kind, after, limit); 404 outside reach' },
  { method: 'POST', path: '/api/v1/reconciliations', who: RESULT_RUNNERS, units: 'subtree', note: 're-run {unit, period} within reach: a new generation, the earlier kept; unlogged records join the month\'s check' },
  { method: 'GET', path: '/reconciliations', who: RESULT_READERS, units: 'subtree', note: 'reconciliation results page' },
  { method: 'GET', path: '/reconciliations/:id', who: RESULT_READERS, units: 'subtree', note: 'one run and its findings (subjects masked)' },
  { method: 'POST', path: '/reconciliations', who: RESULT_RUNNERS, units: 'subtree', note: 're-run form' },
];

const listQuery = z.object({ period: z.string().max(7).optional(), unit: z.string().max(32).optional() });
const detailQuery = z.object({
  kind: z.enum(FINDING_KINDS, { message: 'kind 須為 unlogged、unconfirmed、count-difference 或 unknown-account' }).optional(),
  after: z.coerce.number({ message: 'after 須為數字' }).int().min(0, 'after 須為 0 以上').optional(),
  limit: z.coerce.number({ message: 'limit 須為數字' }).int().min(1, 'limit 須介於 1 至 1000').max(1000, 'limit 須介於 1 至 1000').optional(),
});
const runBody = z.object({
  unit: z.string({ message: '請填機關代碼' }).trim().min(1, '請填機關代碼').max(32),
  period: z.string({ message: '請填期間（YYYY-MM）' }).trim().regex(/^\d{4}-(0[1-9]|1[0-2])$/, '期間格式應為 YYYY-MM'),
});


export const KIND_LABELS: Record<FindingKind, string> = { unlogged: '未登錄（來源有紀錄、日誌無登錄）', unconfirmed: '未確認（日誌有登錄、完整來源無紀錄）', 'count-difference': '筆數差異', 'unknown-account': '未知帳號' };
export const TRIGGER_LABELS: Record<string, string> = { import: '匯入後自動', manual: '人工重新對帳', demo: '示範資料', withdrawal: '撤回匯入後' };
const CHECK_NOTES: Record<string, string> = { 'not-drawn': '本月查核尚未抽樣：抽樣時將一併列入。', 'signed-off': '本月查核已簽核，未登錄紀錄未能列入該查核，請由稽核人員處理。', superseded: '本月查核已重新抽樣。' };

const viewData = { KIND_LABELS, TRIGGER_LABELS, rocDateTime: (ms: number) => rocDateTime(Number(ms)) };

/** The menu entries of this part (server/capability.ts `nav`). */
export const resultsNav: NavEntry[] = [
  { href: '/reconciliations', label: '對帳結果', roles: RESULT_READERS, order: 46 },
];

export function registerResults(r: Routes, ctx: AppContext): void {
  const { db, cfg } = ctx;

  r.get('/api/v1/reconciliations', async (req, res) => {
    res.json(await listRuns(db, req.actor!, parseOr400(listQuery, req.query)));
  });
  r.get('/api/v1/reconciliations/:id', async (req, res) => {
    const q = parseOr400(detailQuery, req.query);
    res.json((await runDetail(db, req.actor!, pathId(req.params.id), q)).json);
  });
  r.post('/api/v1/reconciliations', async (req, res) => {
    const body = parseOr400(runBody, req.body);
    const out = await rerun(db, cfg, req.actor!, body);
    const d = await runDetail(db, req.actor!, out.runId, { limit: 1 });
    res.status(201).location(`/api/v1/reconciliations/${out.runId}`).json({ ...d.json, findings: undefined, checkItemsAdded: out.checkItemsAdded });
  });

  const showList = async (req: Request, res: Response, extra: { errors?: Record<string, string>; values?: Record<string, string> } = {}, status = 200) => {
    // Periods are typed in the ROC calendar (115/11); 'YYYY-MM' reads too.
    const typed = typeof req.query.period === 'string' ? req.query.period.trim().slice(0, 20) : '';
    const period = typed ? parseRocMonth(typed) ?? undefined : undefined;
    const list = await listRuns(db, req.actor!, { period });
    const errors = { ...(typed && !period ? { filter: ROC_MONTH_HINT } : {}), ...(extra.errors ?? {}) };
    renderPage(res, 'reconcile/results', {
      title: '對帳結果', runs: list.items, period: period ? rocInput(period) : typed, errors, values: extra.values ?? { period: rocInput(previousMonth(localMonth(now()))), unit: '' },
      canRun: req.actor!.roles.some((x) => (RESULT_RUNNERS as readonly string[]).includes(x)), ...viewData,
    }, status);
  };
  r.get('/reconciliations', async (req, res) => showList(req, res));
  r.post('/reconciliations', async (req, res) => {
    const values = { unit: String(req.body?.unit ?? ''), period: String(req.body?.period ?? '') };
    const month = parseRocMonth(values.period);
    const parsed = parseForm(runBody, { ...values, period: month ?? values.period });
    if (!parsed.ok) return showList(req, res, { errors: month ? parsed.errors : { ...parsed.errors, period: ROC_MONTH_HINT }, values }, 400);
    try {
      const out = await rerun(db, cfg, req.actor!, parsed.value);
      if (req.session) req.session.flash = { kind: 'ok', text: `已完成對帳：相符 ${out.figures.matched}、未登錄 ${out.figures.unlogged}、未確認 ${out.figures.unconfirmed}；列入查核 ${out.checkItemsAdded} 筆。${out.checkNote ? CHECK_NOTES[out.checkNote] ?? '' : ''}` };
      res.redirect(303, `/reconciliations/${out.runId}`);
    } catch (e) {
      if (e instanceof Problem && (e.status === 400 || e.status === 403)) {
        return showList(req, res, { errors: formErrors(e, 'unit'), values }, e.status);
      }
      throw e;
    }
  });
  r.get('/reconciliations/:id', async (req, res) => {
    const q = detailQuery.safeParse(req.query);
    const page = q.success ? q.data : {};
    const d = await runDetail(db, req.actor!, pathId(req.params.id), { ...page, limit: page.limit ?? 200 });
    renderPage(res, 'reconcile/run', { title: `對帳紀錄：${d.run.unit_name} ${rocMonth(d.run.period)}`, d, kind: page.kind ?? '', ...viewData });
  });
}

const flag = (args: CliArgs, name: string): string | null => (typeof args.flags[name] === 'string' ? (args.flags[name] as string) : null);

/** `reconcile run --unit CODE --period YYYY-MM`: re-runs the matching of an agency's period. */
export const runCommand: Command = {
  name: 'reconcile run',
  usage: 'reconcile run --unit CODE --period YYYY-MM',
  async run(ctx, args, out) {
    const code = flag(args, 'unit');
    const period = flag(args, 'period');
    if (!code || !period) {
      out(`usage: ${this.usage}`);
      return 2;
    }
    if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(period) || period > localMonth(now())) {
      out(`--period ${period}: expected a past or current month as YYYY-MM`);
      return 2;
    }
    await ctx.db.migrate.latest();
    const found = await agencyByCode(ctx.db, code);
    if ('problem' in found) {
      out(`--unit ${code}: ${found.problem}`);
      return 2;
    }
    const { agency } = found;
    const r = await runReconciliation(ctx.db, ctx.cfg, { agency, period, trigger: 'manual' });
    const f = r.figures;
    out(`reconciliation ${agency.code} ${period} generation ${r.generation}: ${f.sources} sources, ${f.sourceRecords} source records, ${f.entries} entries; matched ${f.matched}, unlogged ${f.unlogged}, unconfirmed ${f.unconfirmed}, count differences ${f.countDifferences}, unknown accounts ${f.unknownAccounts}; ${r.checkItemsAdded} added to the check${r.checkNote ? ` (${r.checkNote})` : ''}`);
    out(`sha256 ${r.sha256}`);
    return 0;
  },
};
