// Layered delegation of clause 3(二)1(2), as pure functions: "由上層級配賦同層級內部使用者及下一層級
// 管理者，最後一層級配賦內部使用者". An admin provisions users (non-admin roles) of its own unit and
// admins of the units directly below it; nothing else. The service layer calls these before every
// write, so hiding a button is never the only guard. No database, no Express: unit-testable.
import { eligibleCheckerRank, type Role } from './roles.ts';

export interface TreeUnit {
  id: number;
  parentId: number | null;
  kind: 'planning' | 'agency' | 'unit';
  status: string;
  hasSections: boolean;
}

export interface Principal {
  id: number;
  unitId: number;
  roles: readonly string[];
}

export interface Perm {
  scope: string;
  opCode: string;
}

/** What the rules need to know about the county: the tree, each agency's authorised scopes, active op codes. */
export interface World {
  units: readonly TreeUnit[];
  /** agency id → scope codes the agency is authorised for (unit_scopes, active). */
  agencyScopes: ReadonlyMap<number, readonly string[]>;
  opCodes: readonly string[];
}

export interface Grant {
  unitId: number;
  roles: readonly string[];
  permissions: readonly Perm[];
  rank: string;
}

export interface RuleProblem {
  field: string;
  message: string;
}

export const ADMIN_ROLES: readonly Role[] = ['planning_admin', 'admin'];
/** Roles an admin hands to people of its own unit (內部使用者). */
export const STAFF_ROLES: readonly Role[] = ['clerk', 'supervisor', 'checker', 'auditor', 'ethics', 'it'];
/** Roles an admin hands to the admin of a unit one level down. */
export const NEXT_LEVEL_ROLES: readonly Role[] = ['admin'];
/**
 * Roles that read beyond the holder's own desk (an auditor or ethics officer reaches the whole
 * agency, accounts/reach.ts): only an agency admin or the planning department grants them, never
 * the admin of a subordinate unit.
 */
export const OVERSIGHT_ROLES: readonly Role[] = ['auditor', 'ethics'];

export const isAdmin = (p: { roles: readonly string[] }): boolean => p.roles.some((r) => (ADMIN_ROLES as readonly string[]).includes(r));

const byId = (w: World) => new Map(w.units.map((u) => [u.id, u]));

/** Ids of the unit and everything below it. */
export function subtree(w: World, rootId: number): Set<number> {
  const children = new Map<number, number[]>();
  for (const u of w.units) if (u.parentId != null) children.set(u.parentId, [...(children.get(u.parentId) ?? []), u.id]);
  const out = new Set<number>();
  const stack = [rootId];
  while (stack.length) {
    const id = stack.pop()!;
    if (out.has(id)) continue;
    out.add(id);
    stack.push(...(children.get(id) ?? []));
  }
  return out;
}

/** The unit and its ancestors, nearest first. */
export function chainUp(w: World, unitId: number): TreeUnit[] {
  const m = byId(w);
  const out: TreeUnit[] = [];
  let u = m.get(unitId);
  while (u && !out.includes(u)) {
    out.push(u);
    u = u.parentId != null ? m.get(u.parentId) : undefined;
  }
  return out;
}

/** The agency (業務機關) a unit belongs to; undefined for the planning department. */
export const agencyOfUnit = (w: World, unitId: number): TreeUnit | undefined => chainUp(w, unitId).find((u) => u.kind === 'agency');

/** Scope codes people of a unit may be granted: its agency's authorisation (subordinate units inherit it). */
export function scopesForUnit(w: World, unitId: number): string[] {
  const a = agencyOfUnit(w, unitId);
  return a ? [...(w.agencyScopes.get(a.id) ?? [])] : [];
}

/**
 * What the actor may provision in the target unit: 'staff' (users of its own unit), 'admin'
 * (the admin of a unit one level down) or null (outside its layer).
 */
export function provisionKind(w: World, actor: Principal, targetUnitId: number): 'staff' | 'admin' | null {
  if (!isAdmin(actor)) return null;
  const target = byId(w).get(targetUnitId);
  if (!target || target.status !== 'active') return null;
  if (target.id === actor.unitId) return 'staff';
  if (target.parentId === actor.unitId) return 'admin';
  return null;
}

export function grantableRoles(kind: 'staff' | 'admin' | null): readonly Role[] {
  return kind === 'staff' ? STAFF_ROLES : kind === 'admin' ? NEXT_LEVEL_ROLES : [];
}

/** Permissions the actor could hand out at all: its own agency's authorisation (planning: every agency's). */
export function actorScopeReach(w: World, actor: Principal): Set<string> {
  const unit = byId(w).get(actor.unitId);
  if (unit?.kind === 'planning') return new Set([...w.agencyScopes.values()].flat());
  return new Set(scopesForUnit(w, actor.unitId));
}

