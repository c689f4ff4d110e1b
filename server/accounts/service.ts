// Accounts (clause 3): the unit tree, account requests and their sign-off, provisioning with
// one-time activation codes, job changes and hand-over. No Express here: routes parse and call,
// this module decides (with the pure rules of delegation.ts) and writes in one transaction.
import crypto from 'node:crypto';
import type { Config } from '../config.ts';
import type { Conn, Db } from '../db.ts';
import { isUniqueViolation } from '../db.ts';
import { isIsoDate, localDate, now, ROC_DATE_HINT } from '../time.ts';
import { REQUEST_KIND_LABELS } from '../labels.ts';
import { recordEvent } from '../events/service.ts';
import { conflict, fieldError, forbidden, notFound, Problem, validation, type FieldError } from '../problem.ts';
import { hashPassword } from '../auth/passwords.ts';
import { clearStreaks } from '../auth/repo.ts';
import { subjectHmac, isNationalId, isResidentCertificate } from '../queries/subject.ts';
import { isRole, RANKS } from './roles.ts';
import {
  actorScopeReach, agencyOfUnit, canApprove, canFile, canHandOver, canManageUser, grantProblems, isAdmin, provisionKind, scopesForUnit, subtree,
  type Grant, type Perm, type Principal, type World,
} from './delegation.ts';
import * as repo from './repo.ts';
import type { Actor } from '../actor.ts';

const HOUR = 3_600_000;


const evActor = (w: Actor) => ({ id: w.id, account: w.account, ip: w.ip });
const principalOf = (w: Actor): Principal => ({ id: w.id, unitId: w.unitId, roles: w.roles });

async function targetPrincipal(conn: Conn, userId: number): Promise<(Principal & { row: repo.UserRow }) | undefined> {
  const row = await repo.userById(conn, userId);
  if (!row) return undefined;
  return { id: row.id, unitId: row.unit_id, roles: await repo.rolesOf(conn, row.id), row };
}

/** A one-time activation code: 20 characters from an unambiguous alphabet, shown once. */
export function activationCode(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  let s = '';
  for (let i = 0; i < 20; i++) s += alphabet[crypto.randomInt(alphabet.length)];
  return s.replace(/(.{5})(?!$)/g, '$1-');
}

// ---------------------------------------------------------------------------------------------
// Units (計畫處 → 業務機關 → 轄屬機關/單位)

export interface UnitView {
  id: number; code: string; name: string; kind: string; parentId: number | null; hasSections: boolean; status: string;
  scopes: string[]; closedAt: number | null;
}

export async function listUnits(db: Db): Promise<UnitView[]> {
  const units = await repo.allUnitsFull(db);
  const links = await repo.unitScopeRows(db);
  return units.map((u) => ({
    id: u.id, code: u.code, name: u.name, kind: u.kind, parentId: u.parent_id, hasSections: !!u.has_sections, status: u.status, closedAt: u.closed_at,
    scopes: links.filter((l) => l.unit_id === u.id && l.status === 'active').map((l) => l.code),
  }));
}

/**
 * What the account request form may offer the filer: the active units they may file for (canFile:
 * their own unit and what lies under it) and, per unit, the scopes authorised to its agency within
 * the filer's own scope reach. Offering nothing the service would refuse keeps the form honest.
 */
export async function requestFormChoices(db: Db, who: Actor): Promise<{ units: Array<UnitView & { grantable: string[] }>; scopeCodes: string[] }> {
  const world = await repo.loadWorld(db);
  const me = principalOf(who);
  const reach = actorScopeReach(world, me);
  const units = (await listUnits(db)).filter((u) => u.status === 'active' && canFile(world, me, u.id))
    .map((u) => ({ ...u, grantable: scopesForUnit(world, u.id).filter((c) => reach.has(c)) }));
  return { units, scopeCodes: [...new Set(units.flatMap((u) => u.grantable))] };
}

/** Units an admin may place a new unit under (createUnit's rule): the county for the planning admin, else their own subtree. */
export async function parentChoices(db: Db, who: Actor): Promise<UnitView[]> {
  const world = await repo.loadWorld(db);
  const mine = subtree(world, who.unitId);
  return (await listUnits(db)).filter((u) => u.status === 'active' && (who.roles.includes('planning_admin') || mine.has(u.id)));
}

/** Names for permissions a person reads (「二(一) 身心障礙者…」, 「IN01 保險對象投保資料查詢」), never bare codes. */
export interface PermissionNames { scope(code: string): string; op(code: string): string; perm(p: Perm): string }
export async function permissionNames(db: Db): Promise<PermissionNames> {
  const scopes = new Map((await repo.scopeNames(db)).map((x) => [x.code, `${x.clause} ${x.title}`]));
  const ops = new Map((await repo.opCodeNames(db)).map((x) => [x.code, `${x.code} ${x.name}`]));
  const scope = (c: string) => scopes.get(c) ?? c;
  const op = (c: string) => ops.get(c) ?? c;
  return { scope, op, perm: (p) => `${scope(p.scope)}／${op(p.opCode)}` };
}

