// Clause 3(二)1(6): from the start of its scheduled disable day (Taipei) an account counts as
// disabled on every path, whether or not the disable job has run: sign-in and sessions (tested in
// accounts.test.ts), service tokens (its own or one naming it), new tokens, and the people picked
// as checkers and investigation staff.
import { expect } from 'chai';
import request from 'supertest';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, signIn } from '../support/app.ts';
import { makeUser, seedTree, type Tree } from '../support/fixtures.ts';
import { setClock } from '../../server/time.ts';
import { activeUsersOf } from '../../server/checks/repo.ts';

describe(`scheduled disable holds everywhere (${ENGINE})`, function () {
  this.timeout(60_000);
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  const ids: Record<string, number> = {};
  const tokens: Record<string, string> = {};
  // 12:00 Taipei on 23 November; the scheduled day is the 24th, which starts at 16:00 UTC.
  const NOON = Date.parse('2026-11-23T04:00:00Z');
  const BEFORE = Date.parse('2026-11-23T15:59:00Z');
  const FROM = Date.parse('2026-11-23T16:00:00Z');
  const count = async () => Number((await t.db('query_logs').count({ n: '*' }))[0].n);
  const entry = (account?: string) => ({ caseNo: 'AG1-1150001', reason: '個案訪視前確認投保狀態', opCode: 'IN01', scope: '2-1', subject: { type: 'national-id', value: 'A123456789' }, ...(account ? { account } : {}) });
  const record = (token: string, body: object) => request(app).post('/api/v1/query-logs').set('Authorization', `Bearer ${token}`).send(body);
  const schedule = (account: string, day: string | null) => t.db('users').where({ account }).update({ disable_on: day });

  before(async () => {
    setClock(() => NOON);
    t = await migratedDb();
    tree = await seedTree(t.db);
    app = appFor(t);
    await t.db('units').where({ id: tree.AG1 }).update({ require_query_request: false });
    const perms: Array<[string, string]> = [['2-1', 'IN01']];
    ids.admin = await makeUser(t.db, { account: 'ag1.admin', unitId: tree.AG1, roles: ['admin'] });
    ids.svc = await makeUser(t.db, { account: 'ag1.svc', unitId: tree.AG1, roles: ['clerk'], permissions: perms });
    ids.clerk = await makeUser(t.db, { account: 'ag1.clerk', unitId: tree.AG1, roles: ['clerk'], permissions: perms });
    ids.self = await makeUser(t.db, { account: 'ag1.self', unitId: tree.AG1, roles: ['clerk'], permissions: perms });
    ids.other = await makeUser(t.db, { account: 'ag1.other', unitId: tree.AG1, roles: ['clerk'], permissions: perms });
    const admin = await signIn(app, 'ag1.admin');
    for (const account of ['ag1.svc', 'ag1.self']) {
      const res = await admin.agent.post('/api/v1/service-tokens').set('X-CSRF-Token', admin.csrf).send({ name: `介接 ${account}`, unit: 'AG1', account });
      expect(res.status, res.text).to.equal(201);
      tokens[account] = res.body.token;
    }
  });
  after(() => t?.drop());
  // The root hooks reset the clock after every test.
  beforeEach(() => setClock(() => NOON));

  it('a token naming a clerk whose disable day has come: 400 naming account, nothing stored, though the disable job has not run', async () => {
    await schedule('ag1.clerk', '2026-11-24');
    setClock(() => BEFORE);
    expect((await record(tokens['ag1.svc'], entry('ag1.clerk'))).status).to.equal(201);
    setClock(() => FROM);
    const before = await count();
    const res = await record(tokens['ag1.svc'], entry('ag1.clerk'));
    expect(res.status).to.equal(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).to.deep.equal(['account']);
    const batch = await record(tokens['ag1.svc'], { entries: [entry('ag1.other'), entry('ag1.clerk')] });
    expect(batch.status).to.equal(400);
    expect(batch.body.errors.map((e: { field: string }) => e.field)).to.deep.equal(['entries.1.account']);
    expect(await count()).to.equal(before);
    expect((await t.db('users').where({ id: ids.clerk }).first('status')).status, 'the job has not run').to.equal('active');
    expect((await record(tokens['ag1.svc'], entry('ag1.other'))).status, 'others still record').to.equal(201);
    await schedule('ag1.clerk', null);
  });

  it('a token whose service account\'s disable day has come: 401, whether the entries name someone else or the account itself', async () => {
    await schedule('ag1.svc', '2026-11-24');
    await schedule('ag1.self', '2026-11-24');
    setClock(() => BEFORE);
    expect((await record(tokens['ag1.svc'], entry('ag1.other'))).status).to.equal(201);
    expect((await record(tokens['ag1.self'], entry())).status).to.equal(201);
    setClock(() => FROM);
    const before = await count();
    expect((await record(tokens['ag1.svc'], entry('ag1.other'))).status).to.equal(401);
    expect((await record(tokens['ag1.self'], entry())).status).to.equal(401);
    expect((await record(tokens['ag1.self'], entry('ag1.self'))).status).to.equal(401);
    expect((await request(app).get('/api/v1/query-logs').set('Authorization', `Bearer ${tokens['ag1.self']}`)).status).to.equal(401);
    expect(await count()).to.equal(before);
    await schedule('ag1.svc', null);
    await schedule('ag1.self', null);
  });

  it('no new token is bound to an account whose disable day has come', async () => {
    await schedule('ag1.other', '2026-11-23');
    const admin = await signIn(app, 'ag1.admin');
    const res = await admin.agent.post('/api/v1/service-tokens').set('X-CSRF-Token', admin.csrf).send({ name: '介接', unit: 'AG1', account: 'ag1.other' });
    expect(res.status).to.equal(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).to.deep.equal(['account']);
    await schedule('ag1.other', null);
  });

  it('is not picked as a checker or investigation staff once its day has come', async () => {
    await schedule('ag1.other', '2026-11-23');
    await schedule('ag1.self', '2026-11-24');
    const picked = (await activeUsersOf(t.db, [tree.AG1])).map((u) => u.account);
    expect(picked).not.to.include('ag1.other');
    expect(picked).to.include('ag1.self').and.include('ag1.clerk');
    await schedule('ag1.other', null);
    await schedule('ag1.self', null);
  });
});
