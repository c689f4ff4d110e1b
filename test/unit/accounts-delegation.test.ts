// Layered delegation (clause 3(二)1(2)) as pure rules: examples, then fast-check properties that no
// sequence of allowed actions lets anyone provision outside their subtree or grant above their own.
import { expect } from 'chai';
import fc from 'fast-check';
import {
  actorScopeReach, canApprove, canFile, canHandOver, canManageUser, grantProblems, provisionKind, scopesForUnit, subtree,
  type Perm, type Principal, type TreeUnit, type World,
} from '../../server/accounts/delegation.ts';
import { ROLES } from '../../server/accounts/roles.ts';

const unit = (id: number, parentId: number | null, kind: TreeUnit['kind'], hasSections = true, status = 'active'): TreeUnit => ({ id, parentId, kind, status, hasSections });
// 1 PLAN ─┬─ 2 AG1 (2-1, 2-8) ─ 3 U1 ─ 4 U1A
//         └─ 5 AG2 (2-4, no sections) ─ 6 U2 ; 7 closed unit under AG2
const WORLD: World = {
  units: [unit(1, null, 'planning'), unit(2, 1, 'agency'), unit(3, 2, 'unit', false), unit(4, 3, 'unit', false), unit(5, 1, 'agency', false), unit(6, 5, 'unit', false), unit(7, 5, 'unit', false, 'closed')],
  agencyScopes: new Map([[2, ['2-1', '2-8']], [5, ['2-4']]]),
  opCodes: ['IN01', 'AD01'],
};
const P = (id: number, unitId: number, ...roles: string[]): Principal => ({ id, unitId, roles });
const planAdmin = P(1, 1, 'planning_admin');
const ag1Admin = P(2, 2, 'admin');
const u1Admin = P(3, 3, 'admin');
const u1aAdmin = P(4, 4, 'admin');
const perm = (scope: string, opCode = 'IN01'): Perm => ({ scope, opCode });
const ok = (actor: Principal, unitId: number, roles: string[], permissions: Perm[] = [], rank = 'staff') => grantProblems(WORLD, actor, { unitId, roles, permissions, rank });