/**
 * Who may change a unit: the planning admin anywhere; an admin for units below its own, and its
 * own unit's name and sections (moving or closing its own unit is for the level above).
 */
function mayEditUnit(world: World, who: Actor, unitId: number, structural: boolean): boolean {
  if (who.roles.includes('planning_admin')) return true;
  if (!who.roles.includes('admin')) return false;
  if (unitId === who.unitId) return !structural;
  return subtree(world, who.unitId).has(unitId);
}

export async function createUnit(db: Db, who: Actor, input: { code: string; name: string; parent: string; hasSections: boolean }): Promise<number> {
  const world = await repo.loadWorld(db);
  const parent = await repo.unitFullByCode(db, input.parent);
  if (!parent) throw fieldError('parent', `找不到上級單位：${input.parent}`);
  if (parent.status !== 'active') throw fieldError('parent', '上級單位已裁撤。');
  if (!(who.roles.includes('planning_admin') || (who.roles.includes('admin') && subtree(world, who.unitId).has(parent.id)))) {
    throw forbidden('您僅能在自己的機關（單位）之下新增單位。');
  }
  if (await repo.unitFullByCode(db, input.code)) throw fieldError('code', `單位代碼 ${input.code} 已存在。`);
  const kind = parent.kind === 'planning' ? 'agency' : 'unit';
  return db.transaction(async (trx) => {
    try {
      const id = await repo.insertUnit(trx, { code: input.code, name: input.name, kind, parent_id: parent.id, has_sections: input.hasSections, status: 'active', created_at: now() });
      await recordEvent(trx, evActor(who), { action: 'unit-create', targetType: 'unit', targetId: id, unitId: id, detail: { code: input.code, name: input.name, parent: parent.code, kind } });
      return id;
    } catch (e) {
      if (isUniqueViolation(e)) throw fieldError('code', `單位代碼 ${input.code} 已存在。`);
      throw e;
    }
  });
}

/** Rename, move, mark sections, or close a unit. Units are never deleted: their history stays. */
export async function updateUnit(db: Db, who: Actor, id: number, input: { name?: string; parent?: string; hasSections?: boolean; close?: boolean }): Promise<void> {
  const world = await repo.loadWorld(db);
  const unit = await repo.unitFull(db, id);
  if (!unit) throw notFound('找不到指定的單位。');
  if (!subtree(world, who.unitId).has(id) && !who.roles.includes('planning_admin')) throw notFound('找不到指定的單位。');
  if (!mayEditUnit(world, who, id, input.parent !== undefined || !!input.close)) throw forbidden('您不得變更此單位（自己的單位僅能更名或設定股別；移動或裁撤由上一層級辦理）。');
  if (unit.status !== 'active') throw conflict('unit-closed', '此單位已裁撤，不得再變更。');
  const patch: Record<string, unknown> = {};
  const detail: Record<string, unknown> = {};
  if (input.name !== undefined && input.name !== unit.name) {
    patch.name = input.name;
    detail.name = { from: unit.name, to: input.name };
  }
  if (input.hasSections !== undefined && !!unit.has_sections !== input.hasSections) {
    patch.has_sections = input.hasSections;
    detail.hasSections = input.hasSections;
  }
  if (input.parent !== undefined) {
    const parent = await repo.unitFullByCode(db, input.parent);
    if (!parent) throw fieldError('parent', `找不到上級單位：${input.parent}`);
    if (parent.id !== unit.parent_id) {
      if (unit.kind === 'planning') throw fieldError('parent', '計畫處為單位樹的根，不得移動。');
      if (parent.status !== 'active') throw fieldError('parent', '上級單位已裁撤。');
      if (subtree(world, id).has(parent.id)) throw fieldError('parent', '不得將單位移至其下屬單位之下。');
      const kind = parent.kind === 'planning' ? 'agency' : 'unit';
      if (kind !== unit.kind) throw fieldError('parent', unit.kind === 'agency' ? '業務機關須直屬計畫處。' : '轄屬單位須在業務機關之下。');
      if (!who.roles.includes('planning_admin') && !subtree(world, who.unitId).has(parent.id)) throw forbidden('不得將單位移出您的機關。');
      // Permissions are never wider than the new agency's authorisation.
      const newAgency = agencyOfUnit(world, parent.id);
      const outside = await repo.permsOutside(db, [...subtree(world, id)], newAgency ? [...(world.agencyScopes.get(newAgency.id) ?? [])] : []);
      if (outside) throw conflict('permissions-outside-agency', `此單位有 ${outside} 位使用者的查詢權限超出新機關的授權範圍，請先調整權限再移動。`);
      patch.parent_id = parent.id;
      detail.parent = { from: unit.parent_id, to: parent.code };
    }
  }
  if (input.close) {
    const below = [...subtree(world, id)];
    const liveChildren = world.units.filter((u) => u.parentId === id && u.status === 'active').length;
    if (liveChildren) throw conflict('unit-has-children', `此單位尚有 ${liveChildren} 個未裁撤的下屬單位，請先處理。`);
    const live = await repo.countUsersIn(db, below, ['active', 'pending']);
    if (live) throw conflict('unit-has-users', `此單位尚有 ${live} 個未停用的帳號，請先停用或移轉。`);
    patch.status = 'closed';
    patch.closed_at = now();
    detail.closed = true;
  }
  if (!Object.keys(patch).length) return;
  await db.transaction(async (trx) => {
    await repo.updateUnit(trx, id, patch);
    await recordEvent(trx, evActor(who), { action: input.close ? 'unit-close' : patch.parent_id ? 'unit-move' : 'unit-update', targetType: 'unit', targetId: id, unitId: id, detail });
  });
}

