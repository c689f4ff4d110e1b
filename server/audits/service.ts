// Audits: internal audits (5(三)), retained data and destruction (4(二)1–2), link reviews
// (4(二)3), annual filings (5(五)) and the audit package (5(四)). No Express here.
import { z } from 'zod';
import type { Config } from '../config.ts';
import type { Conn, Db } from '../db.ts';
import { isUniqueViolation, parseJson } from '../db.ts';
import { allUnits, subtreeOf, agencyIn, type UnitRow } from '../accounts/units.ts';
import { reachOf as reachByOffice } from '../accounts/reach.ts';
import type { Role } from '../accounts/roles.ts';
import { recordEvent, type EventActor } from '../events/service.ts';
import { parseOr400, conflict, fieldError, forbidden, notFound, Problem, validation } from '../problem.ts';
import { isIsoDate, localDate, monthRange, now, ROC_DATE_HINT, rocDateTime, rocPeriod, startOfLocalDay, yearRange } from '../time.ts';
import * as repo from './repo.ts';
import {
  applyResults, buildChecklist, checkOnTime, filedOnTime, halfProblem, halfRange, keepUntil, missingResults, yearProblem,
  type ChecklistItem, type Evidence, type ItemResult,
} from './rules.ts';
import type { Actor } from '../actor.ts';

const actorOf = (w: Actor): EventActor => ({ id: w.id, account: w.account, ip: w.ip ?? null });

export const AUDIT_ROLES: Role[] = ['auditor', 'ethics', 'it'];
export const EXPORT_ROLES: Role[] = ['planning_admin', 'admin', 'auditor', 'ethics', 'it'];
export const LINK_ROLES: Role[] = ['planning_admin', 'admin'];
export const FILING_ROLES: Role[] = ['admin', 'auditor'];

// --- reach -------------------------------------------------------------------------------------

export interface Reach { all: boolean; unitIds: number[]; units: UnitRow[]; home: UnitRow | undefined }

/** The offices whose reach is their whole agency wherever they sit in it: they audit it. */
const OVERSIGHT: readonly string[] = ['auditor', 'ethics'];

/**
 * Need to know (accounts/reach.ts): auditors and ethics reach their agency and what lies under it,
 * the planning department's admins, auditors and ethics the county. Everyone else keeps to their
 * own unit's subtree within that, as the delegation layers do: a subordinate unit's admin does not
 * review its agency's links or file its annual workbook.
 */
export async function reachOf(conn: Conn, who: { unitId: number; roles: readonly string[] }): Promise<Reach> {
  const units = await allUnits(conn);
  const home = units.find((u) => u.id === who.unitId);
  const r = reachByOffice(units, who);
  const own = new Set(subtreeOf(units, who.unitId));
  const unitIds = r.countyWide || who.roles.some((x) => OVERSIGHT.includes(x)) ? r.unitIds : r.unitIds.filter((id) => own.has(id));
  return { all: r.countyWide, unitIds, units, home };
}
export const inReach = (r: Reach, unitId: number): boolean => r.unitIds.includes(unitId);

/** The unit a report is for: the code given (must exist and be reachable), else the caller's default. */
export function reportUnit(r: Reach, code: string | undefined): UnitRow | null {
  if (code) {
    const u = r.units.find((x) => x.code === code);
    if (!u) throw new Problem(404, 'unknown-unit', 'Unknown unit', `找不到單位代碼「${code}」。`, [{ field: 'unit', message: '找不到此單位代碼' }]);
    if (!inReach(r, u.id) || (u.kind === 'planning' && !r.all)) throw forbidden(`單位「${code}」不在您的權責範圍內。`);
    if (u.kind === 'planning') return null;
    return u;
  }
  if (r.all) return null; // county-wide
  const home = r.home!;
  // Planning-department staff without a county-wide office have no agency to report on.
  if (home.kind === 'planning') throw forbidden('您沒有全縣報表之權責，請指定單位。');
  return home.kind === 'unit' ? home : agencyIn(r.units, home.id) ?? home;
}

