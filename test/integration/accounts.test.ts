// Provisioning (clause 3(一), 3(二)1(1)–(3), (6), (7)): requests listing NHI query permissions,
// approval by the responsible supervisor, execution by the admin with a one-time activation code,
// job changes and admin hand-over; bad input changes nothing.
import { expect } from 'chai';
import request from 'supertest';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, signIn, type Signed, csrfFromHtml } from '../support/app.ts';
import { PASSWORD, seedAccountPeople, seedTree, type Tree } from '../support/fixtures.ts';
import { setClock } from '../../server/time.ts';
import { pendingCounts } from '../../server/accounts/service.ts';

const NEW_PW = 'Brand-New-Passw0rd-1';

describe(`accounts: requests, approval, provisioning (${ENGINE})`, () => {
  let t: TestDb;
  let tree: Tree;
  let ids: Record<string, number>;
  let app: ReturnType<typeof appFor>;
  const as = async (account: string): Promise<Signed> => signIn(app, account);
  const post = (s: Signed, path: string, body: unknown) => s.agent.post(path).set('X-CSRF-Token', s.csrf).send(body as object);
  const count = async (table: string) => Number((await t.db(table).count({ n: '*' }))[0].n);
  const events = async (action: string) => t.db('system_events').where({ action }).select();

  before(async () => {
    t = await migratedDb({ LOGIN_RATE_PER_MINUTE: '1000' });
    tree = await seedTree(t.db);
    ids = await seedAccountPeople(t.db, tree);
    app = appFor(t);
  });
  after(() => t.drop());

  const newClerk = (account: string, extra: Record<string, unknown> = {}) => ({
    kind: 'new', unit: 'AG1', reason: '新進承辦人員辦理身心障礙保費補助', roles: ['clerk'],
    permissions: [{ scope: '2-1', opCode: 'IN01' }, { scope: '2-8', opCode: 'AD01' }],
    person: { account, name: '新進人員', rank: 'staff', authSource: 'local', personId: 'A123456789' }, ...extra,
  });

  it('new account: filed → approved by the supervisor → carried out by the admin → activated once with the code', async () => {
    const admin = await as('ag1.admin');
    const filed = await post(admin, '/api/v1/account-requests', newClerk('ag1.newbie'));
    expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
    const id = filed.body.id;

    const early = await post(admin, `/api/v1/account-requests/${id}/execute`, {});
    expect(early.status).to.equal(409);
    expect(early.body.type).to.match(/not-approved$/);

    const sup = await as('ag1.sup');
    const inbox = await sup.agent.get('/api/v1/account-requests?view=inbox');
    expect(inbox.body.items.map((x: any) => x.id)).to.include(id);
    const ok = await post(sup, `/api/v1/account-requests/${id}/decision`, { decision: 'approve', reason: '業務需要，同意' });
    expect(ok.status).to.equal(200);
    expect(ok.body.status).to.equal('approved');

    const todo = await admin.agent.get('/api/v1/account-requests?view=todo');
    expect(todo.body.items.map((x: any) => x.id)).to.include(id);
    const made = await post(admin, '/api/v1/users', { requestId: id });
    expect(made.status, JSON.stringify(made.body)).to.equal(201);
    expect(made.headers['cache-control']).to.contain('no-store');
    const code = made.body.activationCode as string;
    expect(code).to.match(/^[A-Z2-9]{5}(-[A-Z2-9]{5}){3}$/);

    const row = await t.db('users').where({ account: 'ag1.newbie' }).first();
    expect(row.status).to.equal('pending');
    expect(row.activation_hash).to.be.a('string').and.not.contain(code);
    expect(row.person_hmac).to.match(/^[0-9a-f]{64}$/);
    const perms = await t.db('user_permissions').where({ user_id: row.id });
    expect(perms).to.have.length(2);

    // The code only sets the first password: it never signs in.
    expect((await request(app).post('/api/v1/auth/login').send({ account: 'ag1.newbie', password: code })).status).to.equal(401);
    const set = await request(app).post('/api/v1/auth/password').send({ account: 'ag1.newbie', current: code, next: NEW_PW });
    expect(set.status, JSON.stringify(set.body)).to.equal(204);
    expect((await request(app).post('/api/v1/auth/login').send({ account: 'ag1.newbie', password: NEW_PW })).status).to.equal(204);
    const again = await request(app).post('/api/v1/auth/password').send({ account: 'ag1.newbie', current: code, next: 'Another-Passw0rd-9' });
    expect(again.status).to.equal(400);
    expect(again.body.errors[0].field).to.equal('current');

    const steps = await t.db('account_request_steps').where({ request_id: id }).orderBy('id');
    expect(steps.map((s: any) => s.step)).to.deep.equal(['filed', 'approved', 'executed']);
    expect(steps.map((s: any) => s.actor_account)).to.deep.equal(['ag1.admin', 'ag1.sup', 'ag1.admin']);
    expect(steps[1].note).to.equal('業務需要，同意');
    expect((await events('provision-new')).length).to.equal(1);
    expect((await events('activation')).some((e: any) => e.target_id === String(row.id))).to.equal(true);
  });

  it('a request approved twice gets a clear 409 and nothing changes; executing twice too', async () => {
    const admin = await as('ag1.admin');
    const id = (await post(admin, '/api/v1/account-requests', newClerk('ag1.twice'))).body.id;
    const sup = await as('ag1.sup');
    expect((await post(sup, `/api/v1/account-requests/${id}/decision`, { decision: 'approve', reason: '同意' })).status).to.equal(200);
    const steps = await count('account_request_steps');
    const sup2 = await as('ag1.sup2');
    const twice = await post(sup2, `/api/v1/account-requests/${id}/decision`, { decision: 'reject', reason: '不同意' });
    expect(twice.status).to.equal(409);
    expect(twice.body.type).to.match(/already-decided$/);
    expect(twice.body.detail).to.contain('不得重複核定');
    expect((await t.db('account_requests').where({ id }).first()).status).to.equal('approved');
    expect(await count('account_request_steps')).to.equal(steps);
    expect((await post(admin, `/api/v1/account-requests/${id}/execute`, {})).status).to.equal(200);
    const users = await count('users');
    const again = await post(admin, `/api/v1/account-requests/${id}/execute`, {});
    expect(again.status).to.equal(409);
    expect(again.body.type).to.match(/already-executed$/);
    expect(await count('users')).to.equal(users);
  });

  it('nobody approves their own request, nor one about themselves; another supervisor of the unit can', async () => {
    const sup = await as('ag1.sup');
    const id = (await post(sup, '/api/v1/account-requests', newClerk('ag1.own'))).body.id;
    const self = await post(sup, `/api/v1/account-requests/${id}/decision`, { decision: 'approve', reason: '自己核' });
    expect(self.status).to.equal(403);
    expect(self.body.detail).to.contain('不得核定自己提出的申請');
    const about = (await post(await as('ag1.admin'), '/api/v1/account-requests', { kind: 'change', userId: ids['ag1.sup2'], roles: ['supervisor'], permissions: [], reason: '調整' })).body.id;
    const sup2 = await as('ag1.sup2');
    expect((await post(sup2, `/api/v1/account-requests/${about}/decision`, { decision: 'approve', reason: '自己的' })).status).to.equal(403);
    expect((await post(sup2, `/api/v1/account-requests/${id}/decision`, { decision: 'approve', reason: '同意' })).status).to.equal(200);
    // A supervisor of another agency is not the responsible supervisor.
    const other = (await post(await as('ag1.admin'), '/api/v1/account-requests', newClerk('ag1.other'))).body.id;
    expect((await post(await as('ag2.sup'), `/api/v1/account-requests/${other}/decision`, { decision: 'approve', reason: '測試理由' })).status).to.equal(404);
    expect((await post(await as('plan.sup'), `/api/v1/account-requests/${other}/decision`, { decision: 'approve', reason: '越級' })).status).to.equal(403);
  });

  it('bad input: unknown unit, permission outside the agency authorisation, role outside reach, weak checker rank — each named, nothing written', async () => {
    const admin = await as('ag1.admin');
    const before = await count('account_requests');
    const unknown = await post(admin, '/api/v1/account-requests', newClerk('x.unknown', { unit: 'NOPE' }));
    expect(unknown.status).to.equal(400);
    expect(unknown.body.errors.map((e: any) => e.field)).to.deep.equal(['unit']);
    const outside = await post(admin, '/api/v1/account-requests', newClerk('x.outside', { permissions: [{ scope: '2-4', opCode: 'IN01' }] }));
    expect(outside.status).to.equal(400);
    expect(outside.body.errors[0].field).to.equal('permissions');
    expect(outside.body.errors[0].message).to.contain('2-4/IN01');
    const role = await post(admin, '/api/v1/account-requests', newClerk('x.role', { roles: ['planning_admin'] }));
    expect(role.status).to.equal(400);
    expect(role.body.errors[0].field).to.equal('roles');
    const mixed = await post(admin, '/api/v1/account-requests', newClerk('x.mixed', { roles: ['admin', 'clerk'] }));
    expect(mixed.status).to.equal(400);
    expect(mixed.body.errors[0].field).to.equal('roles');
    const rank = await post(admin, '/api/v1/account-requests', newClerk('x.rank', { roles: ['checker'], permissions: [] }));
    expect(rank.status).to.equal(400);
    expect(rank.body.errors[0].field).to.equal('person.rank');
    const taken = await post(admin, '/api/v1/account-requests', newClerk('ag1.clerk'));
    expect(taken.status).to.equal(400);
    expect(taken.body.errors[0].field).to.equal('person.account');
    const badId = await post(admin, '/api/v1/account-requests', newClerk('x.id', { person: { account: 'x.id', name: 'x', rank: 'staff', personId: 'A123456788' } }));
    expect(badId.status).to.equal(400);
    expect(badId.body.errors[0].field).to.equal('personId');
    const subtree = await post(admin, '/api/v1/account-requests', newClerk('x.sub', { unit: 'AG2', permissions: [] }));
    expect(subtree.status).to.equal(403);
    expect(await count('account_requests')).to.equal(before);
  });

  it('layered delegation at execution: an agency admin creates next-level admins but not its own level\'s admins; the planning dept creates agency admins (annex form)', async () => {
    const planReq = await post(await as('ag1.sup'), '/api/v1/account-requests', {
      kind: 'new', unit: 'AG1', reason: '機關管理者申請表（附件）', roles: ['admin'], permissions: [],
      person: { account: 'ag1.admin2', name: '第二管理者', rank: 'staff', title: '科員', phone: '049-2222106', email: 'admin2@example.gov.tw', authSource: 'local' },
    });
    expect(planReq.status, JSON.stringify(planReq.body)).to.equal(201);
    await post(await as('ag1.sup2'), `/api/v1/account-requests/${planReq.body.id}/decision`, { decision: 'approve', reason: '同意' });
    const denied = await post(await as('ag1.admin'), `/api/v1/account-requests/${planReq.body.id}/execute`, {});
    expect(denied.status).to.equal(403);
    expect(denied.body.detail).to.contain('admin');
    const done = await post(await as('plan.admin'), `/api/v1/account-requests/${planReq.body.id}/execute`, {});
    expect(done.status, JSON.stringify(done.body)).to.equal(200);
    expect(done.body.activationCode).to.be.a('string');

    const unitAdmin = await post(await as('ag1.admin'), '/api/v1/account-requests', { kind: 'new', unit: 'AG1-U1', reason: '單位管理者', roles: ['admin'], permissions: [], person: { account: 'u1.admin2', name: '單位管理者', rank: 'staff', authSource: 'local' } });
    await post(await as('u1.sup'), `/api/v1/account-requests/${unitAdmin.body.id}/decision`, { decision: 'approve', reason: '同意' });
    expect((await post(await as('u1.admin'), `/api/v1/account-requests/${unitAdmin.body.id}/execute`, {})).status).to.equal(403);
    expect((await post(await as('plan.admin'), `/api/v1/account-requests/${unitAdmin.body.id}/execute`, {})).status).to.equal(403);
    expect((await post(await as('ag1.admin'), `/api/v1/account-requests/${unitAdmin.body.id}/execute`, {})).status).to.equal(200);
  });

  it('change of permissions is recorded with before and after', async () => {
    const admin = await as('ag1.admin');
    const id = (await post(admin, '/api/v1/account-requests', { kind: 'change', userId: ids['ag1.clerk'], roles: ['clerk'], permissions: [{ scope: '2-8', opCode: 'IN01' }], reason: '業務調整' })).body.id;
    await post(await as('ag1.sup'), `/api/v1/account-requests/${id}/decision`, { decision: 'approve', reason: '同意' });
    expect((await post(admin, `/api/v1/account-requests/${id}/execute`, {})).status).to.equal(200);
    const me = await (await as('ag1.clerk')).agent.get('/api/v1/me');
    expect(me.body.permissions).to.deep.equal([{ scope: '2-8', opCode: 'IN01' }]);
    const ev = (await events('permission-change')).find((e: any) => e.target_id === String(ids['ag1.clerk']));
    expect(JSON.parse(ev.detail).before.permissions).to.deep.equal([{ scope: '2-1', opCode: 'IN01' }]);
  });

  it('scheduled disable: the account stops at the start of the effective day (Taipei), sessions included', async () => {
    const base = Date.parse('2026-11-23T04:00:00Z'); // 12:00 Taipei
    setClock(() => base);
    const admin = await as('ag1.admin');
    const id = (await post(admin, '/api/v1/account-requests', { kind: 'disable', userId: ids['ag1.ethics'], disableOn: '2026-11-24', reason: '職務異動，11/24 調離' })).body.id;
    await post(await as('ag1.sup'), `/api/v1/account-requests/${id}/decision`, { decision: 'approve', reason: '同意' });
    expect((await post(admin, `/api/v1/account-requests/${id}/execute`, {})).status).to.equal(200);
    expect((await t.db('users').where({ id: ids['ag1.ethics'] }).first()).disable_on).to.equal('2026-11-24');
    const ethics = await as('ag1.ethics');
    setClock(() => Date.parse('2026-11-23T15:59:00Z')); // 23:59 Taipei
    expect((await ethics.agent.get('/api/v1/me')).status).to.equal(200);
    setClock(() => Date.parse('2026-11-23T16:00:00Z')); // 00:00 Taipei on the 24th
    expect((await ethics.agent.get('/api/v1/me')).status).to.equal(401);
    expect((await request(app).post('/api/v1/auth/login').send({ account: 'ag1.ethics', password: PASSWORD })).status).to.equal(401);
    const past = await post(admin, '/api/v1/account-requests', { kind: 'disable', userId: ids['ag1.it'], disableOn: '2026-01-01', reason: '測試理由' });
    expect(past.status).to.equal(400);
    expect(past.body.errors[0].field).to.equal('disableOn');
  });

  it('admin hand-over: successor created and predecessor disabled in one recorded step', async () => {
    const u1admin = await as('u1.admin');
    const filed = await post(await as('ag1.admin'), '/api/v1/account-requests', { kind: 'handover', userId: ids['u1.admin'], reason: '管理者職務異動交接', person: { account: 'u1.successor', name: '新任管理者', rank: 'staff', authSource: 'local' } });
    expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
    await post(await as('u1.sup'), `/api/v1/account-requests/${filed.body.id}/decision`, { decision: 'approve', reason: '同意' });
    const done = await post(await as('ag1.admin'), `/api/v1/account-requests/${filed.body.id}/execute`, {});
    expect(done.status, JSON.stringify(done.body)).to.equal(200);
    const successor = await t.db('users').where({ account: 'u1.successor' }).first();
    expect(successor.unit_id).to.equal(tree.AG1U1);
    expect(await t.db('user_roles').where({ user_id: successor.id }).pluck('role')).to.deep.equal(['admin']);
    const old = await t.db('users').where({ id: ids['u1.admin'] }).first();
    expect(old.status).to.equal('disabled');
    expect(old.disabled_reason).to.contain('u1.successor');
    expect((await u1admin.agent.get('/api/v1/me')).status).to.equal(401);
    const ev = (await events('handover'))[0];
    expect(JSON.parse(ev.detail)).to.include({ predecessor: 'u1.admin', successor: 'u1.successor' });
    const clerkHandover = await post(await as('ag1.admin'), '/api/v1/account-requests', { kind: 'handover', userId: ids['ag1.clerk'], reason: '測試理由', person: { account: 'zz.z', name: 'z', rank: 'staff', authSource: 'local' } });
    expect(clerkHandover.status).to.equal(400);
    expect(clerkHandover.body.errors[0].field).to.equal('userId');
  });

  it('an expired activation code is refused with a clear reason; a re-issued one works and the old one no longer does', async () => {
    const admin = await as('ag1.admin');
    const id = (await post(admin, '/api/v1/account-requests', newClerk('ag1.late', { person: { account: 'ag1.late', name: '晚到', rank: 'staff', authSource: 'local' } }))).body.id;
    await post(await as('ag1.sup'), `/api/v1/account-requests/${id}/decision`, { decision: 'approve', reason: '同意' });
    const made = await post(admin, '/api/v1/users', { requestId: id });
    const code = made.body.activationCode;
    // 72 h pass: (the clock is not moved here, as it would also expire every session)
    await t.db('users').where({ id: made.body.id }).update({ activation_expires_at: Date.now() - 1000 });
    const late = await request(app).post('/api/v1/auth/password').send({ account: 'ag1.late', current: code, next: NEW_PW });
    expect(late.status).to.equal(400);
    expect(late.body.type).to.match(/activation-expired$/);
    expect(late.body.detail).to.contain('啟用碼已逾期');
    expect((await t.db('users').where({ account: 'ag1.late' }).first()).status).to.equal('pending');
    const admin2 = await as('ag1.admin');
    const re = await post(admin2, `/api/v1/users/${made.body.id}/activation`, {});
    expect(re.status).to.equal(200);
    expect((await request(app).post('/api/v1/auth/password').send({ account: 'ag1.late', current: code, next: NEW_PW })).status).to.equal(400);
    expect((await request(app).post('/api/v1/auth/password').send({ account: 'ag1.late', current: re.body.activationCode, next: NEW_PW })).status).to.equal(204);
    expect((await post(admin2, `/api/v1/users/${made.body.id}/activation`, {})).status).to.equal(409);
  });

  it('a directory account is created active with no activation code', async () => {
    const admin = await as('ag1.admin');
    const id = (await post(admin, '/api/v1/account-requests', newClerk('soc.dir', { person: { account: 'soc.dir', name: '目錄人員', rank: 'staff', authSource: 'ldap' } }))).body.id;
    await post(await as('ag1.sup'), `/api/v1/account-requests/${id}/decision`, { decision: 'approve', reason: '同意' });
    const made = await post(admin, '/api/v1/users', { requestId: id });
    expect(made.status).to.equal(201);
    expect(made.body.activationCode).to.equal(null);
    const row = await t.db('users').where({ account: 'soc.dir' }).first();
    expect(row).to.include({ auth_source: 'ldap', status: 'active', password_hash: null });
  });

  it('lists: users of the own subtree only, as {items, total}; user detail outside the subtree is refused', async () => {
    const u1 = await as('u1.sup');
    const list = await u1.agent.get('/api/v1/users');
    expect(list.status).to.equal(200);
    expect(list.body.total).to.equal(list.body.items.length);
    expect(list.body.items.every((u: any) => ['AG1-U1', 'AG1-U1-A'].includes(u.unit))).to.equal(true);
    expect((await u1.agent.get(`/api/v1/users/${ids['ag2.clerk']}`)).status).to.equal(403);
    expect((await u1.agent.get('/api/v1/users?unit=AG2')).status).to.equal(403);
    expect((await u1.agent.get('/api/v1/users?unit=NOPE')).status).to.equal(400);
  });

  it('pages: request form, inbox, to-do, user list and detail, unit tree, reviews and my account render in zh-TW', async () => {
    const admin = await as('ag1.admin');
    for (const [path, text] of [['/accounts/requests/new', '申請事由'], ['/accounts/requests/new?annex=1', '機關管理者申請表'], ['/accounts/todo', '帳號配賦'], ['/accounts/users', '帳號清冊'], [`/accounts/users/${ids['ag1.clerk']}`, '健保資料查詢權限'], ['/accounts/units', '單位管理'], ['/accounts/reviews', '帳號清查'], ['/accounts/me', '我的帳號'], ['/accounts/requests', '帳號申請'], ['/', '帳號管理待辦']]) {
      const res = await admin.agent.get(path);
      expect(res.status, path).to.equal(200);
      expect(res.text, path).to.contain(text);
    }
    const sup = await as('ag1.sup');
    const inbox = await sup.agent.get('/accounts/approvals');
    expect(inbox.status).to.equal(200);
    expect(inbox.text).to.contain('待核定');
    // The home panel's figures: what waits for this supervisor and this admin.
    const counts = await pendingCounts(t.db, { id: ids['ag1.sup'], account: 'ag1.sup', unitId: tree.AG1, roles: ['supervisor'], ip: null });
    const list = await sup.agent.get('/api/v1/account-requests?view=inbox');
    expect(counts.inbox).to.equal(list.body.total);
    const adminCounts = await pendingCounts(t.db, { id: ids['ag1.admin'], account: 'ag1.admin', unitId: tree.AG1, roles: ['admin'], ip: null });
    expect(adminCounts.todo).to.equal((await admin.agent.get('/api/v1/account-requests?view=todo')).body.total);
  });

  it('pages: the supervisor approves from the request page, the admin carries it out and sees the activation code once', async () => {
    const admin = await as('ag1.admin');
    const id = (await post(admin, '/api/v1/account-requests', newClerk('ag1.paged'))).body.id;
    const sup = await as('ag1.sup');
    const page = await sup.agent.get(`/accounts/requests/${id}`);
    expect(page.text).to.contain('權責主管核定').and.match(/二\(一\) [^／<]+／IN01 [\u4e00-\u9fff]+/);
    // A refused decision re-shows the page with the typed opinion and the message beside it; nothing changes.
    const refused = await sup.agent.post(`/accounts/requests/${id}/decision`).type('form').send({ _csrf: sup.csrf, decision: 'approve', reason: ' 可' });
    expect(refused.status).to.equal(400);
    expect(refused.text).to.contain('請填寫核定理由').and.contain('> 可</textarea>').and.contain('aria-invalid="true"').and.contain('權責主管核定');
    const noChoice = await sup.agent.post(`/accounts/requests/${id}/decision`).type('form').send({ _csrf: sup.csrf, decision: 'maybe', reason: '再想想看' });
    expect(noChoice.status).to.equal(400);
    expect(noChoice.text).to.contain('請選擇核可或駁回').and.contain('>再想想看</textarea>');
    expect((await t.db('account_requests').where({ id }).first()).status).to.equal('pending');
    const decided = await sup.agent.post(`/accounts/requests/${id}/decision`).type('form').send({ _csrf: sup.csrf, decision: 'approve', reason: '同意配賦' });
    expect(decided.status).to.equal(303);
    const again = await sup.agent.post(`/accounts/requests/${id}/decision`).type('form').send({ _csrf: sup.csrf, decision: 'approve', reason: '再次核可' });
    expect(again.status).to.equal(303);
    expect((await sup.agent.get(`/accounts/requests/${id}`)).text).to.contain('不得重複核定');
    const todo = await admin.agent.get('/accounts/todo');
    expect(todo.text).to.contain(`#${id}`);
    const done = await admin.agent.post(`/accounts/requests/${id}/execute`).type('form').send({ _csrf: admin.csrf });
    expect(done.status).to.equal(200);
    expect(done.headers['cache-control']).to.contain('no-store');
    expect(done.text).to.contain('僅顯示這一次').and.match(/[A-Z2-9]{5}-[A-Z2-9]{5}-[A-Z2-9]{5}-[A-Z2-9]{5}/);
    const detail = await admin.agent.get(`/accounts/requests/${id}`);
    expect(detail.text).to.contain('配賦完成').and.not.match(/[A-Z2-9]{5}-[A-Z2-9]{5}-[A-Z2-9]{5}-[A-Z2-9]{5}/);
  });

  it('the request form re-shows typed values with a message beside the bad field', async () => {
    const admin = await as('ag1.admin');
    const page = await admin.agent.get('/accounts/requests/new');
    const csrf = csrfFromHtml(page.text);
    const res = await admin.agent.post('/accounts/requests').type('form').send({ _csrf: csrf, kind: 'new', unit: 'AG1', account: 'form.user', name: '表單', personRank: 'staff', authSource: 'local', roles: 'clerk', perms: '2-4/IN01', reason: '測試表單' });
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('超出機關授權之查詢權限').and.contain('value="form.user"');
    const good = await admin.agent.post('/accounts/requests').type('form').send({ _csrf: csrf, kind: 'new', unit: 'AG1', account: 'form.user', name: '表單', personRank: 'staff', authSource: 'local', roles: 'clerk', perms: '2-1/IN01', reason: '測試表單' });
    expect(good.status).to.equal(303);
    expect(good.headers.location).to.match(/^\/accounts\/requests\/\d+$/);
  });
});
