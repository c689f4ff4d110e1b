// Accounts: knex only. Policy lives in service.ts and delegation.ts.
import type { Conn } from '../db.ts';
import { insertId, parseJson } from '../db.ts';
import type { Perm, TreeUnit, World } from './delegation.ts';
import { whereActiveNow } from './active.ts';

export interface UserRow {
  id: number;
  account: string;
  name: string;
  unit_id: number;
  rank: string;
  title: string | null;
  email: string | null;
  phone: string | null;
  person_hmac: string | null;
  auth_source: string;
  status: string;
  disable_on: string | null;
  disabled_at: number | null;
  disabled_reason: string | null;
  last_login_at: number | null;
  last_login_ip: string | null;
  password_changed_at: number | null;
  must_change_password: number | boolean;
  activation_expires_at: number | null;
  failed_logins: number;
  locked_until: number | null;
  created_by: number | null;
  created_at: number;
}

export const USER_COLS = ['id', 'account', 'name', 'unit_id', 'rank', 'title', 'email', 'phone', 'person_hmac', 'auth_source', 'status', 'disable_on', 'disabled_at', 'disabled_reason', 'last_login_at', 'last_login_ip', 'password_changed_at', 'must_change_password', 'activation_expires_at', 'failed_logins', 'locked_until', 'created_by', 'created_at'];

export async function loadWorld(conn: Conn): Promise<World> {
  const units = await conn('units').orderBy('id').select('id', 'parent_id', 'kind', 'status', 'has_sections');
  const links = await conn('unit_scopes as us').join('scopes as s', 's.id', 'us.scope_id').where('us.status', 'active').andWhere('s.active', true).select('us.unit_id', 's.code');
  const agencyScopes = new Map<number, string[]>();
  for (const l of links) agencyScopes.set(l.unit_id, [...(agencyScopes.get(l.unit_id) ?? []), l.code]);
  const opCodes = await conn('op_codes').where({ active: true }).pluck('code');
  return {
    units: units.map((u: any): TreeUnit => ({ id: u.id, parentId: u.parent_id, kind: u.kind, status: u.status, hasSections: !!u.has_sections })),
    agencyScopes,
    opCodes,
  };
}

export const rolesOf = (conn: Conn, userId: number): Promise<string[]> => conn('user_roles').where({ user_id: userId }).orderBy('role').pluck('role');

export async function permsOf(conn: Conn, userId: number): Promise<Perm[]> {
  const rows = await conn('user_permissions as p').join('scopes as s', 's.id', 'p.scope_id').join('op_codes as o', 'o.id', 'p.op_code_id')
    .where('p.user_id', userId).orderBy(['s.sort', 'o.code']).select('s.code as scope', 'o.code as opCode');
  return rows.map((r: any) => ({ scope: r.scope, opCode: r.opCode }));
}

export const userById = (conn: Conn, id: number): Promise<UserRow | undefined> => conn('users').where({ id }).first(USER_COLS);
export const userByAccount = (conn: Conn, account: string): Promise<UserRow | undefined> => conn('users').where({ account }).first(USER_COLS);

export async function listUsers(conn: Conn, f: { unitIds: number[]; status?: string; q?: string; limit: number; offset: number }): Promise<{ rows: Array<UserRow & { unit_code: string; unit_name: string }>; total: number }> {
  const base = conn('users as u').join('units as n', 'n.id', 'u.unit_id').whereIn('u.unit_id', f.unitIds.length ? f.unitIds : [-1]);
  if (f.status) base.where('u.status', f.status);
  if (f.q) base.where((w) => w.where('u.account', 'like', `%${f.q}%`).orWhere('u.name', 'like', `%${f.q}%`));
  const [{ n }] = await base.clone().count({ n: '*' });
  const rows = await base.orderBy(['n.code', 'u.account']).limit(f.limit).offset(f.offset).select([...USER_COLS.map((c) => `u.${c}`), 'n.code as unit_code', 'n.name as unit_name']);
  return { rows, total: Number(n) };
}

export async function rolesFor(conn: Conn, userIds: number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  if (!userIds.length) return out;
  for (const r of await conn('user_roles').whereIn('user_id', userIds).orderBy('role').select('user_id', 'role')) out.set(r.user_id, [...(out.get(r.user_id) ?? []), r.role]);
  return out;
}

export async function insertUser(conn: Conn, row: Record<string, unknown>): Promise<number> {
  return insertId(conn, 'users', row);
}

export async function setRoles(conn: Conn, userId: number, roles: readonly string[], at: number, by: number | null): Promise<void> {
  await conn('user_roles').where({ user_id: userId }).del();
  if (roles.length) await conn('user_roles').insert(roles.map((role) => ({ user_id: userId, role, granted_at: at, granted_by: by })));
}

