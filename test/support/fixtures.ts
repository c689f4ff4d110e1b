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

// ---- query log (queries capability): record entries directly through the chain ----
import type { Config } from '../../server/config.ts';
import { appendEntries, type Appended } from '../../server/queries/chain.ts';
import { protectSubject, generateNationalId, keyId, type Subject } from '../../server/queries/subject.ts';
import crypto from 'node:crypto';

export interface TestEntry {
  userId: number;
  account: string;
  unitId: number;
  /** epoch ms; default now */
  queriedAt?: number;
  opCode?: string;
  scope?: string;
  caseNo?: string;
  reason?: string;
  queryRequestId?: number | null;
  subject?: Subject;
  clientIp?: string | null;
}

/**
 * Appends query log entries through the real hash chain (no validation), for tests of other
 * capabilities (checks, reports). Entries must be given in chronological order.
 */
export async function recordTestEntries(db: Db, cfg: Pick<Config, 'subjectEncKey' | 'SUBJECT_HMAC_KEY'>, entries: TestEntry[]): Promise<Appended[]> {
  const keys = { enc: cfg.subjectEncKey, hmac: cfg.SUBJECT_HMAC_KEY };
  return db.transaction((trx) => appendEntries(trx, entries.map((e) => {
    const queried_at = e.queriedAt ?? Date.now();
    return {
      user_id: e.userId, account: e.account, unit_id: e.unitId, queried_at, op_code: e.opCode ?? 'IN01', scope_code: e.scope ?? '2-1',
      query_request_id: e.queryRequestId ?? null, case_no: e.caseNo ?? 'CASE-1130001', reason: e.reason ?? '個案訪視前確認投保狀態',
      ...protectSubject(keys, e.subject ?? { type: 'national-id', value: generateNationalId() }, { user_id: e.userId, queried_at }), client_ip: e.clientIp ?? '10.0.0.1', source: 'web', token_id: null,
    };
  })));
}

/** A subject ciphertext as stored before binding (v1: no associated data), for tests of legacy rows. */
export function legacySubjectCipher(key: Buffer, plain: string): string {
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
  return ['v1', keyId(key), iv.toString('base64url'), c.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
}

/** An approved query request form valid from..to for the user (bypassing the approval flow). */
export async function makeApprovedRequest(db: Db, u: { userId: number; unitId: number; scope?: string; validFrom?: string; validTo?: string; status?: string; caseNo?: string }): Promise<number> {
  const scope = await db('scopes').where({ code: u.scope ?? '2-1' }).first('id');
  const [id] = await db('query_requests').insert({
    unit_id: u.unitId, requester_id: u.userId, case_no: u.caseNo ?? 'CASE-1130001', purpose: '辦理個案服務查詢投保資料', scope_id: scope.id, expected_subjects_cipher: null,
    valid_from: u.validFrom ?? '2000-01-01', valid_to: u.validTo ?? '2099-12-31', status: u.status ?? 'approved', decided_by: null, decided_at: u.status === 'pending' ? null : Date.now(), decision_note: null, created_at: Date.now(),
  });
  return Number(id);
}

/** Accounts tests: an admin and a supervisor at each level of seedTree, plus a few staff. Ids by account. */
export async function seedAccountPeople(db: Db, tree: Tree): Promise<Record<string, number>> {
  const specs: UserSpec[] = [
    { account: 'plan.admin', unitId: tree.PLAN, roles: ['planning_admin'], rank: 'section_chief' },
    { account: 'plan.sup', unitId: tree.PLAN, roles: ['supervisor'], rank: 'division_chief' },
    { account: 'plan.auditor', unitId: tree.PLAN, roles: ['auditor'] },
    { account: 'ag1.admin', unitId: tree.AG1, roles: ['admin'] },
    { account: 'ag1.sup', unitId: tree.AG1, roles: ['supervisor'], rank: 'section_chief' },
    { account: 'ag1.sup2', unitId: tree.AG1, roles: ['supervisor', 'checker'], rank: 'division_chief' },
    { account: 'ag1.clerk', unitId: tree.AG1, roles: ['clerk'], permissions: [['2-1', 'IN01']] },
    { account: 'ag1.auditor', unitId: tree.AG1, roles: ['auditor'] },
    { account: 'ag1.ethics', unitId: tree.AG1, roles: ['ethics'] },
    { account: 'ag1.it', unitId: tree.AG1, roles: ['it'] },
    { account: 'ag1.checker', unitId: tree.AG1, roles: ['checker'], rank: 'section_chief' },
    { account: 'u1.admin', unitId: tree.AG1U1, roles: ['admin'] },
    { account: 'u1.sup', unitId: tree.AG1U1, roles: ['supervisor'], rank: 'division_chief' },
    { account: 'u1.clerk', unitId: tree.AG1U1, roles: ['clerk'], permissions: [['2-8', 'IN01']] },
    { account: 'u1a.admin', unitId: tree.AG1U1A, roles: ['admin'] },
    { account: 'ag2.admin', unitId: tree.AG2, roles: ['admin'] },
    { account: 'ag2.sup', unitId: tree.AG2, roles: ['supervisor'], rank: 'division_chief' },
    { account: 'ag2.clerk', unitId: tree.AG2, roles: ['clerk'], permissions: [['2-4', 'IN01']] },
  ];
  const ids: Record<string, number> = {};
  for (const s of specs) ids[s.account] = await makeUser(db, s);
  return ids;
}

/**
 * Reach tests (on top of seedAccountPeople, whose accounts stay as they are): the planning
 * department's ethics and IT, a second agency's auditor, ethics, IT and checker, and an auditor and
 * a checker in a subordinate unit. Ids by account.
 */
export async function seedReachPeople(db: Db, tree: Tree): Promise<Record<string, number>> {
  const specs: UserSpec[] = [
    { account: 'plan.ethics', unitId: tree.PLAN, roles: ['ethics'] },
    { account: 'plan.it', unitId: tree.PLAN, roles: ['it'] },
    { account: 'u1.auditor', unitId: tree.AG1U1, roles: ['auditor'] },
    { account: 'u1.checker', unitId: tree.AG1U1, roles: ['checker'], rank: 'division_chief' },
    { account: 'ag2.auditor', unitId: tree.AG2, roles: ['auditor'] },
    { account: 'ag2.ethics', unitId: tree.AG2, roles: ['ethics'] },
    { account: 'ag2.it', unitId: tree.AG2, roles: ['it'] },
    { account: 'ag2.checker', unitId: tree.AG2, roles: ['checker'], rank: 'division_chief' },
  ];
  const ids: Record<string, number> = {};
  for (const s of specs) ids[s.account] = await makeUser(db, s);
  return ids;
}

/** A valid Taiwan national ID from a number: A, sex 1, 7 digits, the check digit computed. */
export function nationalId(n: number): string {
  const body = `1${String(n).padStart(7, '0')}`; // sex 1 + 7 digits; the 8th is the check digit
  const digits = [1, 0, ...body.split('').map(Number)]; // A = 10
  const w = [1, 9, 8, 7, 6, 5, 4, 3, 2, 1];
  const sum = digits.reduce((a, d, i) => a + d * w[i], 0);
  return `A${body}${(10 - (sum % 10)) % 10}`;
}
