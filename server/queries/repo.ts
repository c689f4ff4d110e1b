// Knex access for query request forms, query log entries and service tokens. No policy here.
import type { Conn } from '../db.ts';
import { insertId, isMysql } from '../db.ts';
import type { RequestForm, Visibility } from './rules.ts';
import type { UnitRow } from '../accounts/units.ts';

export interface UserRow { id: number; account: string; name: string; unit_id: number; status: string; disable_on: string | null; roles: string[] }

export async function usersByIds(conn: Conn, ids: number[]): Promise<UserRow[]> {
  if (!ids.length) return [];
  const users = await conn('users').whereIn('id', ids).select('id', 'account', 'name', 'unit_id', 'status', 'disable_on');
  return attachRoles(conn, users);
}
export async function usersByAccounts(conn: Conn, accounts: string[]): Promise<UserRow[]> {
  if (!accounts.length) return [];
  const users = await conn('users').whereIn('account', accounts).select('id', 'account', 'name', 'unit_id', 'status', 'disable_on');
  return attachRoles(conn, users);
}
/** Everything recording needs to validate entries, read in one statement (see recordingLookups). */
export interface RecordingLookups {
  units: UnitRow[];
  users: UserRow[];
  /** "scope|opCode" pairs each user holds. */
  perms: Map<number, Set<string>>;
  /** Active scope codes per agency (active link, active scope). */
  agencyScopes: Map<number, Set<string>>;
  settings: Map<number, { require_query_request: boolean; case_no_pattern: string | null }>;
  opCodes: Set<string>;
  forms: Map<number, RequestForm>;
  /** The named users' forms that carry one of the typed case numbers (案號 checks). */
  formsByCaseNo: RequestForm[];
}

/**
 * The unit tree with each unit's recording settings, the named users (by id or account) and their
 * NHI permissions, the active operation codes, the active agency × scope links and the named
 * request forms: one UNION ALL statement, so one round trip and one socket write per request
 * instead of eight (recording is the hot path of the whole system). Each branch is tagged in `k`;
 * all values are bound parameters.
 */
export async function recordingLookups(conn: Conn, q: { userIds: number[]; accounts: string[]; formIds: number[]; caseNos?: string[] }): Promise<RecordingLookups> {
  const N = conn.raw('NULL');
  const who = (w: any, idCol: string, accountCol: string) => {
    w.whereIn(idCol, q.userIds.length ? q.userIds : [0]);
    if (q.accounts.length) w.orWhereIn(accountCol, q.accounts);
  };
  // Columns: k, i1, i2, i3, i4, s1, s2, s3, s4, s5 (names come from the first branch).
  const rows: any[] = await conn('units').select(conn.raw("'u' as k"), 'id as i1', 'parent_id as i2', 'has_sections as i3', 'require_query_request as i4', 'kind as s1', 'code as s2', 'name as s3', 'status as s4', 'case_no_pattern as s5')
    .unionAll((b: any) => b.from('users').where((w: any) => who(w, 'id', 'account')).select(conn.raw("'p'"), 'id', 'unit_id', N, N, 'account', 'name', 'status', 'disable_on', N))
    .unionAll((b: any) => b.from('user_permissions as p').join('users as pu', 'pu.id', 'p.user_id').join('scopes as ps', 'ps.id', 'p.scope_id').join('op_codes as po', 'po.id', 'p.op_code_id')
      .where((w: any) => who(w, 'pu.id', 'pu.account')).select(conn.raw("'m'"), 'p.user_id', N, N, N, 'ps.code', 'po.code', N, N, N))
    .unionAll((b: any) => b.from('op_codes').where('active', true).select(conn.raw("'o'"), N, N, N, N, 'code', N, N, N, N))
    .unionAll((b: any) => b.from('unit_scopes as us').join('scopes as ls', 'ls.id', 'us.scope_id').where('us.status', 'active').andWhere('ls.active', true)
      .select(conn.raw("'l'"), 'us.unit_id', N, N, N, 'ls.code', N, N, N, N))
    .unionAll((b: any) => b.from('query_requests as r').join('scopes as rs', 'rs.id', 'r.scope_id').whereIn('r.id', q.formIds.length ? q.formIds : [0])
      .select(conn.raw("'f'"), 'r.id', 'r.requester_id', 'r.unit_id', N, 'rs.code', 'r.status', 'r.valid_from', 'r.valid_to', 'r.case_no'))
    .unionAll((b: any) => b.from('query_requests as c').join('users as cu', 'cu.id', 'c.requester_id').whereIn('c.case_no', q.formIds.length && q.caseNos?.length ? q.caseNos : ['']).andWhere((w: any) => who(w, 'cu.id', 'cu.account'))
      .select(conn.raw("'c'"), 'c.id', 'c.requester_id', 'c.unit_id', N, N, 'c.status', N, N, 'c.case_no'));
  const out: RecordingLookups = { units: [], users: [], perms: new Map(), agencyScopes: new Map(), settings: new Map(), opCodes: new Set(), forms: new Map(), formsByCaseNo: [] };
  const add = (m: Map<number, Set<string>>, id: number, v: string) => { if (!m.has(id)) m.set(id, new Set()); m.get(id)!.add(v); };
  for (const r of rows) {
    // A UNION's column types are the widest of its branches: numbers may come back as text.
    const i1 = r.i1 == null ? null : Number(r.i1);
    switch (r.k) {
      case 'u':
        out.units.push({ id: i1!, parent_id: r.i2 == null ? null : Number(r.i2), has_sections: Boolean(Number(r.i3)), kind: r.s1, code: r.s2, name: r.s3, status: r.s4 });
        out.settings.set(i1!, { require_query_request: Boolean(Number(r.i4)), case_no_pattern: r.s5 ?? null });
        break;
      case 'p': out.users.push({ id: i1!, unit_id: Number(r.i2), account: r.s1, name: r.s2, status: r.s3, disable_on: r.s4 ?? null, roles: [] }); break;
      case 'm': add(out.perms, i1!, `${r.s1}|${r.s2}`); break;
      case 'o': out.opCodes.add(r.s1); break;
      case 'l': add(out.agencyScopes, i1!, r.s1); break;
      case 'f': out.forms.set(i1!, { id: i1!, requester_id: Number(r.i2), unit_id: Number(r.i3), scope_code: r.s1, status: r.s2, valid_from: r.s3, valid_to: r.s4, case_no: r.s5 }); break;
      case 'c': out.formsByCaseNo.push({ id: i1!, requester_id: Number(r.i2), unit_id: Number(r.i3), scope_code: '', status: r.s2, valid_from: '', valid_to: '', case_no: r.s5 }); break;
    }
  }
  out.units.sort((a, b) => a.id - b.id);
  return out;
}