export async function setPerms(conn: Conn, userId: number, perms: readonly Perm[], at: number): Promise<void> {
  await conn('user_permissions').where({ user_id: userId }).del();
  if (!perms.length) return;
  const scopes = new Map<string, number>((await conn('scopes').select('id', 'code')).map((s: any) => [s.code, s.id]));
  const ops = new Map<string, number>((await conn('op_codes').select('id', 'code')).map((o: any) => [o.code, o.id]));
  const seen = new Set<string>();
  const rows = [];
  for (const p of perms) {
    const k = `${p.scope}/${p.opCode}`;
    if (seen.has(k)) continue;
    seen.add(k);
    rows.push({ user_id: userId, scope_id: scopes.get(p.scope), op_code_id: ops.get(p.opCode), granted_at: at });
  }
  await conn('user_permissions').insert(rows);
}

export const updateUser = (conn: Conn, id: number, patch: Record<string, unknown>) => conn('users').where({ id }).update(patch);
export const endSessions = (conn: Conn, userId: number) => conn('sessions').where({ user_id: userId }).del();

// --- units ---
export interface UnitFull { id: number; code: string; name: string; kind: string; parent_id: number | null; has_sections: number | boolean; status: string; created_at: number; closed_at: number | null }
const UNIT_COLS = ['id', 'code', 'name', 'kind', 'parent_id', 'has_sections', 'status', 'created_at', 'closed_at'];
export const allUnitsFull = (conn: Conn): Promise<UnitFull[]> => conn('units').orderBy('code').select(UNIT_COLS);
export const unitFull = (conn: Conn, id: number): Promise<UnitFull | undefined> => conn('units').where({ id }).first(UNIT_COLS);
export const unitFullByCode = (conn: Conn, code: string): Promise<UnitFull | undefined> => conn('units').where({ code }).first(UNIT_COLS);
export const insertUnit = (conn: Conn, row: Record<string, unknown>) => insertId(conn, 'units', row);
export const updateUnit = (conn: Conn, id: number, patch: Record<string, unknown>) => conn('units').where({ id }).update(patch);

export async function unitScopeRows(conn: Conn): Promise<Array<{ unit_id: number; code: string; status: string; authorised_on: string | null; terminated_on: string | null }>> {
  return conn('unit_scopes as us').join('scopes as s', 's.id', 'us.scope_id').orderBy('s.sort').select('us.unit_id', 's.code', 'us.status', 'us.authorised_on', 'us.terminated_on');
}
export const scopeIdByCode = async (conn: Conn, code: string): Promise<number | undefined> => (await conn('scopes').where({ code }).first('id'))?.id;
/** Every scope's clause and title and every op code's name, for labels a person reads. */
export const scopeNames = (conn: Conn): Promise<Array<{ code: string; clause: string; title: string }>> => conn('scopes').orderBy('sort').select('code', 'clause', 'title');
export const opCodeNames = (conn: Conn): Promise<Array<{ code: string; name: string }>> => conn('op_codes').orderBy('code').select('code', 'name');
export const activeScopeCodes = (conn: Conn): Promise<string[]> => conn('scopes').where({ active: true }).orderBy('sort').pluck('code');

export const countUsersIn = async (conn: Conn, unitIds: number[], statuses: string[]): Promise<number> =>
  Number((await conn('users').whereIn('unit_id', unitIds).whereIn('status', statuses).count({ n: '*' }))[0].n);

/** Users in the units whose permissions name a scope outside `scopes`. */
export async function permsOutside(conn: Conn, unitIds: number[], scopes: string[]): Promise<number> {
  const q = conn('user_permissions as p').join('users as u', 'u.id', 'p.user_id').join('scopes as s', 's.id', 'p.scope_id').whereIn('u.unit_id', unitIds);
  if (scopes.length) q.whereNotIn('s.code', scopes);
  return Number((await q.countDistinct({ n: 'p.user_id' }))[0].n);
}
export async function revokeScope(conn: Conn, unitIds: number[], scopeId: number): Promise<number> {
  const users = await conn('users').whereIn('unit_id', unitIds).pluck('id');
  if (!users.length) return 0;
  return conn('user_permissions').whereIn('user_id', users).andWhere({ scope_id: scopeId }).del();
}

// --- account requests ---
export interface AccountRequestRow {
  id: number;
  kind: string;
  status: string;
  unit_id: number;
  target_user_id: number | null;
  payload: Record<string, any>;
  reason: string;
  requested_by: number;
  requested_at: number;
  decided_by: number | null;
  decided_at: number | null;
  executed_by: number | null;
  executed_at: number | null;
  result_user_id: number | null;
}
const fromRequest = (r: any): AccountRequestRow => ({ ...r, payload: parseJson(r.payload, {}) });

export const insertAccountRequest = (conn: Conn, row: Omit<AccountRequestRow, 'id' | 'payload' | 'decided_by' | 'decided_at' | 'executed_by' | 'executed_at' | 'result_user_id'> & { payload: unknown }) =>
  insertId(conn, 'account_requests', { ...row, payload: JSON.stringify(row.payload) });

