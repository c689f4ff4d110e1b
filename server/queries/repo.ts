// Knex access for query request forms, query log entries and service tokens. No policy here.
import type { Conn } from '../db.ts';
import { insertId } from '../db.ts';
import type { Visibility } from './rules.ts';

export interface UserRow { id: number; account: string; name: string; unit_id: number; status: string; roles: string[] }

export async function usersByIds(conn: Conn, ids: number[]): Promise<UserRow[]> {
  if (!ids.length) return [];
  const users = await conn('users').whereIn('id', ids).select('id', 'account', 'name', 'unit_id', 'status');
  return attachRoles(conn, users);
}
export async function usersByAccounts(conn: Conn, accounts: string[]): Promise<UserRow[]> {
  if (!accounts.length) return [];
  const users = await conn('users').whereIn('account', accounts).select('id', 'account', 'name', 'unit_id', 'status');
  return attachRoles(conn, users);
}
/** Users by id or account in one query, without roles (recording needs none). */
export async function usersLite(conn: Conn, ids: number[], accounts: string[]): Promise<UserRow[]> {
  if (!ids.length && !accounts.length) return [];
  const rows = await conn('users').where((w: any) => {
    if (ids.length) w.orWhereIn('id', ids);
    if (accounts.length) w.orWhereIn('account', accounts);
  }).select('id', 'account', 'name', 'unit_id', 'status');
  return rows.map((u: any) => ({ ...u, id: Number(u.id), unit_id: Number(u.unit_id), roles: [] }));
}

async function attachRoles(conn: Conn, users: any[]): Promise<UserRow[]> {
  if (!users.length) return [];
  const roles = await conn('user_roles').whereIn('user_id', users.map((u) => u.id)).select('user_id', 'role');
  return users.map((u) => ({ ...u, id: Number(u.id), unit_id: Number(u.unit_id), roles: roles.filter((r: any) => Number(r.user_id) === Number(u.id)).map((r: any) => r.role) }));
}

/** "scope|opCode" pairs the user holds. */
export async function permissionKeys(conn: Conn, userIds: number[]): Promise<Map<number, Set<string>>> {
  const out = new Map<number, Set<string>>();
  if (!userIds.length) return out;
  const rows = await conn('user_permissions as p').join('scopes as s', 's.id', 'p.scope_id').join('op_codes as o', 'o.id', 'p.op_code_id')
    .whereIn('p.user_id', userIds).select('p.user_id', 's.code as scope', 'o.code as op');
  for (const r of rows) {
    const id = Number(r.user_id);
    if (!out.has(id)) out.set(id, new Set());
    out.get(id)!.add(`${r.scope}|${r.op}`);
  }
  return out;
}

/** Active scope codes the agencies are authorised for (unit_scopes active and the scope itself active). */
export async function activeAgencyScopes(conn: Conn, agencyIds: number[]): Promise<Map<number, Set<string>>> {
  const out = new Map<number, Set<string>>();
  if (!agencyIds.length) return out;
  const rows = await conn('unit_scopes as us').join('scopes as s', 's.id', 'us.scope_id')
    .whereIn('us.unit_id', agencyIds).andWhere('us.status', 'active').andWhere('s.active', true).select('us.unit_id', 's.code');
  for (const r of rows) {
    const id = Number(r.unit_id);
    if (!out.has(id)) out.set(id, new Set());
    out.get(id)!.add(r.code);
  }
  return out;
}

export async function agencySettings(conn: Conn, ids: number[]): Promise<Map<number, { require_query_request: boolean; case_no_pattern: string | null }>> {
  const rows = ids.length ? await conn('units').whereIn('id', ids).select('id', 'require_query_request', 'case_no_pattern') : [];
  return new Map(rows.map((r: any) => [Number(r.id), { require_query_request: Boolean(r.require_query_request), case_no_pattern: r.case_no_pattern ?? null }]));
}

export const activeOpCodes = async (conn: Conn): Promise<Set<string>> => new Set(await conn('op_codes').where({ active: true }).pluck('code'));
export const scopeRows = (conn: Conn): Promise<Array<{ id: number; code: string; title: string; active: number | boolean; clause: string }>> =>
  conn('scopes').orderBy('sort').select('id', 'code', 'title', 'active', 'clause');
export const opCodeRows = (conn: Conn): Promise<Array<{ code: string; name: string }>> => conn('op_codes').where({ active: true }).orderBy('code').select('code', 'name');

// ---- query request forms ----
const REQUEST_COLS = ['r.id', 'r.unit_id', 'r.requester_id', 'r.case_no', 'r.purpose', 'r.scope_id', 's.code as scope_code', 's.title as scope_title', 'r.expected_subjects_cipher',
  'r.valid_from', 'r.valid_to', 'r.status', 'r.decided_by', 'r.decided_at', 'r.decision_note', 'r.created_at', 'u.account as requester_account', 'u.name as requester_name',
  'un.code as unit_code', 'un.name as unit_name', 'd.account as decider_account', 'd.name as decider_name'];