export const yearProblemOf = (year: number): string | null => yearProblem(year, now());

export function checkYear(year: number): void {
  const p = yearProblem(year, now());
  if (p) throw fieldError('year', p);
}

// --- retained data and destruction -------------------------------------------------------------

const day = z.string().trim().refine(isIsoDate, ROC_DATE_HINT);
export const retainedSchema = z.object({
  unit: z.coerce.number().int().positive({ message: '請選擇單位' }),
  caseNo: z.string().trim().min(1, '請輸入案號').max(64),
  description: z.string().trim().min(2, '請說明留存之資料').max(500),
  location: z.string().trim().min(2, '請輸入存放位置').max(300),
  medium: z.enum(['paper', 'electronic'], { message: '請選擇紙本或電子檔' }),
  custodian: z.string().trim().min(1, '請輸入保管人').max(100),
  access: z.string().trim().min(1, '請輸入可存取人員').max(500),
  destroyBy: day,
});
export type RetainedInput = z.infer<typeof retainedSchema>;

export async function createRetained(db: Db, who: Actor, input: RetainedInput): Promise<number> {
  const r = await reachOf(db, who);
  if (!inReach(r, input.unit)) throw forbidden('不可登錄權責範圍外單位之資料。');
  return db.transaction(async (trx) => {
    const id = await repo.insertRetained(trx, {
      unit_id: input.unit, case_no: input.caseNo, description: input.description, location: input.location, medium: input.medium,
      custodian: input.custodian, access: input.access, destroy_by: input.destroyBy, status: 'retained', created_by: who.id, created_at: now(),
    });
    await recordEvent(trx, actorOf(who), { action: 'retained-data-registered', targetType: 'retained_data', targetId: id, unitId: input.unit, detail: { destroyBy: input.destroyBy, medium: input.medium } });
    return id;
  });
}

export const destructionSchema = z.object({
  destroyedOn: day,
  method: z.string().trim().min(2, '請輸入銷毀方式').max(200),
  witness: z.string().trim().min(1, '請輸入監銷人').max(100),
  note: z.string().trim().max(500).optional().default(''),
});
export type DestructionInput = z.infer<typeof destructionSchema>;

export async function recordDestruction(db: Db, who: Actor, retainedId: number, input: DestructionInput): Promise<number> {
  if (input.destroyedOn > localDate(now())) throw fieldError('destroyedOn', '銷毀日期不可晚於今日');
  const item = await repo.retainedById(db, retainedId);
  if (!item) throw notFound('找不到此留存資料。');
  const r = await reachOf(db, who);
  if (!inReach(r, item.unit_id)) throw forbidden();
  return db.transaction(async (trx) => {
    const cur = await repo.retainedById(trx, retainedId);
    if (cur?.status !== 'retained') throw conflict('already-destroyed', '此資料已登錄銷毀。');
    let id: number;
    try {
      id = await repo.insertDestruction(trx, { retained_id: retainedId, destroyed_on: input.destroyedOn, method: input.method, witness: input.witness, note: input.note || null, recorded_by: who.id, recorded_at: now() });
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict('already-destroyed', '此資料已登錄銷毀。');
      throw e;
    }
    await recordEvent(trx, actorOf(who), { action: 'retained-data-destroyed', targetType: 'retained_data', targetId: retainedId, unitId: item.unit_id, detail: { destroyedOn: input.destroyedOn, method: input.method } });
    return id;
  });
}

export async function overdueRetained(conn: Conn, unitIds: number[], today = localDate(now())) {
  return repo.listRetained(conn, unitIds, { overdueBefore: today });
}

// --- link reviews ------------------------------------------------------------------------------

export interface LinkRow {
  unitScopeId: number; unitId: number; unitCode: string; unitName: string; scopeId: number; scopeCode: string; scopeTitle: string; status: string;
  useCount: number; lastUsedAt: number | null;
  review: null | { id: number; outcome: string; reason: string; reviewer: string | null; reviewedAt: number; useCount: number; terminationId: number | null; terminationStatus: string | null };
}