/**
 * The agency's authorised business scopes (業務機關 × 業務範圍), set by the planning department.
 * A withdrawn scope is terminated (kept as history) and taken out of every permission set below.
 */
export async function setUnitScopes(db: Db, who: Actor, id: number, scopes: string[]): Promise<{ added: string[]; terminated: string[]; revoked: number }> {
  if (!who.roles.includes('planning_admin')) throw forbidden('業務範圍授權由計畫處管理者設定。');
  const unit = await repo.unitFull(db, id);
  if (!unit) throw notFound('找不到指定的單位。');
  if (unit.kind !== 'agency') throw fieldError('scopes', '業務範圍授權以業務機關為單位，轄屬單位沿用其機關之授權。');
  const known = await repo.activeScopeCodes(db);
  const bad = scopes.filter((s) => !known.includes(s));
  if (bad.length) throw fieldError('scopes', `不存在或已刪除的業務範圍：${bad.join('、')}`);
  const world = await repo.loadWorld(db);
  const current = await repo.unitScopeRows(db);
  const mine = current.filter((l) => l.unit_id === id);
  const active = mine.filter((l) => l.status === 'active').map((l) => l.code);
  const added = scopes.filter((s) => !active.includes(s));
  const terminated = active.filter((s) => !scopes.includes(s));
  const t = now();
  const today = localDate(t);
  let revoked = 0;
  await db.transaction(async (trx) => {
    for (const code of added) {
      const scopeId = (await repo.scopeIdByCode(trx, code))!;
      if (mine.some((l) => l.code === code)) await trx('unit_scopes').where({ unit_id: id, scope_id: scopeId }).update({ status: 'active', authorised_on: today, terminated_on: null });
      else await trx('unit_scopes').insert({ unit_id: id, scope_id: scopeId, status: 'active', authorised_on: today, created_at: t });
    }
    for (const code of terminated) {
      const scopeId = (await repo.scopeIdByCode(trx, code))!;
      await trx('unit_scopes').where({ unit_id: id, scope_id: scopeId }).update({ status: 'terminated', terminated_on: today });
      revoked += await repo.revokeScope(trx, [...subtree(world, id)], scopeId);
    }
    if (added.length || terminated.length) {
      await recordEvent(trx, evActor(who), { action: 'unit-scopes', targetType: 'unit', targetId: id, unitId: id, detail: { added, terminated, permissionsRevoked: revoked } });
    }
  });
  return { added, terminated, revoked };
}

// ---------------------------------------------------------------------------------------------
// Users

export interface UserView {
  id: number; account: string; name: string; unit: { id: number; code: string; name: string }; rank: string; title: string | null;
  roles: string[]; authSource: string; status: string; disableOn: string | null; lastLoginAt: number | null; locked: boolean;
  passwordChangedAt: number | null; activationExpiresAt: number | null;
}

function userView(r: repo.UserRow & { unit_code?: string; unit_name?: string }, roles: string[], t = now()): UserView {
  return {
    id: r.id, account: r.account, name: r.name, unit: { id: r.unit_id, code: r.unit_code ?? '', name: r.unit_name ?? '' }, rank: r.rank, title: r.title,
    roles, authSource: r.auth_source, status: r.status, disableOn: r.disable_on, lastLoginAt: r.last_login_at == null ? null : Number(r.last_login_at),
    locked: !!r.locked_until && Number(r.locked_until) > t, passwordChangedAt: r.password_changed_at == null ? null : Number(r.password_changed_at),
    activationExpiresAt: r.activation_expires_at == null ? null : Number(r.activation_expires_at),
  };
}

/** Roles that may look at account lists; each sees its own unit's subtree. */
export const USER_READERS = ['planning_admin', 'admin', 'supervisor', 'auditor', 'ethics', 'it'] as const;

