// Small prepared data sets for tests: a unit tree and users with given roles.
import type { Db } from '../../server/db.ts';
import { hashPassword } from '../../server/auth/passwords.ts';
import type { Role } from '../../server/accounts/roles.ts';

export const PASSWORD = 'Test-Passw0rd-2026';
let cachedHash: Promise<string> | undefined;
const passwordHash = () => (cachedHash ??= hashPassword(PASSWORD));

export interface Tree { PLAN: number; AG1: number; AG1U1: number; AG1U1A: number; AG2: number; AG2U1: number }

/**
 * PLAN (planning) ─┬─ AG1 (agency, sections; scopes 2-1, 2-8) ── AG1-U1 (unit) ── AG1-U1-A (unit)
 *                  └─ AG2 (agency, no sections; scope 2-4)   ── AG2-U1 (unit)
 */
export async function seedTree(db: Db): Promise<Tree> {
  const t = Date.now();
  const add = async (code: string, name: string, kind: string, parent: number | null, hasSections = true) => {
    const [id] = await db('units').insert({ code, name, kind, parent_id: parent, has_sections: hasSections, status: 'active', created_at: t });
    return Number(id);
  };
  const PLAN = await add('PLAN', '計畫處', 'planning', null);
  const AG1 = await add('AG1', '社會處', 'agency', PLAN, true);
  const AG1U1 = await add('AG1-U1', '社會處埔里中心', 'unit', AG1, false);
  const AG1U1A = await add('AG1-U1-A', '埔里中心分站', 'unit', AG1U1, false);
  const AG2 = await add('AG2', '衛生局', 'agency', PLAN, false);
  const AG2U1 = await add('AG2-U1', '南投市衛生所', 'unit', AG2, false);
  const scope = async (code: string) => (await db('scopes').where({ code }).first('id')).id as number;
  for (const [unit, s] of [[AG1, '2-1'], [AG1, '2-8'], [AG2, '2-4']] as const) {
    await db('unit_scopes').insert({ unit_id: unit, scope_id: await scope(s), status: 'active', authorised_on: '2025-01-01', created_at: t });
  }
  return { PLAN, AG1, AG1U1, AG1U1A, AG2, AG2U1 };
}

export interface UserSpec {
  account: string;
  unitId: number;
  roles: Role[];
  rank?: string;
  name?: string;
  status?: string;
  /** [scopeCode, opCode] pairs */
  permissions?: Array<[string, string]>;
  passwordChangedAt?: number;
  mustChange?: boolean;
}

export async function makeUser(db: Db, u: UserSpec): Promise<number> {
  const t = Date.now();
  const hash = await passwordHash();
  const [id] = await db('users').insert({
    account: u.account, name: u.name ?? u.account, unit_id: u.unitId, rank: u.rank ?? 'staff', auth_source: 'local',
    password_hash: hash, password_changed_at: u.passwordChangedAt ?? t, must_change_password: u.mustChange ?? false,
    status: u.status ?? 'active', created_at: t, updated_at: t,
  });
  const userId = Number(id);
  if (u.roles.length) await db('user_roles').insert(u.roles.map((role) => ({ user_id: userId, role, granted_at: t })));
  await db('password_history').insert({ user_id: userId, password_hash: hash, created_at: t });
  for (const [s, o] of u.permissions ?? []) {
    const scope = await db('scopes').where({ code: s }).first('id');
    const op = await db('op_codes').where({ code: o }).first('id');
    await db('user_permissions').insert({ user_id: userId, scope_id: scope.id, op_code_id: op.id, granted_at: t });
  }
  return userId;
}