/** Every agency × scope link in reach with its use in the year and its review, if any. */
export async function linkReviewList(conn: Conn, who: { unitId: number; roles: readonly string[] }, year: number): Promise<LinkRow[]> {
  const r = await reachOf(conn, who);
  const agencyIds = r.units.filter((u) => u.kind === 'agency' && inReach(r, u.id)).map((u) => u.id);
  const links: any[] = await repo.linksOf(conn, agencyIds);
  const [start, end] = yearRange(year);
  const reviews = new Map<number, any>((await repo.reviewsOfYear(conn, year, links.map((l) => l.id))).map((x: any) => [x.unit_scope_id, x]));
  const out: LinkRow[] = [];
  for (const l of links) {
    const rv = reviews.get(l.id);
    if (l.status !== 'active' && !rv && !(l.terminated_on && l.terminated_on >= `${year}-01-01`)) continue;
    const use = await repo.linkUse(conn, subtreeOf(r.units, l.unit_id), l.scope_code, start, end);
    out.push({
      unitScopeId: l.id, unitId: l.unit_id, unitCode: l.unit_code, unitName: l.unit_name, scopeId: l.scope_id, scopeCode: l.scope_code, scopeTitle: l.scope_title, status: l.status,
      useCount: use.count, lastUsedAt: use.last,
      review: rv ? { id: rv.id, outcome: rv.outcome, reason: rv.reason, reviewer: rv.reviewer, reviewedAt: Number(rv.reviewed_at), useCount: Number(rv.use_count), terminationId: rv.termination_id ?? null, terminationStatus: rv.termination_status ?? null } : null,
    });
  }
  return out;
}

export const linkReviewSchema = z.object({
  link: z.coerce.number().int().positive({ message: '請選擇連結作業' }),
  year: z.coerce.number().int({ message: '請輸入年度' }),
  outcome: z.enum(['keep', 'terminate'], { message: '請選擇仍有需求或申請終止' }),
  reason: z.string().trim().min(2, '請說明檢視結果').max(1000),
});
export type LinkReviewInput = z.infer<typeof linkReviewSchema>;

/** Records the year's review of one link; 'terminate' also files a termination request. */
export async function recordLinkReview(db: Db, who: Actor, input: LinkReviewInput): Promise<{ id: number; terminationId: number | null; useCount: number }> {
  checkYear(input.year);
  const link = await db('unit_scopes as us').join('scopes as s', 's.id', 'us.scope_id').where('us.id', input.link).first('us.id', 'us.unit_id', 'us.scope_id', 's.code');
  if (!link) throw fieldError('link', '找不到此連結作業');
  const r = await reachOf(db, who);
  if (!inReach(r, link.unit_id)) throw forbidden('此連結作業不在您的權責範圍內。');
  const [start, end] = yearRange(input.year);
  const use = await repo.linkUse(db, subtreeOf(r.units, link.unit_id), link.code, start, end);
  return db.transaction(async (trx) => {
    const t = now();
    let id: number;
    try {
      [id] = (await trx('link_reviews').insert({ unit_scope_id: link.id, unit_id: link.unit_id, scope_id: link.scope_id, year: input.year, use_count: use.count, last_used_at: use.last, outcome: input.outcome, reason: input.reason, reviewed_by: who.id, reviewed_at: t })).map(Number);
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict('already-reviewed', `此連結作業 ${input.year} 年度已檢視。`);
      throw e;
    }
    let terminationId: number | null = null;
    if (input.outcome === 'terminate') {
      [terminationId] = (await trx('link_terminations').insert({ link_review_id: id, unit_id: link.unit_id, scope_id: link.scope_id, status: 'requested', requested_by: who.id, requested_at: t })).map(Number);
    }
    await recordEvent(trx, actorOf(who), { action: 'link-reviewed', targetType: 'unit_scope', targetId: link.id, unitId: link.unit_id, detail: { year: input.year, outcome: input.outcome, useCount: use.count, terminationId } });
    return { id, terminationId, useCount: use.count };
  });
}