describe('accounts: layered delegation rules', () => {
  it('the planning department creates agency admins and its own staff, nothing inside agencies', () => {
    expect(ok(planAdmin, 2, ['admin'])).to.deep.equal([]);
    expect(ok(planAdmin, 1, ['auditor'])).to.deep.equal([]);
    expect(ok(planAdmin, 2, ['clerk'])[0].field).to.equal('roles');
    expect(ok(planAdmin, 3, ['admin'])[0].field).to.equal('unit');
    expect(ok(planAdmin, 1, ['admin'])[0].field).to.equal('roles');
  });

  it('an agency admin creates users of its own level and admins one level down; the last level creates users only', () => {
    expect(ok(ag1Admin, 2, ['clerk', 'supervisor'], [perm('2-1')])).to.deep.equal([]);
    expect(ok(ag1Admin, 3, ['admin'])).to.deep.equal([]);
    expect(ok(ag1Admin, 3, ['clerk'])[0].field).to.equal('roles');
    expect(ok(ag1Admin, 4, ['admin'])[0].field).to.equal('unit');
    expect(ok(ag1Admin, 2, ['admin'])[0].field).to.equal('roles');
    expect(ok(u1aAdmin, 4, ['clerk'], [perm('2-8', 'AD01')])).to.deep.equal([]);
    expect(provisionKind(WORLD, u1aAdmin, 4)).to.equal('staff');
    expect(WORLD.units.some((u) => provisionKind(WORLD, u1aAdmin, u.id) === 'admin')).to.equal(false);
  });

  it('nobody provisions outside their subtree, in a closed unit, or as a non-admin', () => {
    expect(ok(ag1Admin, 5, ['clerk'])[0].field).to.equal('unit');
    expect(ok(ag1Admin, 6, ['admin'])[0].field).to.equal('unit');
    expect(ok(P(9, 5, 'admin'), 7, ['admin'])[0].message).to.contain('裁撤');
    expect(ok(P(9, 2, 'supervisor'), 2, ['clerk'])[0].field).to.equal('unit');
    expect(ok(ag1Admin, 99, ['clerk'])[0].message).to.contain('找不到');
  });

  it('permissions never exceed the agency authorisation (subordinate units inherit it) and go to clerks only', () => {
    expect(scopesForUnit(WORLD, 4)).to.deep.equal(['2-1', '2-8']);
    expect(ok(u1Admin, 3, ['clerk'], [perm('2-4')])[0].message).to.contain('2-4/IN01');
    expect(ok(u1Admin, 3, ['clerk'], [perm('2-1', 'ZZ99')])[0].field).to.equal('permissions');
    expect(ok(u1Admin, 3, ['auditor'], [perm('2-1')])[0].message).to.contain('僅使用者');
    expect(ok(P(9, 1, 'planning_admin'), 1, ['clerk'], [perm('2-1')]).some((p) => p.field === 'permissions')).to.equal(true);
  });

  it('only an agency admin or the planning department grants the auditor and ethics roles; a subordinate unit\'s admin never', () => {
    expect(ok(ag1Admin, 2, ['auditor'])).to.deep.equal([]);
    expect(ok(ag1Admin, 2, ['ethics', 'clerk'])).to.deep.equal([]);
    expect(ok(planAdmin, 1, ['ethics'])).to.deep.equal([]);
    for (const admin of [u1Admin, u1aAdmin]) {
      for (const role of ['auditor', 'ethics']) {
        const problems = ok(admin, admin.unitId, ['clerk', role]);
        expect(problems.map((p) => p.field), `${role} by the admin of unit ${admin.unitId}`).to.deep.equal(['roles']);
        expect(problems[0].message).to.contain('機關管理者或計畫處');
      }
    }
    // Every other staff role stays theirs to grant.
    expect(ok(u1Admin, 3, ['clerk', 'supervisor', 'checker', 'it'], [], 'division_chief')).to.deep.equal([]);
  });

  it('checkers are 股長 or higher, 科長 or higher where the agency has no sections', () => {
    expect(ok(ag1Admin, 2, ['checker'], [], 'section_chief')).to.deep.equal([]);
    expect(ok(ag1Admin, 2, ['checker'], [], 'staff')[0].field).to.equal('rank');
    const ag2Admin = P(5, 5, 'admin');
    expect(ok(ag2Admin, 5, ['checker'], [], 'section_chief')[0].message).to.contain('科長');
    expect(ok(ag2Admin, 5, ['checker'], [], 'division_chief')).to.deep.equal([]);
  });

  it('managing, hand-over, filing and approval follow the same layers', () => {
    expect(canManageUser(WORLD, ag1Admin, P(10, 2, 'clerk'))).to.equal(true);
    expect(canManageUser(WORLD, ag1Admin, u1Admin)).to.equal(true);
    expect(canManageUser(WORLD, ag1Admin, P(11, 3, 'clerk'))).to.equal(false);
    expect(canManageUser(WORLD, ag1Admin, ag1Admin)).to.equal(false);
    expect(canManageUser(WORLD, ag1Admin, P(12, 2, 'admin'))).to.equal(false);
    expect(canHandOver(WORLD, u1Admin, u1Admin)).to.equal(true);
    expect(canHandOver(WORLD, ag1Admin, u1Admin)).to.equal(true);
    expect(canHandOver(WORLD, ag1Admin, P(10, 2, 'clerk'))).to.equal(false);
    expect(canFile(WORLD, P(20, 2, 'supervisor'), 4)).to.equal(true);
    expect(canFile(WORLD, P(20, 3, 'supervisor'), 2)).to.equal(false);
    expect(canFile(WORLD, P(21, 2, 'clerk'), 2)).to.equal(false);
    const req = { unitId: 4, requestedBy: 30, targetUserId: null };
    expect(canApprove(WORLD, P(31, 4, 'supervisor'), req)).to.equal(true);
    expect(canApprove(WORLD, P(31, 2, 'supervisor'), req)).to.equal(true);
    expect(canApprove(WORLD, P(31, 1, 'supervisor'), req)).to.equal(false);
    expect(canApprove(WORLD, P(31, 5, 'supervisor'), req)).to.equal(false);
    expect(canApprove(WORLD, P(30, 4, 'supervisor'), req)).to.equal(false);
    expect(canApprove(WORLD, P(31, 4, 'supervisor'), { ...req, targetUserId: 31 })).to.equal(false);
    expect(canApprove(WORLD, P(31, 1, 'supervisor'), { unitId: 1, requestedBy: 30, targetUserId: null })).to.equal(true);
  });
});

// ---------------------------------------------------------------- properties

const SCOPES = ['2-1', '2-2', '2-3', '2-4'];
const OPS = ['IN01', 'AD01', 'MD01'];
const RANKS = ['staff', 'section_chief', 'division_chief'];

