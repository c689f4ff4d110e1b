// The unit tree (計畫處 → 業務機關 → 轄屬機關/單位) and agency × scope authorisations: create,
// rename, move, close (never delete), and scopes managed by the planning department.
import { expect } from 'chai';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, signIn, type Signed } from '../support/app.ts';
import { seedAccountPeople, seedTree, type Tree } from '../support/fixtures.ts';

describe(`accounts: unit tree and scope authorisations (${ENGINE})`, () => {
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  const post = (s: Signed, path: string, body: unknown) => s.agent.post(path).set('X-CSRF-Token', s.csrf).send(body as object);
  const unit = (code: string) => t.db('units').where({ code }).first();
  const events = (action: string) => t.db('system_events').where({ action }).select();

  before(async () => {
    t = await migratedDb({ LOGIN_RATE_PER_MINUTE: '1000' });
    tree = await seedTree(t.db);
    await seedAccountPeople(t.db, tree);
    app = appFor(t);
  });
  after(() => t.drop());

  it('lists the tree with parents, sections and each agency\'s scopes', async () => {
    const s = await signIn(app, 'ag1.clerk');
    const res = await s.agent.get('/api/v1/units');
    expect(res.status).to.equal(200);
    expect(res.body.total).to.equal(res.body.items.length);
    const ag1 = res.body.items.find((u: any) => u.code === 'AG1');
    expect(ag1).to.include({ kind: 'agency', parent: 'PLAN', hasSections: true, status: 'active' });
    expect(ag1.scopes).to.have.members(['2-1', '2-8']);
    expect(res.body.items.find((u: any) => u.code === 'AG1-U1-A').parent).to.equal('AG1-U1');
  });

  it('the planning department creates agencies; an admin creates units below its own, not elsewhere; codes are unique', async () => {
    const plan = await signIn(app, 'plan.admin');
    const ag = await post(plan, '/api/v1/units', { code: 'AG3', name: '民政處', parent: 'PLAN', hasSections: true });
    expect(ag.status).to.equal(201);
    expect((await unit('AG3')).kind).to.equal('agency');
    const admin = await signIn(app, 'ag1.admin');
    expect((await post(admin, '/api/v1/units', { code: 'AG1-U2', name: '草屯中心', parent: 'AG1', hasSections: false })).status).to.equal(201);
    expect((await unit('AG1-U2')).kind).to.equal('unit');
    expect((await post(admin, '/api/v1/units', { code: 'AG2-U9', name: '越界', parent: 'AG2' })).status).to.equal(403);
    const dup = await post(admin, '/api/v1/units', { code: 'AG1-U2', name: '重複', parent: 'AG1' });
    expect(dup.status).to.equal(400);
    expect(dup.body.errors[0].field).to.equal('code');
    const bad = await post(admin, '/api/v1/units', { code: 'x', name: '', parent: 'NOPE' });
    expect(bad.status).to.equal(400);
    expect(bad.body.errors.map((e: any) => e.field)).to.include.members(['code', 'name']);
    const unknownParent = await post(admin, '/api/v1/units', { code: 'AG1-U7', name: '未知上級', parent: 'NOPE' });
    expect(unknownParent.status).to.equal(400);
    expect(unknownParent.body.errors[0].field).to.equal('parent');
    expect((await events('unit-create')).length).to.equal(2);
  });

  it('rename and move within the agency; never under its own descendant, never across kinds, never beyond the agency authorisation', async () => {
    const admin = await signIn(app, 'ag1.admin');
    const u1a = (await unit('AG1-U1-A')).id;
    expect((await post(admin, `/api/v1/units/${u1a}`, { name: '埔里中心北區站' })).status).to.equal(204);
    expect((await unit('AG1-U1-A')).name).to.equal('埔里中心北區站');
    expect((await post(admin, `/api/v1/units/${u1a}`, { parent: 'AG1-U2' })).status).to.equal(204);
    expect((await unit('AG1-U1-A')).parent_id).to.equal((await unit('AG1-U2')).id);
    const loop = await post(admin, `/api/v1/units/${tree.AG1U1}`, { parent: 'AG1-U1' });
    expect(loop.status).to.equal(400);
    const self = await post(admin, `/api/v1/units/${(await unit('AG1-U2')).id}`, { parent: 'AG1-U1-A' });
    expect(self.status).to.equal(400);
    expect(self.body.errors[0].message).to.contain('下屬單位');
    // An admin renames its own unit, but moving it is for the level above.
    expect((await post(admin, `/api/v1/units/${tree.AG1}`, { name: '社會及勞動處' })).status).to.equal(204);
    expect((await post(admin, `/api/v1/units/${tree.AG1}`, { parent: 'AG2' })).status).to.equal(403);
    const plan = await signIn(app, 'plan.admin');
    const kind = await post(plan, `/api/v1/units/${tree.AG1}`, { parent: 'AG2' });
    expect(kind.status).to.equal(400);
    expect(kind.body.errors[0].message).to.contain('業務機關須直屬計畫處');
    // AG1-U1 has a clerk with 2-8/IN01; AG2 is authorised for 2-4 only.
    const across = await post(plan, `/api/v1/units/${tree.AG1U1}`, { parent: 'AG2' });
    expect(across.status).to.equal(409);
    expect(across.body.type).to.match(/permissions-outside-agency$/);
    expect((await unit('AG1-U1')).parent_id).to.equal(tree.AG1);
    expect((await events('unit-move')).length).to.equal(1);
  });

  it('closes a unit only when it has no live accounts or units below; closed units stay, with history', async () => {
    const admin = await signIn(app, 'ag1.admin');
    const busy = await post(admin, `/api/v1/units/${tree.AG1U1}`, { close: true });
    expect(busy.status).to.equal(409);
    expect(busy.body.type).to.match(/unit-has-users$/);
    const u2 = (await unit('AG1-U2')).id;
    const parent = await post(admin, `/api/v1/units/${u2}`, { close: true });
    expect(parent.status).to.equal(409);
    expect(parent.body.type).to.match(/unit-has-children$/);
    const u1a = (await unit('AG1-U1-A')).id;
    await t.db('users').where({ unit_id: u1a }).update({ status: 'disabled' });
    expect((await post(admin, `/api/v1/units/${u1a}`, { close: true })).status).to.equal(204);
    const closed = await unit('AG1-U1-A');
    expect(closed.status).to.equal('closed');
    expect(closed.closed_at).to.be.a('number');
    expect((await post(admin, `/api/v1/units/${u1a}`, { name: '再改名' })).status).to.equal(409);
    // Nobody can be provisioned into a closed unit.
    const req = await post(admin, '/api/v1/account-requests', { kind: 'new', unit: 'AG1-U1-A', reason: '裁撤後申請', roles: ['admin'], permissions: [], person: { account: 'closed.admin', name: '裁撤', rank: 'staff', authSource: 'local' } });
    expect(req.status).to.equal(400);
    expect(req.body.errors[0].message).to.contain('裁撤');
    expect((await events('unit-close')).length).to.equal(1);
  });

  it('the planning department sets an agency\'s scopes; a withdrawn scope is terminated (kept) and taken out of every permission set below', async () => {
    const admin = await signIn(app, 'ag1.admin');
    expect((await post(admin, `/api/v1/units/${tree.AG1}/scopes`, { scopes: ['2-1'] })).status).to.equal(403);
    const plan = await signIn(app, 'plan.admin');
    const unknown = await post(plan, `/api/v1/units/${tree.AG1}/scopes`, { scopes: ['2-1', '2-6'] });
    expect(unknown.status).to.equal(400);
    expect(unknown.body.errors[0].message).to.contain('2-6');
    expect((await post(plan, `/api/v1/units/${tree.AG1U1}/scopes`, { scopes: ['2-1'] })).status).to.equal(400);
    const res = await post(plan, `/api/v1/units/${tree.AG1}/scopes`, { scopes: ['2-1', '2-3'] });
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ added: ['2-3'], terminated: ['2-8'], revoked: 1 });
    const u1clerk = await (await signIn(app, 'u1.clerk')).agent.get('/api/v1/me');
    expect(u1clerk.body.permissions).to.deep.equal([]);
    const rows = await t.db('unit_scopes as us').join('scopes as s', 's.id', 'us.scope_id').where('us.unit_id', tree.AG1).select('s.code', 'us.status', 'us.terminated_on');
    expect(rows.find((r: any) => r.code === '2-8').status).to.equal('terminated');
    expect(rows.find((r: any) => r.code === '2-8').terminated_on).to.match(/^\d{4}-\d{2}-\d{2}$/);
    expect(rows.find((r: any) => r.code === '2-3').status).to.equal('active');
    expect(JSON.parse((await events('unit-scopes'))[0].detail)).to.deep.equal({ added: ['2-3'], terminated: ['2-8'], permissionsRevoked: 1 });
    // Re-authorising brings the link back as active (the same row).
    expect((await post(plan, `/api/v1/units/${tree.AG1}/scopes`, { scopes: ['2-1', '2-3', '2-8'] })).body.added).to.deep.equal(['2-8']);
    expect((await t.db('unit_scopes').where({ unit_id: tree.AG1 }).count({ n: '*' }))[0].n).to.satisfy((n: unknown) => Number(n) === 3);
  });

  it('the unit page shows the tree and re-shows the new-unit form with messages', async () => {
    const plan = await signIn(app, 'plan.admin');
    const page = await plan.agent.get('/accounts/units');
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('單位管理').and.contain('業務範圍授權');
    const res = await plan.agent.post('/accounts/units').type('form').send({ _csrf: plan.csrf, code: 'AG1', name: '重複代碼', parent: 'PLAN' });
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('已存在').and.contain('value="重複代碼"');
  });
});