// --- internal audits ---------------------------------------------------------------------------

/** The system's evidence for an agency's half-year (clause 5(三)). */
export async function gatherEvidence(conn: Conn, cfg: Pick<Config, 'PASSWORD_MAX_AGE_DAYS'>, agencyId: number, period: string): Promise<Evidence> {
  const units = await allUnits(conn);
  const ids = subtreeOf(units, agencyId);
  const h = halfRange(period);
  const from = startOfLocalDay(h.from);
  const to = startOfLocalDay(h.to);
  const t = now();
  const today = localDate(t);
  const has = (name: string) => conn.schema.hasTable(name);

  const accountReview = { reviews: 0, items: 0, open: 0, available: await has('account_reviews') };
  if (accountReview.available) {
    const rv = await conn('account_reviews').where('started_at', '>=', from).where('started_at', '<', to).whereNotNull('finished_at').pluck('id');
    accountReview.reviews = rv.length;
    if (rv.length) {
      const items = await conn('review_items').whereIn('review_id', rv).whereIn('unit_id', ids).select('status');
      accountReview.items = items.length;
      accountReview.open = items.filter((i: any) => i.status === 'open').length;
    }
  }

  const checksExist = await has('checks');
  const months: Evidence['months'] = [];
  for (const m of h.months) {
    const [ms, me] = monthRange(m);
    if (ms > t) break;
    const n = await conn('query_logs').whereIn('unit_id', ids).where('queried_at', '>=', ms).where('queried_at', '<', me).count({ n: '*' }).first();
    let check: Evidence['months'][number]['check'] = null;
    if (checksExist) {
      const c = await conn('checks').whereIn('unit_id', ids).where('period', m).whereNot('status', 'superseded').orderBy('generation', 'desc').first();
      if (c) {
        const und = await conn('check_items').where('check_id', c.id).whereNull('verdict').count({ n: '*' }).first();
        check = { status: c.status, signedOffAt: c.signed_off_at == null ? null : Number(c.signed_off_at), onTime: checkOnTime(m, c.signed_off_at == null ? null : Number(c.signed_off_at)), undecided: Number(und?.n ?? 0) };
      }
    }
    months.push({ month: m, entries: Number(n?.n ?? 0), check });
  }

  const openInvestigations = (await has('investigations'))
    ? (await conn('investigations').whereIn('unit_id', ids).where('status', 'open').orderBy('id').select('id', 'title', 'opened_at')).map((i: any) => ({ id: i.id, title: i.title, openedAt: Number(i.opened_at) }))
    : [];
  const overdueDestructions = (await repo.listRetained(conn, ids, { overdueBefore: today })).map((x) => ({ id: x.id, caseNo: x.case_no, destroyBy: x.destroy_by, unit: x.unit_name ?? '' }));

  // The latest chain verification: the verify-log job's run or a verify event (job or command).
  let chain: Evidence['chain'] = null;
  const run = await conn('job_runs').where({ job: 'verify-log' }).whereIn('status', ['done', 'failed']).orderBy('id', 'desc').first();
  if (run) {
    const res = parseJson<any>(run.result, null);
    const ok = run.status === 'done' && res?.ok !== false;
    const at = Number(run.finished_at ?? run.started_at);
    chain = { status: run.status, finishedAt: at, ok, detail: `最近一次查詢日誌驗證（${rocDateTime(at)}）：${ok ? '完整' : `異常${run.error ? '：' + String(run.error) : ''}`}` };
  }
  const ev = await conn('system_events').where({ action: 'query-log.verify' }).orderBy('id', 'desc').first('at', 'outcome', 'detail');
  if (ev && (!chain || Number(ev.at) > (chain.finishedAt ?? 0))) {
    const d = parseJson<any>(ev.detail, {});
    const ok = ev.outcome === 'ok';
    chain = { status: ok ? 'done' : 'failed', finishedAt: Number(ev.at), ok, detail: `最近一次查詢日誌驗證（${rocDateTime(Number(ev.at))}）：${ok ? `完整（${d?.count ?? ''} 筆）` : `異常${d?.reason ? '：' + String(d.reason) : ''}`}` };
  }

  const cutoff = t - cfg.PASSWORD_MAX_AGE_DAYS * 86_400_000;
  const expiredPasswords = (await conn('users').whereIn('unit_id', ids).where({ status: 'active', auth_source: 'local' })
    .where((q) => q.whereNull('password_changed_at').orWhere('password_changed_at', '<', cutoff)).orderBy('account').select('account', 'password_changed_at'))
    .map((u: any) => ({ account: u.account, changedAt: u.password_changed_at == null ? null : Number(u.password_changed_at) }));

  const disabledButActive: Evidence['disabledButActive'] = [];
  for (const u of await conn('users').whereIn('unit_id', ids).where('status', 'active').whereNotNull('disable_on').where('disable_on', '<=', today).orderBy('account').select('account')) {
    disabledButActive.push({ account: u.account, problem: '預定停用日已過仍為啟用' });
  }
  const disabled: any[] = await conn('users').whereIn('unit_id', ids).where('status', 'disabled').whereNotNull('disabled_at').select('id', 'account', 'disabled_at');
  for (const u of disabled) {
    const q = await conn('query_logs').where('user_id', u.id).where('queried_at', '>', u.disabled_at).count({ n: '*' }).first();
    if (Number(q?.n ?? 0) > 0) disabledButActive.push({ account: u.account, problem: `停用後仍有 ${q!.n} 筆查詢紀錄` });
    const s = await conn('sessions').where('user_id', u.id).where('expires_at', '>', t).count({ n: '*' }).first();
    if (Number(s?.n ?? 0) > 0) disabledButActive.push({ account: u.account, problem: '停用後仍有有效登入工作階段' });
  }

  const year = Number(period.slice(0, 4));
  const links = await conn('unit_scopes').where({ unit_id: agencyId, status: 'active' }).pluck('id');
  const reviewed = links.length ? Number((await conn('link_reviews').whereIn('unit_scope_id', links).where({ year }).count({ n: '*' }).first())?.n ?? 0) : 0;

  return { period, accountReview, months, openInvestigations, overdueDestructions, chain, expiredPasswords, disabledButActive, linkReviews: { year, total: links.length, reviewed } };
}