/**
 * Problems with the actor granting `g` (a new account, or the new role/permission set of an
 * existing one). Empty when allowed. Messages are zh-TW and name the field.
 */
export function grantProblems(w: World, actor: Principal, g: Grant): RuleProblem[] {
  const out: RuleProblem[] = [];
  const unit = byId(w).get(g.unitId);
  if (!unit) return [{ field: 'unit', message: '找不到指定的單位。' }];
  if (unit.status !== 'active') return [{ field: 'unit', message: '該單位已裁撤，不得配賦帳號。' }];
  const kind = provisionKind(w, actor, g.unitId);
  if (!kind) return [{ field: 'unit', message: '超出您的配賦範圍：管理者僅能配賦本層級使用者及下一層級管理者。' }];
  if (!g.roles.length) out.push({ field: 'roles', message: '請至少選擇一個角色。' });
  const allowed = grantableRoles(kind);
  const bad = g.roles.filter((r) => !(allowed as readonly string[]).includes(r));
  if (bad.length) out.push({ field: 'roles', message: `您不得配賦此角色：${bad.join('、')}（${kind === 'admin' ? '下一層級僅能配賦管理者' : '本層級僅能配賦使用者角色'}）。` });
  if (g.roles.includes('checker')) {
    const agency = agencyOfUnit(w, g.unitId);
    const hasSections = agency ? agency.hasSections : unit.hasSections;
    if (!eligibleCheckerRank(g.rank, hasSections)) out.push({ field: 'rank', message: hasSections ? '查核人員須為股長以上人員。' : '無股別之機關，查核人員須為科長以上人員。' });
  }
  if (g.permissions.length && !g.roles.includes('clerk')) out.push({ field: 'permissions', message: '僅使用者（查詢人員）可配賦健保資料查詢權限。' });
  const scopes = new Set(scopesForUnit(w, g.unitId));
  const reach = actorScopeReach(w, actor);
  const ops = new Set(w.opCodes);
  const outside = g.permissions.filter((p) => !scopes.has(p.scope) || !reach.has(p.scope) || !ops.has(p.opCode));
  if (outside.length) out.push({ field: 'permissions', message: `超出機關授權之查詢權限：${outside.map((p) => `${p.scope}/${p.opCode}`).join('、')}。` });
  const actorKind = byId(w).get(actor.unitId)?.kind;
  const oversight = g.roles.filter((r) => (OVERSIGHT_ROLES as readonly string[]).includes(r) && !bad.includes(r));
  if (oversight.length && actorKind !== 'agency' && actorKind !== 'planning') {
    out.push({ field: 'roles', message: '稽核人員及政風人員角色僅能由機關管理者或計畫處配賦，轄屬單位管理者不得配賦。' });
  }
  return out;
}

/** Whether the actor may change or disable an existing account (never its own). */
export function canManageUser(w: World, actor: Principal, target: Principal): boolean {
  if (actor.id === target.id) return false;
  const kind = provisionKind(w, actor, target.unitId);
  if (kind === 'staff') return !isAdmin(target);
  if (kind === 'admin') return target.roles.includes('admin') && !target.roles.includes('planning_admin');
  return false;
}

/**
 * Admin hand-over (clause 3(二)1(7)): the admin one level up, or the outgoing admin itself when it
 * hands its own post to a successor who gets exactly the same roles.
 */
export function canHandOver(w: World, actor: Principal, predecessor: Principal): boolean {
  if (!isAdmin(predecessor)) return false;
  if (actor.id === predecessor.id) return true;
  return canManageUser(w, actor, predecessor);
}

/** Who may file a request about a unit: its admins, supervisors or those above it. */
export function canFile(w: World, filer: Principal, unitId: number): boolean {
  if (!filer.roles.some((r) => r === 'admin' || r === 'planning_admin' || r === 'supervisor')) return false;
  return subtree(w, filer.unitId).has(unitId);
}

/**
 * The responsible supervisor (權責主管): a supervisor of the request's unit or of a unit above it
 * up to its agency (the planning department for its own people); never the requester, never the
 * person the request is about.
 */
export function canApprove(w: World, approver: Principal, req: { unitId: number; requestedBy: number; targetUserId: number | null }): boolean {
  if (!approver.roles.includes('supervisor')) return false;
  if (approver.id === req.requestedBy || approver.id === req.targetUserId) return false;
  const chain = chainUp(w, req.unitId);
  const stop = chain.findIndex((u) => u.kind === 'agency' || u.kind === 'planning');
  const responsible = stop >= 0 ? chain.slice(0, stop + 1) : chain;
  return responsible.some((u) => u.id === approver.unitId);
}

/** Units whose data the principal may see in account lists: its own subtree. */
export const visibleUnits = (w: World, p: Principal): Set<number> => subtree(w, p.unitId);