export async function listUsers(db: Db, who: Actor, f: { unit?: string; status?: string; q?: string; limit?: number; offset?: number }): Promise<{ items: UserView[]; total: number }> {
  const world = await repo.loadWorld(db);
  let unitIds = [...subtree(world, who.unitId)];
  if (f.unit) {
    const u = await repo.unitFullByCode(db, f.unit);
    if (!u) throw fieldError('unit', `找不到單位：${f.unit}`);
    if (!unitIds.includes(u.id)) throw forbidden('此單位不在您的管理範圍內。');
    unitIds = [...subtree(world, u.id)];
  }
  const { rows, total } = await repo.listUsers(db, { unitIds, status: f.status, q: f.q, limit: f.limit ?? 200, offset: f.offset ?? 0 });
  const roles = await repo.rolesFor(db, rows.map((r) => r.id));
  return { items: rows.map((r) => userView(r, roles.get(r.id) ?? [])), total };
}

export async function getUser(db: Db, who: Actor, id: number) {
  const world = await repo.loadWorld(db);
  const row = await repo.userById(db, id);
  if (!row) throw notFound('找不到指定的帳號。');
  if (!subtree(world, who.unitId).has(row.unit_id) && who.id !== id) throw forbidden('此帳號不在您的管理範圍內。');
  const unit = await repo.unitFull(db, row.unit_id);
  const roles = await repo.rolesOf(db, id);
  const target = { id, unitId: row.unit_id, roles };
  return {
    user: userView({ ...row, unit_code: unit?.code, unit_name: unit?.name }, roles),
    permissions: await repo.permsOf(db, id),
    manageable: canManageUser(world, principalOf(who), target),
    requests: (await db('account_requests').where((q) => q.where({ target_user_id: id }).orWhere({ result_user_id: id })).orderBy('id', 'desc').select('id', 'kind', 'status', 'requested_at')),
  };
}

/** Clears a lockout early (the admin responsible for the account). */
export async function unlockUser(db: Db, who: Actor, id: number): Promise<void> {
  const world = await repo.loadWorld(db);
  const target = await targetPrincipal(db, id);
  if (!target || !subtree(world, who.unitId).has(target.unitId)) throw notFound('找不到指定的帳號。');
  if (!(target.row.locked_until && Number(target.row.locked_until) > now())) throw conflict('not-locked', '此帳號目前未被鎖定。');
  if (!canManageUser(world, principalOf(who), target)) throw forbidden('此帳號不在您的配賦範圍內。');
  await db.transaction(async (trx) => {
    await repo.updateUser(trx, id, { failed_logins: 0, locked_until: null, updated_at: now() });
    // Every address's lock of the account ends too (locks are per account and address).
    await clearStreaks(trx, target.row.account);
    await recordEvent(trx, evActor(who), { action: 'unlock', targetType: 'user', targetId: id, unitId: target.unitId });
  });
}

/** A new activation code for a pending local account whose code was lost or has expired. */
export async function reissueActivation(db: Db, cfg: Config, who: Actor, id: number): Promise<{ activationCode: string; expiresAt: number }> {
  const world = await repo.loadWorld(db);
  const target = await targetPrincipal(db, id);
  if (!target || !subtree(world, who.unitId).has(target.unitId)) throw notFound('找不到指定的帳號。');
  if (target.row.status !== 'pending' || target.row.auth_source !== 'local') throw conflict('already-activated', '此帳號已啟用（或為目錄帳號），不需啟用碼。');
  if (!canManageUser(world, principalOf(who), target)) throw forbidden('此帳號不在您的配賦範圍內。');
  const code = activationCode();
  const expiresAt = now() + cfg.ACTIVATION_HOURS * HOUR;
  const hash = await hashPassword(code);
  await db.transaction(async (trx) => {
    await repo.updateUser(trx, id, { activation_hash: hash, activation_expires_at: expiresAt, updated_at: now() });
    await recordEvent(trx, evActor(who), { action: 'activation-issue', targetType: 'user', targetId: id, unitId: target.unitId, detail: { expiresAt: new Date(expiresAt).toISOString() } });
  });
  return { activationCode: code, expiresAt };
}

// ---------------------------------------------------------------------------------------------
// Account requests (clause 3(二)1(1)): filed → approved/rejected by the responsible supervisor →
// carried out by the admin. Every step is kept with who, when, why and from where.

export const REQUEST_KINDS = ['new', 'change', 'disable', 'handover'] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];
export const KIND_LABELS: Record<RequestKind, string> = REQUEST_KIND_LABELS;

export interface NewAccountInput {
  account: string;
  name: string;
  rank: string;
  title?: string;
  email?: string;
  phone?: string;
  authSource: 'local' | 'ldap';
  /** The person's national ID or resident certificate number; only its HMAC is kept. */
  personId?: string;
}

export interface AccountRequestInput {
  kind: RequestKind;
  reason: string;
  /** new: the unit code of the account to create. */
  unit?: string;
  /** change / disable / handover: the account concerned. */
  userId?: number;
  /** new: the account; handover: the successor. */
  person?: NewAccountInput;
  roles?: string[];
  permissions?: Perm[];
  rank?: string;
  /** disable: the effective date (defaults to today); the account stops at the start of that day. */
  disableOn?: string;
}