async function attachRoles(conn: Conn, users: any[]): Promise<UserRow[]> {
  if (!users.length) return [];
  const roles = await conn('user_roles').whereIn('user_id', users.map((u) => u.id)).select('user_id', 'role');
  return users.map((u) => ({ ...u, id: Number(u.id), unit_id: Number(u.unit_id), roles: roles.filter((r: any) => Number(r.user_id) === Number(u.id)).map((r: any) => r.role) }));
}

export const scopeRows = (conn: Conn): Promise<Array<{ id: number; code: string; title: string; active: number | boolean; clause: string }>> =>
  conn('scopes').orderBy('sort').select('id', 'code', 'title', 'active', 'clause');
export const opCodeRows = (conn: Conn): Promise<Array<{ code: string; name: string }>> => conn('op_codes').where({ active: true }).orderBy('code').select('code', 'name');

// ---- query request forms ----
const REQUEST_COLS = ['r.id', 'r.unit_id', 'r.requester_id', 'r.case_no', 'r.purpose', 'r.scope_id', 's.code as scope_code', 's.title as scope_title', 'r.expected_subjects_cipher',
  'r.valid_from', 'r.valid_to', 'r.status', 'r.decided_by', 'r.decided_at', 'r.decision_note', 'r.created_at', 'u.account as requester_account', 'u.name as requester_name',
  'un.code as unit_code', 'un.name as unit_name', 'd.account as decider_account', 'd.name as decider_name'];

export function queryRequestQuery(conn: Conn) {
  return conn('query_requests as r').join('scopes as s', 's.id', 'r.scope_id').join('users as u', 'u.id', 'r.requester_id').join('units as un', 'un.id', 'r.unit_id')
    .leftJoin('users as d', 'd.id', 'r.decided_by').select(REQUEST_COLS);
}
export const queryRequestById = (conn: Conn, id: number): Promise<any> => queryRequestQuery(conn).where('r.id', id).first();
export const insertQueryRequest = (conn: Conn, row: Record<string, unknown>): Promise<number> => insertId(conn, 'query_requests', row);
export async function decideQueryRequestRow(conn: Conn, id: number, row: { status: string; decided_by: number; decided_at: number; decision_note: string | null }): Promise<number> {
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
  /** With subjectHmac: the batch entries (queries/batch.ts) that hold the subject; they match too. */
  batchEntryIds?: number[];
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
  if (f.subjectHmac && f.batchEntryIds?.length) q.where((w: any) => w.where('l.subject_hmac', f.subjectHmac).orWhereIn('l.id', f.batchEntryIds));
  else if (f.subjectHmac) q.where('l.subject_hmac', f.subjectHmac);
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
  return q.first([...LOG_COLS, 'l.subject_hmac', 'l.subject_cipher', 'l.prev_hash']);
}

// ---- service tokens ----
export const tokensIn = (conn: Conn, unitIds: number[] | null): Promise<any[]> => {
  const q = conn('service_tokens as t').join('units as un', 'un.id', 't.unit_id').join('users as u', 'u.id', 't.user_id')
    .orderBy('t.id', 'desc').select('t.id', 't.name', 't.status', 't.created_at', 't.revoked_at', 't.last_used_at', 'un.code as unit_code', 'un.name as unit_name', 'u.account');
  if (unitIds) q.whereIn('t.unit_id', unitIds.length ? unitIds : [-1]);
  return q;
};

/** The batch entries (queries/batch.ts) whose subjects include the one with this HMAC (index on batch_subjects.subject_hmac). */
export async function batchEntriesWith(conn: Conn, subjectHmac: string): Promise<number[]> {
  // A destroyed entry (clause 4(二)) no longer names anyone: its batch subjects do not find it.
  return (await conn('batch_subjects as b').join('query_logs as l', 'l.id', 'b.entry_id').where('b.subject_hmac', subjectHmac).whereNull('l.destruction_id')
    .orderBy('b.entry_id').pluck('b.entry_id')).map(Number);
}

/** Serialises one account's reveal-class acts (a row lock on MariaDB; SQLite's writer lock by an update). */
export async function lockAccount(conn: Conn, userId: number): Promise<void> {
  if (isMysql(conn)) await conn('users').where({ id: userId }).forUpdate().first('id');
  else await conn('users').where({ id: userId }).update({ id: userId });
}

