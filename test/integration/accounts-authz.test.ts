// Authorisation matrix for the accounts and sign-in routes: each route × each role × a target in
// the caller's own subtree / in another agency → allowed or refused. A route of these
// capabilities without an entry here fails the test, so a new route cannot skip the matrix.
import { expect } from 'chai';
import request from 'supertest';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, signIn, type Signed } from '../support/app.ts';
import { makeUser, seedTree, type Tree } from '../support/fixtures.ts';
import { access as accountsAccess } from '../../server/accounts/access.ts';
import { access as authAccess } from '../../server/auth/access.ts';
import { ROLES, type Role } from '../../server/accounts/roles.ts';

type Side = 'own' | 'other';
interface Call { url: string; body?: Record<string, unknown>; form?: boolean }
interface Entry {
  /** Roles allowed with a target in their own subtree, and with one in another agency. */
  own: readonly Role[] | 'all';
  other: readonly Role[] | 'all';
  build(side: Side): Promise<Call>;
  /** Needs a session of its own (the call ends it). */
  fresh?: boolean;
  /** No session at all is needed (public routes are checked for every role alike). */
}

const ADMINS: Role[] = ['planning_admin', 'admin'];
const FILERS: Role[] = ['planning_admin', 'admin', 'supervisor'];
const READERS: Role[] = ['planning_admin', 'admin', 'supervisor', 'auditor', 'ethics', 'it'];
const REVIEWERS: Role[] = ['planning_admin', 'admin', 'auditor'];
const ALL = 'all' as const;