/** The admin who would carry out a grant in this unit: the unit's own admin, or the one above for admins. */
function responsibleAdmin(world: World, unitId: number, roles: readonly string[]): Principal {
  const unit = world.units.find((u) => u.id === unitId);
  const forAdmin = roles.includes('admin') && unit?.parentId != null;
  const at = forAdmin ? unit!.parentId! : unitId;
  const atUnit = world.units.find((u) => u.id === at);
  return { id: -1, unitId: at, roles: [atUnit?.kind === 'planning' ? 'planning_admin' : 'admin'] };
}

function asProblem(problems: FieldError[]): Problem {
  return validation(problems, problems.map((p) => p.message).join(' '));
}

function personHmac(cfg: Config, personId: string | undefined): string | null {
  if (!personId) return null;
  const v = personId.trim().toUpperCase();
  if (isNationalId(v)) return subjectHmac(cfg.SUBJECT_HMAC_KEY, { type: 'national-id', value: v });
  if (isResidentCertificate(v)) return subjectHmac(cfg.SUBJECT_HMAC_KEY, { type: 'resident-certificate', value: v });
  throw fieldError('personId', '身分證統一編號或居留證號格式或檢查碼不正確。');
}

function checkPerson(p: NewAccountInput | undefined, field = 'person'): FieldError[] {
  if (!p) return [{ field, message: '請填寫申請人資料。' }];
  const out: FieldError[] = [];
  if (!(RANKS as readonly string[]).includes(p.rank)) out.push({ field: `${field}.rank`, message: '職級不正確。' });
  return out;
}

/** Files a request. Checks now what can be checked (reach, roles, permissions) so a bad request never waits in an inbox. */
export async function fileAccountRequest(db: Db, cfg: Config, who: Actor, input: AccountRequestInput): Promise<number> {
  const world = await repo.loadWorld(db);
  const me = principalOf(who);
  let unitId: number;
  let targetUserId: number | null = null;
  const payload: Record<string, unknown> = {};
  const problems: FieldError[] = [];
  const unknownRoles = (input.roles ?? []).filter((r) => !isRole(r));
  if (unknownRoles.length) throw fieldError('roles', `不存在的角色：${unknownRoles.join('、')}`);

  if (input.kind === 'new') {
    const unit = input.unit ? await repo.unitFullByCode(db, input.unit) : undefined;
    if (!unit) throw fieldError('unit', input.unit ? `找不到單位：${input.unit}` : '請選擇單位。');
    unitId = unit.id;
    if (!canFile(world, me, unitId)) throw forbidden('您僅能為自己機關（單位）及其下屬單位提出帳號申請。');
    problems.push(...checkPerson(input.person));
    const p = input.person!;
    if (p && (await repo.userByAccount(db, p.account))) problems.push({ field: 'person.account', message: `帳號 ${p.account} 已存在。` });
    const roles = input.roles ?? [];
    if (p) problems.push(...grantProblems(world, responsibleAdmin(world, unitId, roles), { unitId, roles, permissions: input.permissions ?? [], rank: p.rank }).map((x) => ({ ...x, field: x.field === 'rank' ? 'person.rank' : x.field })));
    if (problems.length) throw asProblem(problems);
    Object.assign(payload, { account: p.account, name: p.name, rank: p.rank, title: p.title ?? null, email: p.email ?? null, phone: p.phone ?? null, authSource: p.authSource, personHmac: personHmac(cfg, p.personId), roles, permissions: input.permissions ?? [] });
  } else {
    if (!input.userId) throw fieldError('userId', '請指定帳號。');
    const target = await targetPrincipal(db, input.userId);
    if (!target) throw fieldError('userId', '找不到指定的帳號。');
    targetUserId = target.id;
    unitId = target.unitId;
    if (!canFile(world, me, unitId)) throw forbidden('您僅能為自己機關（單位）及其下屬單位提出帳號申請。');
    if (target.row.status === 'disabled') throw conflict('account-disabled', '此帳號已停用。');
    if (input.kind === 'change') {
      const roles = input.roles ?? target.roles;
      const rank = input.rank ?? target.row.rank;
      if (!(RANKS as readonly string[]).includes(rank)) problems.push({ field: 'rank', message: '職級不正確。' });
      problems.push(...grantProblems(world, responsibleAdmin(world, unitId, roles), { unitId, roles, permissions: input.permissions ?? [], rank }));
      if (problems.length) throw asProblem(problems);
      Object.assign(payload, { roles, permissions: input.permissions ?? [], rank, before: { roles: target.roles, permissions: await repo.permsOf(db, target.id), rank: target.row.rank } });
    } else if (input.kind === 'disable') {
      const today = localDate(now());
      const on = input.disableOn ?? today;
      if (!isIsoDate(on)) throw fieldError('disableOn', `停用日期無法辨識：${ROC_DATE_HINT}。`);
      if (on < today) throw fieldError('disableOn', '停用日期不得早於今日。');
      Object.assign(payload, { disableOn: on });
    } else {
      if (!isAdmin(target)) throw fieldError('userId', '交接僅適用於管理者帳號。');
      problems.push(...checkPerson(input.person, 'person'));
      if (input.person && (await repo.userByAccount(db, input.person.account))) problems.push({ field: 'person.account', message: `帳號 ${input.person.account} 已存在。` });
      if (problems.length) throw asProblem(problems);
      const p = input.person!;
      Object.assign(payload, { account: p.account, name: p.name, rank: p.rank, title: p.title ?? null, email: p.email ?? null, phone: p.phone ?? null, authSource: p.authSource, personHmac: personHmac(cfg, p.personId), roles: target.roles, predecessor: target.row.account });
    }
  }
  const t = now();
  return db.transaction(async (trx) => {
    const id = await repo.insertAccountRequest(trx, { kind: input.kind, status: 'pending', unit_id: unitId, target_user_id: targetUserId, payload, reason: input.reason, requested_by: who.id, requested_at: t });
    await repo.insertStep(trx, { request_id: id, step: 'filed', actor_id: who.id, actor_account: who.account, at: t, note: input.reason, ip: who.ip ?? null });
    await recordEvent(trx, evActor(who), { action: 'account-request', targetType: 'account-request', targetId: id, unitId, detail: { kind: input.kind, account: payload.account ?? null, targetUserId } });
    return id;
  });
}

