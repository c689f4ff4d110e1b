// Demo county for `seed-demo`: the planning department, agencies with subordinate units, and users
// of every role. Later capabilities add their own data on top of this.
import type { JobContext } from '../../jobs/registry.ts';
import type { DemoAccount, DemoOptions } from '../capability.ts';
import { now } from '../time.ts';
import { hashPassword } from '../auth/passwords.ts';
import { ensurePlanningUnit } from './bootstrap.ts';
import type { Role } from './roles.ts';
import crypto from 'node:crypto';
import { generateNationalId, subjectHmac } from '../queries/subject.ts';
import { recordEvent } from '../events/service.ts';
import { insertEvent } from '../events/repo.ts';

/** A repeatable random stream per account, so person ids do not disturb the shared demo stream. */
function streamFor(key: string): () => number {
  let counter = 0;
  return () => crypto.createHash('sha256').update(`${key}:${counter++}`).digest().readUInt32BE(0) / 2 ** 32;
}
const DAY = 86_400_000;

interface UnitSeed { code: string; name: string; hasSections: boolean; scopes?: string[]; ops?: string[]; children?: UnitSeed[] }

export const DEMO_AGENCIES: UnitSeed[] = [
  { code: 'SOC', name: '南投縣政府社會及勞動處', hasSections: true, scopes: ['2-1', '2-7', '2-8', '2-9', '2-11'], ops: ['IN01', 'IN02', 'IN03', 'AD01', 'ST01'],
    children: [{ code: 'SOC-PL', name: '埔里區家庭服務中心', hasSections: false }, { code: 'SOC-CT', name: '草屯區家庭服務中心', hasSections: false }] },
  { code: 'TAX', name: '南投縣政府稅務局', hasSections: true, scopes: ['2-2'], ops: ['IN01', 'IN02', 'AD01', 'ST01'],
    children: [{ code: 'TAX-CT', name: '稅務局草屯分局', hasSections: true }] },
  { code: 'HLT', name: '南投縣政府衛生局', hasSections: false, scopes: ['2-3', '2-4', '2-9', '2-10'], ops: ['IN01', 'AD01', 'MD01', 'MD02', 'MD03', 'ST01'],
    children: [{ code: 'HLT-NT', name: '南投市衛生所', hasSections: false }, { code: 'HLT-PL', name: '埔里鎮衛生所', hasSections: false }] },
  { code: 'CIV', name: '南投縣政府民政處', hasSections: true, scopes: ['2-5'], ops: ['IN01', 'AD01', 'ST01'] },
];

interface PersonSeed { suffix: string; name: string; rank: string; roles: Role[] }

const AGENCY_PEOPLE: PersonSeed[] = [
  { suffix: 'admin', name: '管理者', rank: 'staff', roles: ['admin'] },
  { suffix: 'chief', name: '科長', rank: 'division_chief', roles: ['supervisor', 'checker'] },
  { suffix: 'sect', name: '股長', rank: 'section_chief', roles: ['checker', 'supervisor'] },
  { suffix: 'clerk1', name: '承辦一', rank: 'staff', roles: ['clerk'] },
  { suffix: 'clerk2', name: '承辦二', rank: 'staff', roles: ['clerk'] },
  { suffix: 'clerk3', name: '承辦三', rank: 'staff', roles: ['clerk'] },
  { suffix: 'auditor', name: '稽核', rank: 'staff', roles: ['auditor'] },
  { suffix: 'ethics', name: '政風', rank: 'staff', roles: ['ethics'] },
  { suffix: 'it', name: '資訊', rank: 'staff', roles: ['it'] },
];
const UNIT_PEOPLE: PersonSeed[] = [
  { suffix: 'admin', name: '管理者', rank: 'staff', roles: ['admin'] },
  { suffix: 'head', name: '主任', rank: 'division_chief', roles: ['supervisor', 'checker'] },
  { suffix: 'clerk1', name: '承辦一', rank: 'staff', roles: ['clerk'] },
  { suffix: 'clerk2', name: '承辦二', rank: 'staff', roles: ['clerk'] },
];
const PLANNING_PEOPLE: PersonSeed[] = [
  { suffix: 'admin', name: '計畫處管理者', rank: 'section_chief', roles: ['planning_admin'] },
  { suffix: 'chief', name: '計畫處科長', rank: 'division_chief', roles: ['supervisor'] },
  { suffix: 'auditor', name: '計畫處稽核', rank: 'staff', roles: ['auditor'] },
  // The county's ethics unit sits in the planning department: county-wide reach (reach.ts).
  { suffix: 'ethics', name: '計畫處政風', rank: 'staff', roles: ['ethics'] },
  { suffix: 'it', name: '計畫處資訊', rank: 'staff', roles: ['it'] },
];

const SURNAMES = ['陳', '林', '黃', '張', '李', '王', '吳', '劉', '蔡', '楊', '許', '鄭', '謝', '洪', '郭'];