export const openAuditSchema = z.object({
  unit: z.coerce.number().int().positive({ message: '請選擇機關' }),
  period: z.string().trim().regex(/^\d{4}-H[12]$/, '期間格式應為 YYYY-H1 或 YYYY-H2'),
});

/** Opens (or returns the existing) internal audit of an agency for a half-year. */
export async function openAudit(db: Db, cfg: Config, who: Actor, input: z.infer<typeof openAuditSchema>): Promise<{ id: number; created: boolean }> {
  const p = halfProblem(input.period, localDate(now()));
  if (p) throw fieldError('period', p);
  const r = await reachOf(db, who);
  const unit = r.units.find((u) => u.id === input.unit);
  if (!unit || unit.kind !== 'agency') throw fieldError('unit', '請選擇業務機關');
  if (!inReach(r, unit.id)) throw forbidden('此機關不在您的權責範圍內。');
  const existing = await repo.auditFor(db, unit.id, input.period);
  if (existing) return { id: existing.id, created: false };
  const evidence = await gatherEvidence(db, cfg, unit.id, input.period);
  try {
    return await db.transaction(async (trx) => {
      const t = now();
      const [id] = await trx('internal_audits').insert({ unit_id: unit.id, period: input.period, status: 'open', auditor_id: who.id, checklist: JSON.stringify(buildChecklist(evidence)), evidence_at: t, opened_by: who.id, opened_at: t });
      await recordEvent(trx, actorOf(who), { action: 'internal-audit-opened', targetType: 'internal_audit', targetId: Number(id), unitId: unit.id, detail: { period: input.period } });
      return { id: Number(id), created: true };
    });
  } catch (e) {
    if (isUniqueViolation(e)) return { id: (await repo.auditFor(db, unit.id, input.period))!.id, created: false };
    throw e;
  }
}

