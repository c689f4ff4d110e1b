// Demo county for `seed-demo`: the planning department, agencies with subordinate units, and users
// of every role. Later capabilities add their own data on top of this.
import type { JobContext } from '../../jobs/registry.ts';
import type { DemoAccount, DemoOptions } from '../capabilities.ts';
import { now } from '../time.ts';
import { hashPassword } from '../auth/passwords.ts';
import { ensurePlanningUnit } from './bootstrap.ts';
import type { Role } from './roles.ts';

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
  { suffix: 'auditor', name: '計畫處稽核', rank: 'staff', roles: ['auditor'] },
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
      if (await db('users').where({ account }).first('id')) continue;
      const surname = SURNAMES[Math.floor(opts.random() * SURNAMES.length)];
      const [id] = await db('users').insert({
        account, name: `${surname}${p.name}`, unit_id: unitId, rank: p.rank, title: p.name, auth_source: 'local',
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
  return out;
}