/** A random county: planning root, agencies, nested subordinate units; some closed. */
const worldArb = fc.record({
  parents: fc.array(fc.nat(), { minLength: 1, maxLength: 10 }),
  agencyCount: fc.integer({ min: 1, max: 3 }),
  scopeSets: fc.array(fc.subarray(SCOPES), { minLength: 3, maxLength: 3 }),
  closed: fc.subarray([4, 5, 6, 7, 8, 9, 10]),
  sections: fc.array(fc.boolean(), { minLength: 14, maxLength: 14 }),
}).map(({ parents, agencyCount, scopeSets, closed, sections }) => {
  const units: TreeUnit[] = [unit(1, null, 'planning')];
  for (let i = 0; i < agencyCount; i++) units.push(unit(2 + i, 1, 'agency', sections[i]));
  let next = 2 + agencyCount;
  for (const p of parents) {
    const candidates = units.filter((u) => u.kind !== 'planning');
    const parent = candidates[p % candidates.length];
    units.push(unit(next, parent.id, 'unit', sections[next % 14], closed.includes(next) ? 'closed' : 'active'));
    next++;
  }
  const agencyScopes = new Map<number, string[]>();
  for (let i = 0; i < agencyCount; i++) agencyScopes.set(2 + i, scopeSets[i]);
  return { units, agencyScopes, opCodes: OPS } as World;
});

interface Action { kind: 'create' | 'change'; actor: number; target: number; unitPick: number; roles: string[]; perms: Perm[]; rank: string }
const actionArb = fc.record({
  kind: fc.constantFrom<'create' | 'change'>('create', 'change'),
  actor: fc.nat(),
  target: fc.nat(),
  unitPick: fc.nat(),
  // Mostly plausible grants (so chains of admins actually form), sometimes anything at all.
  roles: fc.oneof(fc.constant(['admin']), fc.subarray(['clerk', 'supervisor', 'checker', 'auditor'], { minLength: 1 }), fc.subarray([...ROLES], { minLength: 1, maxLength: 3 })),
  perms: fc.oneof(fc.constant([]), fc.subarray(SCOPES.flatMap((s) => OPS.map((o) => ({ scope: s, opCode: o }))), { maxLength: 4 })),
  rank: fc.constantFrom(...RANKS),
}) as fc.Arbitrary<Action>;

interface Person extends Principal { perms: Perm[]; createdBy: number | null }

/** Applies only what the rules allow, and checks after each step what must never happen. */
const applied = { create: 0, change: 0, deepest: 0 };
function simulate(w: World, actions: Action[]): void {
  const people: Person[] = [{ id: 1, unitId: 1, roles: ['planning_admin'], perms: [], createdBy: null }];
  for (const a of actions) {
    // Mostly admins act (the interesting case); sometimes anyone tries.
    const admins = people.filter((x) => x.roles.includes('admin') || x.roles.includes('planning_admin'));
    const actor = a.actor % 4 ? admins[a.actor % admins.length] : people[a.actor % people.length];
    if (a.kind === 'create') {
      // Two in three attempts aim at the actor's own layer; the rest anywhere in the county.
      const near = [actor.unitId, ...w.units.filter((u) => u.parentId === actor.unitId).map((u) => u.id)];
      const unitId = a.unitPick % 3 ? near[a.unitPick % near.length] : w.units[a.unitPick % w.units.length].id;
      const problems = grantProblems(w, actor, { unitId, roles: a.roles, permissions: a.perms, rank: a.rank });
      if (problems.length) continue;
      const p: Person = { id: people.length + 1, unitId, roles: [...a.roles], perms: [...a.perms], createdBy: actor.id };
      people.push(p);
      checkGrant(w, actor, p);
      applied.create++;
      let depth = 0;
      for (let q: Person | undefined = p; q?.createdBy; q = people.find((x) => x.id === q!.createdBy)) depth++;
      applied.deepest = Math.max(applied.deepest, depth);
    } else {
      const target = people[a.target % people.length];
      if (!canManageUser(w, actor, target)) continue;
      if (grantProblems(w, actor, { unitId: target.unitId, roles: a.roles, permissions: a.perms, rank: a.rank }).length) continue;
      expect(target.id, 'nobody changes their own account').not.to.equal(actor.id);
      target.roles = [...a.roles];
      target.perms = [...a.perms];
      checkGrant(w, actor, target);
      applied.change++;
    }
    for (const p of people) {
      // Never a permission outside the person's agency authorisation, whoever granted it.
      const allowed = new Set(scopesForUnit(w, p.unitId));
      expect(p.perms.every((x) => allowed.has(x.scope)), 'permissions within the agency').to.equal(true);
      if (p.id !== 1) expect(p.roles, 'nobody is made planning admin').not.to.include('planning_admin');
      if (p.roles.some((r) => r === 'auditor' || r === 'ethics')) {
        expect(w.units.find((u) => u.id === p.unitId)!.kind, 'auditors and ethics officers only in an agency or the planning department').to.be.oneOf(['agency', 'planning']);
      }
    }
  }
}