describe(`accounts: authorisation matrix (${ENGINE})`, function () {
  this.timeout(300_000);
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  let seq = 0;
  const ids: Record<string, number> = {};
  const agents = new Map<Role, Signed>();
  const uniq = (p: string) => `${p}${++seq}`;
  const unitOf = (side: Side) => (side === 'own' ? tree.AG1 : tree.AG2);
  const codeOf = (side: Side) => (side === 'own' ? 'AG1' : 'AG2');

  async function clerk(side: Side, patch: Record<string, unknown> = {}): Promise<number> {
    const id = await makeUser(t.db, { account: uniq(`m.${side}.`), unitId: unitOf(side), roles: ['clerk'] });
    if (Object.keys(patch).length) await t.db('users').where({ id }).update(patch);
    return id;
  }
  async function requestRow(side: Side, status: string, kind: string, payload: Record<string, unknown>, target: number | null): Promise<number> {
    const [id] = await t.db('account_requests').insert({
      kind, status, unit_id: unitOf(side), target_user_id: target, payload: JSON.stringify(payload), reason: '矩陣測試',
      requested_by: ids[side === 'own' ? 'filer.own' : 'filer.other'], requested_at: Date.now(),
      decided_by: status === 'pending' ? null : ids[side === 'own' ? 'filer.own' : 'filer.other'], decided_at: status === 'pending' ? null : Date.now(),
    });
    return Number(id);
  }
  const approvedNew = (side: Side) => {
    const account = uniq(`n.${side}.`);
    return requestRow(side, 'approved', 'new', { account, name: account, rank: 'staff', authSource: 'local', roles: ['clerk'], permissions: [] }, null);
  };
  const approvedDisable = async (side: Side) => requestRow(side, 'approved', 'disable', { disableOn: '2099-12-31' }, await clerk(side));
  const pending = async (side: Side) => requestRow(side, 'pending', 'disable', { disableOn: '2099-12-31' }, await clerk(side));
  async function reviewItem(side: Side): Promise<number> {
    const [rid] = await t.db('account_reviews').insert({ period: '2026-11', trigger: 'manual', started_at: Date.now(), finished_at: Date.now(), users_checked: 1, findings: 1, summary: '{}' });
    const user = await clerk(side);
    const [iid] = await t.db('review_items').insert({ review_id: Number(rid), user_id: user, unit_id: unitOf(side), finding: 'idle', detail: '{}', status: 'open' });
    return Number(iid);
  }
  const newRequestBody = (side: Side) => ({ kind: 'new', unit: codeOf(side), reason: '矩陣測試', roles: ['clerk'], permissions: [], person: { account: uniq('f.'), name: '矩陣', rank: 'staff', authSource: 'local' } });
  const fixed = (url: string, body?: Record<string, unknown>, form = false) => async (): Promise<Call> => ({ url, body, form });

  const MATRIX: Record<string, Entry> = {
    // ---- sign-in (server/auth): public or self only
    'GET /login': { own: ALL, other: ALL, build: fixed('/login') },
    'POST /login': { own: ALL, other: ALL, build: fixed('/login', { account: 'nobody', password: 'x' }, true) },
    'POST /logout': { own: ALL, other: ALL, fresh: true, build: fixed('/logout', {}, true) },
    'POST /logout-all': { own: ALL, other: ALL, fresh: true, build: fixed('/logout-all', {}, true) },
    'GET /password': { own: ALL, other: ALL, build: fixed('/password') },
    'POST /password': { own: ALL, other: ALL, build: fixed('/password', { account: 'nobody', current: 'x', next: 'y', confirm: 'y' }, true) },
    'POST /api/v1/auth/login': { own: ALL, other: ALL, build: fixed('/api/v1/auth/login', { account: 'nobody', password: 'x' }) },
    'POST /api/v1/auth/logout': { own: ALL, other: ALL, fresh: true, build: fixed('/api/v1/auth/logout', {}) },
    'POST /api/v1/auth/logout-all': { own: ALL, other: ALL, fresh: true, build: fixed('/api/v1/auth/logout-all', {}) },
    'POST /api/v1/auth/password': { own: ALL, other: ALL, build: fixed('/api/v1/auth/password', { account: 'nobody', current: 'x', next: 'y' }) },
    'GET /api/v1/me': { own: ALL, other: ALL, build: fixed('/api/v1/me') },
    // ---- units
    'GET /api/v1/units': { own: ALL, other: ALL, build: fixed('/api/v1/units') },
    'POST /api/v1/units': { own: ADMINS, other: ['planning_admin'], build: async (s) => ({ url: '/api/v1/units', body: { code: uniq(`X${s === 'own' ? 'O' : 'T'}-`), name: '矩陣單位', parent: codeOf(s), hasSections: false } }) },
    'POST /api/v1/units/:id': { own: ADMINS, other: ['planning_admin'], build: async (s) => ({ url: `/api/v1/units/${s === 'own' ? tree.AG1U1 : tree.AG2U1}`, body: { hasSections: false } }) },
    'POST /api/v1/units/:id/scopes': { own: ['planning_admin'], other: ['planning_admin'], build: async (s) => ({ url: `/api/v1/units/${unitOf(s)}/scopes`, body: { scopes: s === 'own' ? ['2-1', '2-8'] : ['2-4'] } }) },
    'GET /accounts/units': { own: READERS, other: READERS, build: fixed('/accounts/units') },
    'POST /accounts/units': { own: ADMINS, other: ['planning_admin'], build: async (s) => ({ url: '/accounts/units', body: { code: uniq(`P${s === 'own' ? 'O' : 'T'}-`), name: '矩陣單位', parent: codeOf(s) }, form: true }) },
    'POST /accounts/units/:id': { own: ADMINS, other: ['planning_admin'], build: async (s) => ({ url: `/accounts/units/${s === 'own' ? tree.AG1U1 : tree.AG2U1}`, body: { hasSections: 'false' }, form: true }) },
    'POST /accounts/units/:id/scopes': { own: ['planning_admin'], other: ['planning_admin'], build: async (s) => ({ url: `/accounts/units/${unitOf(s)}/scopes`, body: { scopes: s === 'own' ? ['2-1', '2-8'] : ['2-4'] }, form: true }) },
    // ---- users
    'GET /api/v1/users': { own: READERS, other: ['planning_admin'], build: async (s) => ({ url: `/api/v1/users?unit=${codeOf(s)}` }) },
    'GET /api/v1/users/:id': { own: READERS, other: ['planning_admin'], build: async (s) => ({ url: `/api/v1/users/${await clerk(s)}` }) },
    'GET /accounts/users': { own: READERS, other: ['planning_admin'], build: async (s) => ({ url: `/accounts/users?unit=${codeOf(s)}` }) },
    'GET /accounts/users/:id': { own: READERS, other: ['planning_admin'], build: async (s) => ({ url: `/accounts/users/${await clerk(s)}` }) },
    // Carrying out a clerk's account is the agency admin's layer; the planning department's is agency admins.
    'POST /api/v1/users': { own: ['admin'], other: [], build: async (s) => ({ url: '/api/v1/users', body: { requestId: await approvedNew(s) } }) },
    'POST /api/v1/users/:id/unlock': { own: ['admin'], other: [], build: async (s) => ({ url: `/api/v1/users/${await clerk(s, { locked_until: Date.now() + 600_000 })}/unlock`, body: {} }) },
    'POST /api/v1/users/:id/activation': { own: ['admin'], other: [], build: async (s) => ({ url: `/api/v1/users/${await clerk(s, { status: 'pending', password_hash: null })}/activation`, body: {} }) },
    'POST /accounts/users/:id/unlock': { own: ['admin'], other: [], build: async (s) => ({ url: `/accounts/users/${await clerk(s, { locked_until: Date.now() + 600_000 })}/unlock`, body: {}, form: true }) },
    'POST /accounts/users/:id/activation': { own: ['admin'], other: [], build: async (s) => ({ url: `/accounts/users/${await clerk(s, { status: 'pending', password_hash: null })}/activation`, body: {}, form: true }) },
    // ---- account requests
    'GET /api/v1/account-requests': { own: FILERS, other: FILERS, build: fixed('/api/v1/account-requests') },
    'GET /api/v1/account-requests/:id': { own: FILERS, other: ['planning_admin'], build: async (s) => ({ url: `/api/v1/account-requests/${await pending(s)}` }) },
    'POST /api/v1/account-requests': { own: FILERS, other: ['planning_admin'], build: async (s) => ({ url: '/api/v1/account-requests', body: newRequestBody(s) }) },
    'POST /api/v1/account-requests/:id/decision': { own: ['supervisor'], other: [], build: async (s) => ({ url: `/api/v1/account-requests/${await pending(s)}/decision`, body: { decision: 'approve', reason: '矩陣核可' } }) },
    'POST /api/v1/account-requests/:id/execute': { own: ['admin'], other: [], build: async (s) => ({ url: `/api/v1/account-requests/${await approvedDisable(s)}/execute`, body: {} }) },
    'GET /accounts/requests': { own: FILERS, other: FILERS, build: fixed('/accounts/requests') },
    'GET /accounts/requests/new': { own: FILERS, other: FILERS, build: fixed('/accounts/requests/new') },
    'POST /accounts/requests': { own: FILERS, other: ['planning_admin'], build: async (s) => ({ url: '/accounts/requests', body: { kind: 'new', unit: codeOf(s), reason: '矩陣測試', roles: 'clerk', account: uniq('pf.'), name: '矩陣', personRank: 'staff', authSource: 'local' }, form: true }) },
    'GET /accounts/requests/:id': { own: FILERS, other: ['planning_admin'], build: async (s) => ({ url: `/accounts/requests/${await pending(s)}` }) },
    'POST /accounts/requests/:id/decision': { own: ['supervisor'], other: [], build: async (s) => ({ url: `/accounts/requests/${await pending(s)}/decision`, body: { decision: 'approve', reason: '矩陣核可' }, form: true }) },
    'POST /accounts/requests/:id/execute': { own: ['admin'], other: [], build: async (s) => ({ url: `/accounts/requests/${await approvedDisable(s)}/execute`, body: {}, form: true }) },
    'GET /accounts/approvals': { own: ['supervisor'], other: ['supervisor'], build: fixed('/accounts/approvals') },
    'GET /accounts/todo': { own: ADMINS, other: ADMINS, build: fixed('/accounts/todo') },
    // ---- account review
    'GET /api/v1/account-reviews': { own: REVIEWERS, other: REVIEWERS, build: fixed('/api/v1/account-reviews') },
    'GET /api/v1/account-reviews/:id': { own: REVIEWERS, other: REVIEWERS, build: async (s) => ({ url: `/api/v1/account-reviews/${(await t.db('review_items').where({ id: await reviewItem(s) }).first()).review_id}` }) },
    'POST /api/v1/account-reviews': { own: ADMINS, other: ADMINS, build: fixed('/api/v1/account-reviews', {}) },
    'GET /api/v1/review-items': { own: REVIEWERS, other: REVIEWERS, build: fixed('/api/v1/review-items') },
    'POST /api/v1/review-items/:id/decision': { own: ['admin'], other: [], build: async (s) => ({ url: `/api/v1/review-items/${await reviewItem(s)}/decision`, body: { decision: 'keep', reason: '矩陣保留' } }) },
    'GET /accounts/reviews': { own: REVIEWERS, other: REVIEWERS, build: fixed('/accounts/reviews') },
    'GET /accounts/reviews/:id': { own: REVIEWERS, other: REVIEWERS, build: async (s) => ({ url: `/accounts/reviews/${(await t.db('review_items').where({ id: await reviewItem(s) }).first()).review_id}` }) },
    'POST /accounts/reviews': { own: ADMINS, other: ADMINS, build: fixed('/accounts/reviews', {}, true) },
    'POST /accounts/review-items/:id/decision': { own: ['admin'], other: [], build: async (s) => ({ url: `/accounts/review-items/${await reviewItem(s)}/decision`, body: { decision: 'keep', reason: '矩陣保留' }, form: true }) },
    'GET /accounts/me': { own: ALL, other: ALL, build: fixed('/accounts/me') },
  };

  before(async () => {
    t = await migratedDb({ LOGIN_RATE_PER_MINUTE: '1000' });
    tree = await seedTree(t.db);
    app = appFor(t);
    ids['filer.own'] = await makeUser(t.db, { account: 'filer.own', unitId: tree.AG1, roles: ['admin'] });
    ids['filer.other'] = await makeUser(t.db, { account: 'filer.other', unitId: tree.AG2, roles: ['admin'] });
    for (const role of ROLES) {
      await makeUser(t.db, { account: `role.${role}`, unitId: role === 'planning_admin' ? tree.PLAN : tree.AG1, roles: [role], rank: 'division_chief' });
      agents.set(role, await signIn(app, `role.${role}`));
    }
  });
  after(() => t?.drop());

  it('has an entry for every accounts and sign-in route, and no stale ones', () => {
    const routes = [...accountsAccess, ...authAccess].map((e) => `${e.method} ${e.path}`).sort();
    expect(routes.filter((r) => !MATRIX[r]), 'routes without a matrix entry').to.deep.equal([]);
    expect(Object.keys(MATRIX).filter((k) => !routes.includes(k)), 'matrix entries without a route').to.deep.equal([]);
  });

  it('allows and refuses each route × role × own/other subtree as the matrix says', async () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const [key, entry] of Object.entries(MATRIX)) {
      const [method, path] = key.split(' ');
      const publicRoute = [...authAccess, ...accountsAccess].find((e) => e.method === method && e.path === path)!.who === 'public';
      for (const role of ROLES) {
        for (const side of ['own', 'other'] as const) {
          const allowedRoles = entry[side];
          const allowed = allowedRoles === 'all' || allowedRoles.includes(role);
          const s = entry.fresh ? await signIn(app, `role.${role}`) : agents.get(role)!;
          const call = await entry.build(side);
          const req = method === 'GET' ? s.agent.get(call.url) : s.agent.post(call.url).set('X-CSRF-Token', s.csrf);
          if (method === 'POST') (call.form ? req.type('form') : req).send(call.body ?? {});
          const res = await req;
          checked++;
          // Logout everywhere also ended the shared session of this role: sign it in again.
          if (entry.fresh) agents.set(role, await signIn(app, `role.${role}`));
          const refused = res.status === 403 || res.status === 404 || res.status === 401;
          if (res.status >= 500) wrong.push(`${key} ${role} ${side}: ${res.status}`);
          else if (!publicRoute && allowed === refused) wrong.push(`${key} as ${role} (${side}): expected ${allowed ? 'allow' : 'deny'}, got ${res.status} ${res.body?.detail ?? ''}`);
          if (publicRoute && res.status === 403 && res.body?.type?.endsWith('forbidden')) wrong.push(`${key} public but refused for ${role}`);
        }
      }
    }
    if (wrong.length) console.log(wrong.join('\n'));
    expect(wrong).to.deep.equal([]);
    expect(checked).to.equal(Object.keys(MATRIX).length * ROLES.length * 2);
  });

  it('refuses every non-public route without a session', async () => {
    for (const e of [...accountsAccess, ...authAccess].filter((x) => x.who !== 'public')) {
      const url = e.path.replace(':id', '1');
      const res = e.method === 'GET' ? await request(app).get(url) : await request(app).post(url).send({});
      expect([401, 403, 303], `${e.method} ${e.path}`).to.include(res.status);
    }
  });
});