export async function decideAccountRequest(db: Db, who: Actor, id: number, input: { decision: 'approve' | 'reject'; reason: string }): Promise<void> {
  const world = await repo.loadWorld(db);
  const req = await repo.accountRequestById(db, id);
  if (!req || !subtree(world, who.unitId).has(req.unit_id)) throw notFound('找不到指定的帳號申請。');
  if (req.status !== 'pending') throw conflict('already-decided', `此申請已${req.status === 'rejected' ? '駁回' : '核定'}，不得重複核定。`);
  if (req.requested_by === who.id) throw forbidden('不得核定自己提出的申請。');
  if (req.target_user_id === who.id) throw forbidden('不得核定與自己帳號有關的申請。');
  if (!canApprove(world, principalOf(who), { unitId: req.unit_id, requestedBy: req.requested_by, targetUserId: req.target_user_id })) {
    throw forbidden('僅申請單位（或其所屬機關）之權責主管可核定此申請。');
  }
  const status = input.decision === 'approve' ? 'approved' : 'rejected';
  const t = now();
  await db.transaction(async (trx) => {
    const moved = await repo.moveAccountRequest(trx, id, 'pending', { status, decided_by: who.id, decided_at: t });
    if (!moved) throw conflict('already-decided', '此申請已由他人核定，不得重複核定。');
    await repo.insertStep(trx, { request_id: id, step: status, actor_id: who.id, actor_account: who.account, at: t, note: input.reason, ip: who.ip ?? null });
    await recordEvent(trx, evActor(who), { action: 'account-request-decision', targetType: 'account-request', targetId: id, unitId: req.unit_id, detail: { decision: status } });
  });
}

export interface ExecuteResult {
  requestId: number;
  userId: number;
  account: string;
  /** Shown once to the admin carrying out a new local account; never stored in plain text. */
  activationCode?: string;
  activationExpiresAt?: number;
}