export function requestQuery(conn: Conn) {
  return conn('query_requests as r').join('scopes as s', 's.id', 'r.scope_id').join('users as u', 'u.id', 'r.requester_id').join('units as un', 'un.id', 'r.unit_id')
    .leftJoin('users as d', 'd.id', 'r.decided_by').select(REQUEST_COLS);
}
export const requestsByIds = async (conn: Conn, ids: number[]): Promise<any[]> => (ids.length ? requestQuery(conn).whereIn('r.id', ids) : []);
export const requestById = (conn: Conn, id: number): Promise<any> => requestQuery(conn).where('r.id', id).first();
export const insertRequest = (conn: Conn, row: Record<string, unknown>): Promise<number> => insertId(conn, 'query_requests', row);
export async function decideRequestRow(conn: Conn, id: number, row: { status: string; decided_by: number; decided_at: number; decision_note: string | null }): Promise<number> {
  // Only a pending form changes: a concurrent second decision updates nothing.
  return conn('query_requests').where({ id, status: 'pending' }).update(row);
}

// ---- query log ----
export const LOG_COLS = ['l.id', 'l.seq', 'l.user_id', 'l.account', 'l.unit_id', 'un.code as unit_code', 'un.name as unit_name', 'l.queried_at', 'l.op_code', 'l.scope_code', 'l.query_request_id',
  'l.case_no', 'l.reason', 'l.subject_type', 'l.subject_mask', 'l.client_ip', 'l.source', 'l.token_id', 'l.hash'];

export interface LogFilter {
  from?: number;
  to?: number;
  unitIds?: number[];
  account?: string;
  opCode?: string;
  caseNo?: string;
  subjectHmac?: string;
  withoutRequest?: boolean;
}

/** Applies the caller's visibility to a query on `query_logs as l`. */
export function applyVisibility(q: any, v: Visibility): void {
  if (v.all) return;
  q.where((w: any) => {
    let any = false;
    if (v.unitIds.length) { w.orWhereIn('l.unit_id', v.unitIds); any = true; }
    if (v.userIds.length) { w.orWhereIn('l.user_id', v.userIds); any = true; }
    for (const r of v.ranges) {
      w.orWhere((x: any) => {
        if (r.unitIds.length) x.whereIn('l.unit_id', r.unitIds); else x.whereRaw('1 = 0');
        if (r.userIds?.length) x.whereIn('l.user_id', r.userIds);
        if (r.from != null) x.where('l.queried_at', '>=', r.from);
        if (r.to != null) x.where('l.queried_at', '<', r.to);
      });
      any = true;
    }
    if (!any) w.whereRaw('1 = 0');
  });
}

export function applyFilter(q: any, f: LogFilter): void {
  if (f.from != null) q.where('l.queried_at', '>=', f.from);
  if (f.to != null) q.where('l.queried_at', '<', f.to);
  if (f.unitIds) q.whereIn('l.unit_id', f.unitIds.length ? f.unitIds : [-1]);
  if (f.account) q.where('l.account', f.account);
  if (f.opCode) q.where('l.op_code', f.opCode);
  if (f.caseNo) q.where('l.case_no', f.caseNo);
  if (f.subjectHmac) q.where('l.subject_hmac', f.subjectHmac);
  if (f.withoutRequest) q.whereNull('l.query_request_id');
}

export async function listLogs(conn: Conn, v: Visibility, f: LogFilter, page: { offset: number; limit: number }): Promise<{ rows: any[]; total: number }> {
  const base = conn('query_logs as l');
  applyVisibility(base, v);
  applyFilter(base, f);
  const [[{ n }], rows] = await Promise.all([
    base.clone().count({ n: '*' }),
    base.clone().join('units as un', 'un.id', 'l.unit_id').orderBy('l.seq', 'desc').offset(page.offset).limit(page.limit).select(LOG_COLS),
  ]);
  return { rows, total: Number(n) };
}

/** Pages through matching entries by key (for exports), newest first. */
export async function logPage(conn: Conn, v: Visibility, f: LogFilter, beforeSeq: number | null, limit: number): Promise<any[]> {
  const q = conn('query_logs as l').join('units as un', 'un.id', 'l.unit_id');
  applyVisibility(q, v);
  applyFilter(q, f);
  if (beforeSeq != null) q.where('l.seq', '<', beforeSeq);
  return q.orderBy('l.seq', 'desc').limit(limit).select(LOG_COLS);
}

export async function logById(conn: Conn, id: number, v?: Visibility): Promise<any> {
  const q = conn('query_logs as l').join('units as un', 'un.id', 'l.unit_id').where('l.id', id);
  if (v) applyVisibility(q, v);
  return q.first([...LOG_COLS, 'l.subject_cipher', 'l.prev_hash']);
}

// ---- service tokens ----
export const tokensIn = (conn: Conn, unitIds: number[] | null): Promise<any[]> => {
  const q = conn('service_tokens as t').join('units as un', 'un.id', 't.unit_id').join('users as u', 'u.id', 't.user_id')
    .orderBy('t.id', 'desc').select('t.id', 't.name', 't.status', 't.created_at', 't.revoked_at', 't.last_used_at', 'un.code as unit_code', 'un.name as unit_name', 'u.account');
  if (unitIds) q.whereIn('t.unit_id', unitIds.length ? unitIds : [-1]);
  return q;
};
