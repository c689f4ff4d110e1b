// Audits: knex only, no policy.
import type { Conn } from '../db.ts';
import { insertId, parseJson } from '../db.ts';
import type { ChecklistItem } from './rules.ts';

// --- retained data and destruction -------------------------------------------------------------

export interface RetainedRow {
  id: number; unit_id: number; case_no: string; description: string; location: string; medium: string; custodian: string;
  access: string; destroy_by: string; status: string; created_by: number | null; created_at: number;
  destroyed_on?: string | null; method?: string | null; witness?: string | null; unit_name?: string;
}

export const insertRetained = (conn: Conn, row: Omit<RetainedRow, 'id'>) => insertId(conn, 'retained_data', row as unknown as Record<string, unknown>);

export function listRetained(conn: Conn, unitIds: number[], o: { status?: string; overdueBefore?: string } = {}): Promise<RetainedRow[]> {
  const q = conn('retained_data as r').join('units as u', 'u.id', 'r.unit_id').leftJoin('data_destructions as d', 'd.retained_id', 'r.id')
    .whereIn('r.unit_id', unitIds).orderBy(['r.destroy_by', 'r.id'])
    .select('r.*', 'u.name as unit_name', 'd.destroyed_on', 'd.method', 'd.witness');
  if (o.status) q.where('r.status', o.status);
  if (o.overdueBefore) q.where('r.status', 'retained').where('r.destroy_by', '<', o.overdueBefore);
  return q;
}

export const retainedById = (conn: Conn, id: number): Promise<RetainedRow | undefined> => conn('retained_data').where({ id }).first();

export async function insertDestruction(conn: Conn, row: { retained_id: number; destroyed_on: string; method: string; witness: string; note: string | null; recorded_by: number | null; recorded_at: number }): Promise<number> {
  const id = await insertId(conn, 'data_destructions', row);
  await conn('retained_data').where({ id: row.retained_id }).update({ status: 'destroyed' });
  return id;
}

// --- link reviews ------------------------------------------------------------------------------

export function linksOf(conn: Conn, agencyIds: number[]) {
  return conn('unit_scopes as us').join('scopes as s', 's.id', 'us.scope_id').join('units as u', 'u.id', 'us.unit_id')
    .whereIn('us.unit_id', agencyIds).orderBy(['u.code', 's.sort'])
    .select('us.id', 'us.unit_id', 'us.scope_id', 'us.status', 'us.authorised_on', 'us.terminated_on', 's.code as scope_code', 's.title as scope_title', 'u.code as unit_code', 'u.name as unit_name');
}

/** Entries of the units under the scope in [start, end): the link's use in the year. */
export async function linkUse(conn: Conn, unitIds: number[], scopeCode: string, start: number, end: number): Promise<{ count: number; last: number | null }> {
  const r = await conn('query_logs').whereIn('unit_id', unitIds).where('scope_code', scopeCode).where('queried_at', '>=', start).where('queried_at', '<', end)
    .count({ n: '*' }).max({ last: 'queried_at' }).first();
  return { count: Number(r?.n ?? 0), last: r?.last == null ? null : Number(r.last) };
}

export const reviewsOfYear = (conn: Conn, year: number, unitScopeIds: number[]) =>
  conn('link_reviews as r').leftJoin('users as u', 'u.id', 'r.reviewed_by').leftJoin('link_terminations as t', 't.link_review_id', 'r.id')
    .where('r.year', year).whereIn('r.unit_scope_id', unitScopeIds)
    .select('r.*', 'u.account as reviewer', 't.id as termination_id', 't.status as termination_status');

// --- internal audits ---------------------------------------------------------------------------

export interface AuditRow {
  id: number; unit_id: number; period: string; status: string; auditor_id: number | null; checklist: ChecklistItem[]; evidence_at: number;
  findings: string | null; conclusion: string | null; opened_by: number | null; opened_at: number; signed_by: number | null; signed_at: number | null;
  keep_until: string | null; audit_record_id: number | null;
}
const toAudit = (r: any): AuditRow | undefined => (r ? { ...r, checklist: parseJson<ChecklistItem[]>(r.checklist, []) } : undefined);
export const auditById = async (conn: Conn, id: number) => toAudit(await conn('internal_audits').where({ id }).first());
export const auditFor = async (conn: Conn, unitId: number, period: string) => toAudit(await conn('internal_audits').where({ unit_id: unitId, period }).first());
export const listAudits = (conn: Conn, unitIds: number[]) =>
  conn('internal_audits as a').join('units as u', 'u.id', 'a.unit_id').leftJoin('users as s', 's.id', 'a.signed_by')
    .whereIn('a.unit_id', unitIds).orderBy([{ column: 'a.period', order: 'desc' }, 'u.code'])
    .select('a.id', 'a.unit_id', 'a.period', 'a.status', 'a.opened_at', 'a.signed_at', 'a.keep_until', 'u.code as unit_code', 'u.name as unit_name', 's.account as signer');

// --- exports and filings -----------------------------------------------------------------------

export const exportById = (conn: Conn, id: number) => conn('export_jobs').where({ id }).first();
export const filingsOfYear = (conn: Conn, year: number) => conn('annual_filings').where({ year });

// --- the to-do list (server/todos, issue 18) ----------------------------------------------------

/** Internal audits (5(三)) of these agencies and half-years, with their status. */
export const auditsOfPeriods = (conn: Conn, agencyIds: number[], periods: string[]): Promise<Array<{ unit_id: number; period: string; status: string }>> =>
  conn('internal_audits').whereIn('unit_id', agencyIds.length ? agencyIds : [-1]).whereIn('period', periods).select('unit_id', 'period', 'status');

/** Active links (4(二)3) of these agencies with no review for the year: counted per agency. */
export const unreviewedLinks = (conn: Conn, agencyIds: number[], year: number): Promise<Array<{ unit_id: number; n: number }>> =>
  conn('unit_scopes as us').whereIn('us.unit_id', agencyIds.length ? agencyIds : [-1]).andWhere('us.status', 'active')
    .whereNotExists((q) => q.select(conn.raw('1')).from('link_reviews as r').whereRaw('r.unit_scope_id = us.id').andWhere('r.year', year))
    .groupBy('us.unit_id').select('us.unit_id').count({ n: '*' });