export async function seedDemoUnitsAndUsers(ctx: JobContext, opts: DemoOptions): Promise<DemoAccount[]> {
  const { db, cfg } = ctx;
  const t = now();
  const hash = await hashPassword(opts.password);
  const planningId = await ensurePlanningUnit(db, cfg);
  const scopeIds = new Map<string, number>((await db('scopes').select('id', 'code')).map((s: any) => [s.code, s.id]));
  const opIds = new Map<string, number>((await db('op_codes').select('id', 'code')).map((o: any) => [o.code, o.id]));
  const out: DemoAccount[] = [];
  const today = new Date(t).toISOString().slice(0, 10);

  const addPeople = async (unitId: number, unitCode: string, people: PersonSeed[], perms: Array<[number, number]>) => {
    for (const p of people) {
      const account = `${unitCode.toLowerCase()}.${p.suffix}`;
      // Idempotent (issue 17): an existing demo account is not added again, but is still listed, so
      // `seed-demo --json` lists every demo account however often it runs.
      if (await db('users').where({ account }).first('id')) {
        out.push({ account, roles: p.roles, unit: unitCode });
        continue;
      }
      const surname = SURNAMES[Math.floor(opts.random() * SURNAMES.length)];
      const personHmac = subjectHmac(cfg.SUBJECT_HMAC_KEY, { type: 'national-id', value: generateNationalId(streamFor(account)) });
      const [id] = await db('users').insert({
        account, name: `${surname}${p.name}`, unit_id: unitId, rank: p.rank, title: p.name, auth_source: 'local', person_hmac: personHmac, created_by: null,
        password_hash: hash, password_changed_at: t, must_change_password: false, status: 'active', created_at: t, updated_at: t,
      });
      const userId = Number(id);
      await db('user_roles').insert(p.roles.map((role) => ({ user_id: userId, role, granted_at: t })));
      await db('password_history').insert({ user_id: userId, password_hash: hash, created_at: t });
      if (p.roles.includes('clerk') && perms.length) {
        await db('user_permissions').insert(perms.map(([scope_id, op_code_id]) => ({ user_id: userId, scope_id, op_code_id, granted_at: t })));
      }
      out.push({ account, roles: p.roles, unit: unitCode });
    }
  };

  await addPeople(planningId, 'PLAN', PLANNING_PEOPLE, []);
  for (const a of DEMO_AGENCIES) {
    let agency = await db('units').where({ code: a.code }).first('id');
    if (!agency) {
      const [id] = await db('units').insert({ code: a.code, name: a.name, kind: 'agency', parent_id: planningId, has_sections: a.hasSections, status: 'active', created_at: t });
      agency = { id: Number(id) };
      for (const s of a.scopes ?? []) await db('unit_scopes').insert({ unit_id: agency.id, scope_id: scopeIds.get(s), status: 'active', authorised_on: today, created_at: t });
    }
    const perms: Array<[number, number]> = [];
    for (const s of a.scopes ?? []) for (const o of a.ops ?? []) perms.push([scopeIds.get(s)!, opIds.get(o)!]);
    await addPeople(agency.id, a.code, AGENCY_PEOPLE, perms);
    for (const c of a.children ?? []) {
      let child = await db('units').where({ code: c.code }).first('id');
      if (!child) {
        const [id] = await db('units').insert({ code: c.code, name: c.name, kind: 'unit', parent_id: agency.id, has_sections: c.hasSections, status: 'active', created_at: t });
        child = { id: Number(id) };
      }
      await addPeople(child.id, c.code, UNIT_PEOPLE, perms);
    }
  }
  out.push(...(await seedAccountStates(ctx, opts, hash)));
  return out;
}

/**
 * Accounts in the states the account review looks for (clause 3(二)2), and requests waiting in the
 * inboxes. Accounts that cannot sign in with the demo password (directory, locked, expired,
 * never activated, past their disable date) are not listed in the output.
 */