/** Carries out an approved request; the admin must be able to provision it (delegation rules). */
export async function executeAccountRequest(db: Db, cfg: Config, who: Actor, id: number): Promise<ExecuteResult> {
  const world = await repo.loadWorld(db);
  const me = principalOf(who);
  const req = await repo.accountRequestById(db, id);
  if (!req || !subtree(world, who.unitId).has(req.unit_id)) throw notFound('找不到指定的帳號申請。');
  if (req.status === 'pending') throw conflict('not-approved', '此申請尚未經權責主管核可，不得配賦。');
  if (req.status === 'rejected') throw conflict('rejected', '此申請已駁回，不得配賦。');
  if (req.status === 'done') throw conflict('already-executed', '此申請已完成配賦，不得重複執行。');
  const p = req.payload;
  const t = now();
  const step = async (trx: Conn, resultUserId: number, detail: Record<string, unknown>) => {
    const moved = await repo.moveAccountRequest(trx, id, 'approved', { status: 'done', executed_by: who.id, executed_at: t, result_user_id: resultUserId });
    if (!moved) throw conflict('already-executed', '此申請已由他人完成配賦。');
    await repo.insertStep(trx, { request_id: id, step: 'executed', actor_id: who.id, actor_account: who.account, at: t, note: null, ip: who.ip ?? null });
    await recordEvent(trx, evActor(who), { action: `provision-${req.kind}`, targetType: 'user', targetId: resultUserId, unitId: req.unit_id, detail: { requestId: id, ...detail } });
  };
  const checkGrant = (g: Grant) => {
    // At execution every delegation problem is the executor's lack of reach: 403 naming the reason.
    const problems = grantProblems(world, me, g);
    if (problems.length) throw new Problem(403, 'forbidden', 'Forbidden', problems.map((x) => x.message).join(' '), problems);
  };
  const createAccount = async (trx: Conn, unitId: number, roles: readonly string[], perms: readonly Perm[]) => {
    const local = p.authSource !== 'ldap';
    const code = local ? activationCode() : undefined;
    const expiresAt = local ? t + cfg.ACTIVATION_HOURS * HOUR : undefined;
    let userId: number;
    try {
      userId = await repo.insertUser(trx, {
        account: p.account, name: p.name, unit_id: unitId, rank: p.rank, title: p.title, email: p.email, phone: p.phone, person_hmac: p.personHmac ?? null,
        auth_source: local ? 'local' : 'ldap', password_hash: null, password_changed_at: null, must_change_password: local,
        activation_hash: code ? await hashPassword(code) : null, activation_expires_at: expiresAt ?? null,
        status: local ? 'pending' : 'active', created_by: who.id, created_at: t, updated_at: t,
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict('account-exists', `帳號 ${p.account} 已存在。`);
      throw e;
    }
    await repo.setRoles(trx, userId, roles, t, who.id);
    await repo.setPerms(trx, userId, perms, t);
    return { userId, code, expiresAt };
  };

  if (req.kind === 'new') {
    checkGrant({ unitId: req.unit_id, roles: p.roles, permissions: p.permissions, rank: p.rank });
    return db.transaction(async (trx) => {
      const { userId, code, expiresAt } = await createAccount(trx, req.unit_id, p.roles, p.permissions);
      await step(trx, userId, { account: p.account, roles: p.roles, permissions: p.permissions, authSource: p.authSource });
      return { requestId: id, userId, account: p.account, activationCode: code, activationExpiresAt: expiresAt };
    });
  }
  const target = await targetPrincipal(db, req.target_user_id!);
  if (!target) throw notFound('申請所指帳號已不存在。');
  if (req.kind === 'change') {
    if (!canManageUser(world, me, target)) throw forbidden('此帳號不在您的配賦範圍內。');
    checkGrant({ unitId: target.unitId, roles: p.roles, permissions: p.permissions, rank: p.rank });
    return db.transaction(async (trx) => {
      const before = { roles: target.roles, permissions: await repo.permsOf(trx, target.id) };
      await repo.setRoles(trx, target.id, p.roles, t, who.id);
      await repo.setPerms(trx, target.id, p.permissions, t);
      await repo.updateUser(trx, target.id, { rank: p.rank, updated_at: t });
      await step(trx, target.id, { before, after: { roles: p.roles, permissions: p.permissions } });
      await recordEvent(trx, evActor(who), { action: 'permission-change', targetType: 'user', targetId: target.id, unitId: target.unitId, detail: { requestId: id, before, after: { roles: p.roles, permissions: p.permissions } } });
      return { requestId: id, userId: target.id, account: target.row.account };
    });
  }
  if (req.kind === 'disable') {
    if (!canManageUser(world, me, target)) throw forbidden('此帳號不在您的配賦範圍內。');
    const today = localDate(t);
    return db.transaction(async (trx) => {
      if (p.disableOn > today) {
        await repo.updateUser(trx, target.id, { disable_on: p.disableOn, updated_at: t });
      } else {
        await disableNow(trx, target.id, `帳號停用申請 #${id}`, t);
      }
      await step(trx, target.id, { disableOn: p.disableOn, scheduled: p.disableOn > today });
      return { requestId: id, userId: target.id, account: target.row.account };
    });
  }
  // handover (clause 3(二)1(7)): the successor is created and the predecessor disabled in one step.
  if (!canHandOver(world, me, target)) throw forbidden('您不得辦理此管理者帳號的交接。');
  if (target.row.status === 'disabled') throw conflict('account-disabled', '原管理者帳號已停用。');
  return db.transaction(async (trx) => {
    const perms = await repo.permsOf(trx, target.id);
    const { userId, code, expiresAt } = await createAccount(trx, target.unitId, target.roles, perms);
    await disableNow(trx, target.id, `管理者交接予 ${p.account}（申請 #${id}）`, t);
    await step(trx, userId, { predecessor: target.row.account, successor: p.account, roles: target.roles });
    await recordEvent(trx, evActor(who), { action: 'handover', targetType: 'user', targetId: target.id, unitId: target.unitId, detail: { requestId: id, predecessor: target.row.account, successor: p.account } });
    return { requestId: id, userId, account: p.account, activationCode: code, activationExpiresAt: expiresAt };
  });
}

/** Disables an account at once and ends its sessions. */
export async function disableNow(trx: Conn, userId: number, reason: string, t = now()): Promise<void> {
  await repo.updateUser(trx, userId, { status: 'disabled', disabled_at: t, disabled_reason: reason.slice(0, 500), updated_at: t });
  await repo.endSessions(trx, userId);
}

export interface AccountRequestView {
  id: number; kind: string; kindLabel: string; status: string; unit: { id: number; code: string; name: string };
  targetUser: { id: number; account: string; name: string } | null; payload: Record<string, any>; reason: string;
  requestedBy: { id: number; account: string; name: string }; requestedAt: number; decidedAt: number | null; executedAt: number | null;
  resultUserId: number | null;
  steps?: Array<{ step: string; actor: string | null; at: number; note: string | null; ip: string | null }>;
  canDecide: boolean; canExecute: boolean;
}

async function viewRequests(db: Db, world: World, who: Actor, rows: repo.AccountRequestRow[]): Promise<AccountRequestView[]> {
  const people = await repo.accountsByIds(db, rows.flatMap((r) => [r.requested_by, r.target_user_id ?? 0]));
  const units = new Map((await repo.allUnitsFull(db)).map((u) => [u.id, u]));
  const me = principalOf(who);
  const out: AccountRequestView[] = [];
  for (const r of rows) {
    const u = units.get(r.unit_id)!;
    const target = r.target_user_id ? await targetPrincipal(db, r.target_user_id) : undefined;
    const grantUnit = r.kind === 'new' ? r.unit_id : target?.unitId ?? r.unit_id;
    const exec = r.status === 'approved' && (r.kind === 'new'
      ? grantProblems(world, me, { unitId: grantUnit, roles: r.payload.roles ?? [], permissions: r.payload.permissions ?? [], rank: r.payload.rank ?? 'staff' }).length === 0
      : !!target && (r.kind === 'handover' ? canHandOver(world, me, target) : canManageUser(world, me, target)));
    const tu = r.target_user_id ? people.get(r.target_user_id) : undefined;
    const rb = people.get(r.requested_by);
    out.push({
      id: r.id, kind: r.kind, kindLabel: KIND_LABELS[r.kind as RequestKind] ?? r.kind, status: r.status, unit: { id: u.id, code: u.code, name: u.name },
      targetUser: tu ? { id: r.target_user_id!, ...tu } : null, payload: r.payload, reason: r.reason,
      requestedBy: { id: r.requested_by, account: rb?.account ?? '', name: rb?.name ?? '' }, requestedAt: Number(r.requested_at),
      decidedAt: r.decided_at == null ? null : Number(r.decided_at), executedAt: r.executed_at == null ? null : Number(r.executed_at), resultUserId: r.result_user_id,
      canDecide: r.status === 'pending' && canApprove(world, me, { unitId: r.unit_id, requestedBy: r.requested_by, targetUserId: r.target_user_id }),
      canExecute: exec,
    });
  }
  return out;
}

/** Lists requests: `inbox` (awaiting my approval), `todo` (approved, mine to carry out), `mine`, or all visible. */
export async function listAccountRequests(db: Db, who: Actor, f: { view?: 'inbox' | 'todo' | 'mine' | 'all'; status?: string; limit?: number; offset?: number }): Promise<{ items: AccountRequestView[]; total: number }> {
  const world = await repo.loadWorld(db);
  const unitIds = [...subtree(world, who.unitId)];
  const view = f.view ?? 'all';
  const status = view === 'inbox' ? ['pending'] : view === 'todo' ? ['approved'] : f.status ? [f.status] : undefined;
  const { rows } = await repo.listAccountRequests(db, { unitIds, status, requestedBy: view === 'mine' ? who.id : undefined, limit: 1000, offset: 0 });
  let items = await viewRequests(db, world, who, rows);
  if (view === 'inbox') items = items.filter((i) => i.canDecide);
  if (view === 'todo') items = items.filter((i) => i.canExecute);
  const total = items.length;
  const off = f.offset ?? 0;
  return { items: items.slice(off, off + (f.limit ?? 200)), total };
}

export async function getAccountRequest(db: Db, who: Actor, id: number): Promise<AccountRequestView> {
  const world = await repo.loadWorld(db);
  const r = await repo.accountRequestById(db, id);
  if (!r || !subtree(world, who.unitId).has(r.unit_id)) throw notFound('找不到指定的帳號申請。');
  const [v] = await viewRequests(db, world, who, [r]);
  v.steps = (await repo.stepsOf(db, id)).map((s: any) => ({ step: s.step, actor: s.actor_account, at: Number(s.at), note: s.note, ip: s.ip }));
  return v;
}

/** Counts for the home page: requests awaiting my approval, and approved ones for me to carry out. */
export async function pendingCounts(db: Db, who: Actor): Promise<{ inbox: number; todo: number; reviewItems: number }> {
  const inbox = who.roles.includes('supervisor') ? (await listAccountRequests(db, who, { view: 'inbox' })).total : 0;
  const todo = isAdmin(who) ? (await listAccountRequests(db, who, { view: 'todo' })).total : 0;
  let reviewItems = 0;
  if (isAdmin(who)) {
    const world = await repo.loadWorld(db);
    const items = await repo.reviewItems(db, { unitIds: [...subtree(world, who.unitId)], status: 'open' });
    const roles = await repo.rolesFor(db, items.map((i: any) => i.user_id));
    reviewItems = items.filter((i: any) => canManageUser(world, principalOf(who), { id: i.user_id, unitId: i.unit_id, roles: roles.get(i.user_id) ?? [] })).length;
  }
  return { inbox, todo, reviewItems };
}

export { provisionKind };