export async function auditForViewer(conn: Conn, who: { unitId: number; roles: readonly string[] }, id: number): Promise<repo.AuditRow & { unit: UnitRow }> {
  const a = await repo.auditById(conn, id);
  if (!a) throw notFound('找不到此稽核。');
  const r = await reachOf(conn, who);
  if (!inReach(r, a.unit_id)) throw forbidden();
  return { ...a, unit: r.units.find((u) => u.id === a.unit_id)! };
}

const RESULT = z.enum(['pass', 'fail', 'na']);
export const saveAuditSchema = z.object({
  findings: z.string().trim().max(20000).optional().default(''),
  conclusion: z.string().trim().max(20000).optional().default(''),
  results: z.record(z.string(), z.object({ result: z.union([RESULT, z.literal('')]).optional(), note: z.string().trim().max(2000).optional().default('') })).optional().default({}),
});
export type SaveAuditInput = z.infer<typeof saveAuditSchema>;

/** Saves the auditor's results and findings; with `sign` also signs off (after which nothing changes). */
export async function saveAudit(db: Db, cfg: Config, who: Actor, id: number, input: SaveAuditInput, opts: { sign?: boolean; refresh?: boolean } = {}): Promise<repo.AuditRow> {
  const a = await auditForViewer(db, who, id);
  if (a.status !== 'open') throw conflict('audit-signed', '此稽核已簽核，不可再修改。');
  const results: Record<string, { result: ItemResult | null; note: string }> = {};
  for (const [k, v] of Object.entries(input.results)) results[k] = { result: (v.result || null) as ItemResult | null, note: v.note ?? '' };
  let list: ChecklistItem[] = a.checklist;
  let evidenceAt = a.evidence_at;
  if (opts.refresh) {
    const fresh = buildChecklist(await gatherEvidence(db, cfg, a.unit_id, a.period));
    const kept: Record<string, { result: ItemResult | null; note: string }> = {};
    for (const i of list) kept[i.key] = { result: i.result, note: i.note };
    list = applyResults(fresh, kept);
    evidenceAt = now();
  }
  list = applyResults(list, results);
  if (opts.sign) {
    const missing = missingResults(list);
    const errors = missing.map((k) => ({ field: `results.${k}.result`, message: '請選擇查核結果' }));
    if (!input.findings) errors.push({ field: 'findings', message: '簽核前請填寫稽核發現' });
    if (!input.conclusion) errors.push({ field: 'conclusion', message: '簽核前請填寫稽核結論' });
    if (errors.length) throw validation(errors, '簽核前每一查核項目均須有結果，並填寫發現與結論。');
  }
  await db.transaction(async (trx) => {
    const t = now();
    const patch: Record<string, unknown> = { checklist: JSON.stringify(list), evidence_at: evidenceAt, findings: input.findings || null, conclusion: input.conclusion || null };
    if (opts.sign) Object.assign(patch, { status: 'signed', signed_by: who.id, signed_at: t, keep_until: keepUntil(localDate(t)) });
    const n = await trx('internal_audits').where({ id, status: 'open' }).update(patch);
    if (n !== 1) throw conflict('audit-signed', '此稽核已簽核，不可再修改。');
    if (opts.sign) {
      const issues = list.filter((i) => i.result === 'fail').map((i) => i.label);
      const [rid] = await trx('audit_records').insert({
        unit_id: a.unit_id, kind: 'internal-audit', title: `${rocPeriod(a.period)}內部稽核`, period: a.period,
        summary: `查核項目 ${list.length} 項，不符合 ${issues.length} 項${issues.length ? '：' + issues.join('；') : ''}`,
        findings: input.findings, conclusion: input.conclusion, source_type: 'internal-audit', source_id: id, signed_by: who.id, signed_at: t, created_by: who.id, created_at: t,
      });
      await trx('internal_audits').where({ id }).update({ audit_record_id: Number(rid) });
    }
    await recordEvent(trx, actorOf(who), { action: opts.sign ? 'internal-audit-signed' : 'internal-audit-saved', targetType: 'internal_audit', targetId: id, unitId: a.unit_id, detail: { period: a.period } });
  });
  return (await repo.auditById(db, id))!;
}