export async function accountRequestById(conn: Conn, id: number): Promise<AccountRequestRow | undefined> {
  const r = await conn('account_requests').where({ id }).first();
  return r ? fromRequest(r) : undefined;
}
export async function listAccountRequests(conn: Conn, f: { unitIds?: number[]; status?: string[]; requestedBy?: number; limit: number; offset: number }): Promise<{ rows: AccountRequestRow[]; total: number }> {
  const q = conn('account_requests');
  if (f.unitIds) q.whereIn('unit_id', f.unitIds.length ? f.unitIds : [-1]);
  if (f.status) q.whereIn('status', f.status);
  if (f.requestedBy) q.where('requested_by', f.requestedBy);
  const [{ n }] = await q.clone().count({ n: '*' });
  const rows = await q.orderBy('id', 'desc').limit(f.limit).offset(f.offset).select();
  return { rows: rows.map(fromRequest), total: Number(n) };
}
/** Moves a request from one status to the next; 0 when someone else moved it first. */
export const moveAccountRequest = (conn: Conn, id: number, from: string, patch: Record<string, unknown>): Promise<number> =>
  conn('account_requests').where({ id, status: from }).update(patch);

export const insertStep = (conn: Conn, row: { request_id: number; step: string; actor_id: number | null; actor_account: string | null; at: number; note: string | null; ip: string | null }) =>
  conn('account_request_steps').insert(row);
export const stepsOf = (conn: Conn, requestId: number) => conn('account_request_steps').where({ request_id: requestId }).orderBy('id').select();

export async function accountsByIds(conn: Conn, ids: number[]): Promise<Map<number, { account: string; name: string }>> {
  const uniq = [...new Set(ids.filter((x) => x != null))];
  if (!uniq.length) return new Map();
  return new Map((await conn('users').whereIn('id', uniq).select('id', 'account', 'name')).map((u: any) => [u.id, { account: u.account, name: u.name }]));
}

// --- reviews ---
export const insertReview = (conn: Conn, row: Record<string, unknown>) => insertId(conn, 'account_reviews', row);
export const updateReview = (conn: Conn, id: number, patch: Record<string, unknown>) => conn('account_reviews').where({ id }).update(patch);
export const insertReviewItems = async (conn: Conn, rows: Record<string, unknown>[]) => {
  for (let i = 0; i < rows.length; i += 200) await conn('review_items').insert(rows.slice(i, i + 200));
};
export const reviewById = (conn: Conn, id: number) => conn('account_reviews').where({ id }).first();
export const listReviews = (conn: Conn, limit = 50) => conn('account_reviews').orderBy('id', 'desc').limit(limit).select();
export async function reviewItems(conn: Conn, f: { reviewId?: number; unitIds?: number[]; status?: string; id?: number }) {
  const q = conn('review_items as i').join('users as u', 'u.id', 'i.user_id').join('units as n', 'n.id', 'i.unit_id');
  if (f.id) q.where('i.id', f.id);
  if (f.reviewId) q.where('i.review_id', f.reviewId);
  if (f.unitIds) q.whereIn('i.unit_id', f.unitIds.length ? f.unitIds : [-1]);
  if (f.status) q.where('i.status', f.status);
  const rows = await q.orderBy('i.id').select('i.*', 'u.account', 'u.name as user_name', 'u.status as user_status', 'n.code as unit_code', 'n.name as unit_name');
  return rows.map((r: any) => ({ ...r, detail: parseJson(r.detail, {}) }));
}
export const moveReviewItem = (conn: Conn, id: number, patch: Record<string, unknown>) => conn('review_items').where({ id, status: 'open' }).update(patch);

// --- the to-do list (server/todos, issue 18) ----------------------------------------------------

/** Active accounts in these units whose scheduled disable (3(二)1(6)(7)) falls on or before `by`. */
export const disablesDue = (conn: Conn, unitIds: number[], by: string): Promise<Array<{ id: number; unit_id: number; disable_on: string }>> =>
  conn('users').whereIn('unit_id', unitIds.length ? unitIds : [-1]).andWhere('status', 'active').whereNotNull('disable_on').andWhere('disable_on', '<=', by)
    .select('id', 'unit_id', 'disable_on').orderBy('disable_on');

/** Accounts active now in `unitIds` with their e-mail address as stored (account review: who mail cannot reach, issue 18). */
export const activeWithEmail = (conn: Conn, unitIds: number[]): Promise<Array<{ id: number; account: string; name: string; email: string | null; unit_id: number; unit_code: string; unit_name: string }>> =>
  whereActiveNow(conn('users as u').join('units as n', 'n.id', 'u.unit_id'), 'u.').whereIn('u.unit_id', unitIds)
    .select('u.id', 'u.account', 'u.name', 'u.email', 'u.unit_id', 'n.code as unit_code', 'n.name as unit_name').orderBy('u.account');