async function seedAccountStates(ctx: JobContext, opts: DemoOptions, hash: string): Promise<DemoAccount[]> {
  const { db, cfg } = ctx;
  const t = now();
  const unitId = async (code: string) => (await db('units').where({ code }).first('id'))?.id as number | undefined;
  const userId = async (account: string) => (await db('users').where({ account }).first('id'))?.id as number | undefined;
  const extra = async (account: string, code: string, name: string, patch: Record<string, unknown>, roles: Role[] = ['clerk']) => {
    const unit = await unitId(code);
    if (!unit || (await userId(account))) return;
    const personHmac = patch.person_hmac ?? subjectHmac(cfg.SUBJECT_HMAC_KEY, { type: 'national-id', value: generateNationalId(streamFor(account)) });
    const [id] = await db('users').insert({
      account, name, unit_id: unit, rank: 'staff', title: '承辦人', auth_source: 'local', person_hmac: personHmac, password_hash: hash, password_changed_at: t,
      must_change_password: false, status: 'active', created_at: t - 400 * DAY, updated_at: t, ...patch,
    });
    await db('user_roles').insert(roles.map((role) => ({ user_id: Number(id), role, granted_at: t })));
    if (patch.password_hash !== null) await db('password_history').insert({ user_id: Number(id), password_hash: hash, created_at: t });
  };
  // Directory (LDAP/AD) accounts: they sign in with their directory password, not the demo one.
  await extra('soc.wang', 'SOC', '王大同', { auth_source: 'ldap', password_hash: null, password_changed_at: null });
  await extra('soc.lin', 'SOC', '林美玲', { auth_source: 'ldap', password_hash: null, password_changed_at: null });
  await extra('tax.chen', 'TAX', '陳志明', { auth_source: 'ldap', password_hash: null, password_changed_at: null });
  // Locked after failed sign-ins, a password past 90 days, never activated, past its disable date.
  await extra('soc.locked', 'SOC', '鎖定中', { failed_logins: 5, locked_until: t + 15 * 60_000 });
  await extra('tax.expired', 'TAX', '密碼逾期', { password_changed_at: t - 100 * DAY });
  await extra('hlt.newbie', 'HLT', '未啟用', { status: 'pending', password_hash: null, password_changed_at: null, must_change_password: true, activation_hash: hash, activation_expires_at: t - DAY });
  await extra('civ.moved', 'CIV', '已調職', { disable_on: '2025-12-31' });
  // One person holding a second account in another agency (一人一帳號).
  const twin = await db('users').where({ account: 'soc.clerk3' }).first('person_hmac');
  await extra('tax.clerk9', 'TAX', '兼辦人員', { person_hmac: twin?.person_hmac ?? null });
  const listed: DemoAccount[] = [];
  if (await userId('tax.clerk9')) listed.push({ account: 'tax.clerk9', roles: ['clerk'], unit: 'TAX' });
  // Idle for 120 days, and one whose password expires in 5 days: both can still sign in.
  await db('users').where({ account: 'civ.clerk3' }).update({ last_login_at: t - 120 * DAY, created_at: t - 400 * DAY });
  await db('users').where({ account: 'hlt.clerk3' }).update({ password_changed_at: t - 85 * DAY });
  // Sign-ins the review flags: late at night, and two accounts from one address.
  const login = async (account: string, at: number, ip: string) => {
    const id = await userId(account);
    if (id) await insertEvent(db, { at, actor_id: id, actor_account: account, action: 'login', outcome: 'ok', target_type: 'user', target_id: String(id), unit_id: null, ip });
  };
  const night = t - 3 * DAY - ((t % DAY) - 15 * 3_600_000); // 23:00 Taipei three days ago
  await login('soc.clerk2', night, '10.20.1.15');
  await login('tax.clerk1', t - 2 * DAY, '10.20.9.9');
  await login('tax.clerk2', t - 2 * DAY + 60_000, '10.20.9.9');
  // Requests waiting: one for the supervisor's inbox, one approved for the admin's to-do list.
  if (!(await db('account_requests').first('id'))) {
    const soc = await unitId('SOC');
    const admin = await userId('soc.admin');
    const chief = await userId('soc.chief');
    if (soc && admin && chief) {
      const scope = (await db('scopes').where({ code: '2-1' }).first('code'))?.code ?? '2-1';
      for (const [account, status] of [['soc.clerk4', 'pending'], ['soc.clerk5', 'approved']] as const) {
        const payload = { account, name: `新進人員${account.slice(-1)}`, rank: 'staff', title: '約僱人員', email: null, phone: null, authSource: 'local', personHmac: null, roles: ['clerk'], permissions: [{ scope, opCode: 'IN01' }] };
        const [rid] = await db('account_requests').insert({
          kind: 'new', status, unit_id: soc, target_user_id: null, payload: JSON.stringify(payload), reason: '新進人員辦理身心障礙者保險費補助', requested_by: admin, requested_at: t - DAY,
          decided_by: status === 'approved' ? chief : null, decided_at: status === 'approved' ? t - 3_600_000 : null,
        });
        await db('account_request_steps').insert({ request_id: Number(rid), step: 'filed', actor_id: admin, actor_account: 'soc.admin', at: t - DAY, note: '新進人員', ip: null });
        if (status === 'approved') await db('account_request_steps').insert({ request_id: Number(rid), step: 'approved', actor_id: chief, actor_account: 'soc.chief', at: t - 3_600_000, note: '同意', ip: null });
      }
    }
  }
  await recordEvent(db, { id: null, account: 'seed-demo', ip: null }, { action: 'seed-demo-accounts', detail: { random: opts.random === undefined ? 'none' : 'seeded' } });
  return listed;
}