// --- annual filings ----------------------------------------------------------------------------

export async function submitFiling(db: Db, who: Actor, exportId: number): Promise<number> {
  const ex = await repo.exportById(db, exportId);
  if (!ex || ex.kind !== 'annual') throw fieldError('export', '找不到此年度報表');
  if (ex.status !== 'done') throw conflict('export-not-ready', '報表尚未產製完成。');
  if (ex.unit_id == null) throw fieldError('export', '全縣彙總報表不需報府');
  const r = await reachOf(db, who);
  if (!inReach(r, ex.unit_id)) throw forbidden();
  const unit = r.units.find((u) => u.id === ex.unit_id)!;
  if (unit.kind !== 'agency') throw fieldError('export', '應以業務機關之年度報表報府');
  const year = Number(parseJson<any>(ex.params, {}).year);
  return db.transaction(async (trx) => {
    let id: number;
    try {
      [id] = (await trx('annual_filings').insert({ unit_id: unit.id, year, export_id: ex.id, workbook_sha256: ex.sha256, submitted_by: who.id, submitted_at: now() })).map(Number);
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict('already-filed', `${unit.name} ${year} 年度已報府備查。`);
      throw e;
    }
    await recordEvent(trx, actorOf(who), { action: 'annual-filed', targetType: 'annual_filing', targetId: id, unitId: unit.id, detail: { year, sha256: ex.sha256 } });
    return id;
  });
}

export async function acknowledgeFiling(db: Db, who: Actor, filingId: number, note: string): Promise<void> {
  await db.transaction(async (trx) => {
    const f = await trx('annual_filings').where({ id: filingId }).first();
    if (!f) throw notFound('找不到此報府紀錄。');
    if (f.acknowledged_at) throw conflict('already-acknowledged', '此報府紀錄已確認。');
    await trx('annual_filings').where({ id: filingId }).whereNull('acknowledged_at').update({ acknowledged_by: who.id, acknowledged_at: now(), ack_note: note || null });
    await recordEvent(trx, actorOf(who), { action: 'annual-filing-acknowledged', targetType: 'annual_filing', targetId: filingId, unitId: f.unit_id, detail: { year: f.year } });
  });
}

/** Every agency with its filing for the year: filed before 1 February, filed late, or not filed. */
export async function filingStatus(conn: Conn, year: number, unitIds?: number[]) {
  const agencies = (await allUnits(conn)).filter((u) => u.kind === 'agency' && (!unitIds || unitIds.includes(u.id))).sort((a, b) => a.code.localeCompare(b.code));
  const filings = new Map<number, any>((await conn('annual_filings as f').leftJoin('users as s', 's.id', 'f.submitted_by').leftJoin('users as a', 'a.id', 'f.acknowledged_by')
    .where('f.year', year).select('f.*', 's.account as submitter', 'a.account as acknowledger')).map((f: any) => [f.unit_id, f]));
  return agencies.map((a) => {
    const f = filings.get(a.id);
    return { unit: a, filing: f ?? null, state: !f ? 'missing' : filedOnTime(Number(f.submitted_at), year) ? 'on-time' : 'late' } as const;
  });
}


export { parseOr400 };