function checkGrant(w: World, actor: Principal, p: Person): void {
  const mine = subtree(w, actor.unitId);
  expect(mine.has(p.unitId), 'inside the actor\'s subtree').to.equal(true);
  const reach = actorScopeReach(w, actor);
  expect(p.perms.every((x) => reach.has(x.scope)), 'not above the actor\'s own reach').to.equal(true);
  if (p.roles.includes('admin')) {
    expect(w.units.find((u) => u.id === p.unitId)!.parentId, 'admins only one level down').to.equal(actor.unitId);
    expect(p.roles, 'a next-level admin is only an admin').to.deep.equal(['admin']);
  } else {
    expect(p.unitId, 'users only at the actor\'s own level').to.equal(actor.unitId);
  }
  expect(w.units.find((u) => u.id === p.unitId)!.status).to.equal('active');
}

describe('accounts: delegation properties (fast-check)', () => {
  it('no sequence of allowed actions lets anyone provision outside their subtree or above their own', () => {
    fc.assert(fc.property(worldArb, fc.array(actionArb, { minLength: 10, maxLength: 60 }), (w, actions) => simulate(w, actions)), { numRuns: 300 });
    // The runs really exercised the layers: accounts made, changed, and chains of admins formed.
    expect(applied.create).to.be.greaterThan(300);
    expect(applied.change).to.be.greaterThan(20);
    expect(applied.deepest).to.be.at.least(2);
  });

  it('an admin\'s reach shrinks down the tree: whatever a lower admin may grant, the one above could have granted to someone', () => {
    fc.assert(fc.property(worldArb, fc.nat(), (w, pick) => {
      const u = w.units[pick % w.units.length];
      if (u.parentId == null) return;
      const lower = actorScopeReach(w, P(1, u.id, 'admin'));
      const upper = actorScopeReach(w, P(2, u.parentId, w.units.find((x) => x.id === u.parentId)!.kind === 'planning' ? 'planning_admin' : 'admin'));
      for (const s of lower) expect(upper.has(s)).to.equal(true);
    }), { numRuns: 300 });
  });

  it('nobody approves a request they filed or one about themselves; approval stays inside the unit\'s agency', () => {
    fc.assert(fc.property(worldArb, fc.nat(), fc.nat(), fc.nat(), fc.boolean(), (w, who, reqUnit, other, aboutSelf) => {
      const approverUnit = w.units[who % w.units.length].id;
      const unitId = w.units[reqUnit % w.units.length].id;
      const approver = P(100, approverUnit, 'supervisor');
      expect(canApprove(w, approver, { unitId, requestedBy: 100, targetUserId: null })).to.equal(false);
      expect(canApprove(w, approver, { unitId, requestedBy: 101 + other, targetUserId: aboutSelf ? 100 : null })).to.equal(aboutSelf ? false : canApprove(w, approver, { unitId, requestedBy: 101 + other, targetUserId: null }));
      if (canApprove(w, approver, { unitId, requestedBy: 101, targetUserId: null })) {
        expect(subtree(w, approverUnit).has(unitId)).to.equal(true);
      }
    }), { numRuns: 300 });
  });

  it('filing and managing never reach outside the actor\'s subtree', () => {
    fc.assert(fc.property(worldArb, fc.nat(), fc.nat(), fc.subarray([...ROLES], { minLength: 1 }), (w, a, b, roles) => {
      const actor = P(1, w.units[a % w.units.length].id, 'admin', 'supervisor');
      const target = P(2, w.units[b % w.units.length].id, ...roles);
      const inside = subtree(w, actor.unitId).has(target.unitId);
      if (canFile(w, actor, target.unitId)) expect(inside).to.equal(true);
      if (canManageUser(w, actor, target)) expect(inside).to.equal(true);
      expect(canManageUser(w, actor, actor)).to.equal(false);
    }), { numRuns: 300 });
  });
});
