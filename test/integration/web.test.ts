import { expect } from 'chai';
import request from 'supertest';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, csrfFromHtml, signIn } from '../support/app.ts';
import { makeUser, PASSWORD, seedTree, type Tree } from '../support/fixtures.ts';

describe(`web shell (${ENGINE})`, () => {
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  before(async () => {
    t = await migratedDb();
    tree = await seedTree(t.db);
    app = appFor(t);
    await makeUser(t.db, { account: 'clerk.a', unitId: tree.AG1, roles: ['clerk'], name: '王小明' });
    await makeUser(t.db, { account: 'expired.a', unitId: tree.AG1, roles: ['clerk'], passwordChangedAt: Date.now() - 91 * 86_400_000 });
  });
  after(() => t.drop());

  it('GET /healthz answers 200 when the database answers', async () => {
    const res = await request(app).get('/healthz');
    expect(res.status).to.equal(200);
    expect(res.body.status).to.equal('ok');
  });

  it('serves the zh-TW login page with security headers and local assets only', async () => {
    const res = await request(app).get('/login');
    expect(res.status).to.equal(200);
    expect(res.text).to.contain('lang="zh-Hant-TW"').and.contain('登入');
    expect(res.text).not.to.match(/https?:\/\/(?!localhost)/);
    const csp = res.headers['content-security-policy'];
    expect(csp).to.contain("frame-ancestors 'none'").and.contain("script-src 'self'");
    expect(csp).not.to.contain('unsafe-inline');
    expect(res.headers['x-content-type-options']).to.equal('nosniff');
    expect(res.headers['set-cookie'][0]).to.match(/HttpOnly/).and.match(/SameSite=Lax/);
    const css = await request(app).get('/assets/css/app.css');
    expect(css.status).to.equal(200);
  });

  it('an unknown API route is a problem+json 404', async () => {
    const res = await request(app).get('/api/v1/no-such-thing');
    expect(res.status).to.equal(404);
    expect(res.headers['content-type']).to.contain('application/problem+json');
    expect(res.body.type).to.match(/not-found$/);
    expect(res.body.status).to.equal(404);
  });

  it('a malformed JSON body is a 400 naming the body, never a 500', async () => {
    const res = await request(app).post('/api/v1/auth/login').set('content-type', 'application/json').send('{"account":');
    expect(res.status).to.equal(400);
    expect(res.body.errors[0].field).to.equal('body');
  });

  it('a form POST without the CSRF token is refused and signs nobody in', async () => {
    const agent = request.agent(app);
    await agent.get('/login');
    const res = await agent.post('/login').type('form').send({ account: 'clerk.a', password: PASSWORD });
    expect(res.status).to.equal(403);
    expect((await agent.get('/api/v1/me')).status).to.equal(401);
  });

  it('a form POST with the token signs in, and the layout shows the person and their roles', async () => {
    const agent = request.agent(app);
    const page = await agent.get('/login');
    const res = await agent.post('/login').type('form').send({ _csrf: csrfFromHtml(page.text), account: 'clerk.a', password: PASSWORD });
    expect(res.status).to.equal(303);
    const home = await agent.get('/');
    expect(home.status).to.equal(200);
    expect(home.text).to.contain('王小明').and.contain('使用者（查詢人員）');
  });

  it('a session-cookie API call that changes state needs X-CSRF-Token', async () => {
    const s = await signIn(app, 'clerk.a');
    expect((await s.agent.post('/api/v1/auth/logout')).status).to.equal(403);
    expect((await s.agent.post('/api/v1/auth/logout').set('X-CSRF-Token', s.csrf)).status).to.equal(204);
    expect((await s.agent.get('/api/v1/me')).status).to.equal(401);
  });

  it('login: 401 alike for unknown account and wrong password; 409 password-expired when a change is due', async () => {
    const unknown = await request(app).post('/api/v1/auth/login').send({ account: 'nobody', password: 'x' });
    const wrong = await request(app).post('/api/v1/auth/login').send({ account: 'clerk.a', password: 'wrong' });
    expect(unknown.status).to.equal(401);
    expect(wrong.status).to.equal(401);
    expect(unknown.body.detail).to.equal(wrong.body.detail);
    const expired = await request(app).post('/api/v1/auth/login').send({ account: 'expired.a', password: PASSWORD });
    expect(expired.status).to.equal(409);
    expect(expired.body.type).to.match(/password-expired$/);
  });

  it('GET /api/v1/me gives account, roles, unit, permissions and a CSRF token', async () => {
    const s = await signIn(app, 'clerk.a');
    const me = (await s.agent.get('/api/v1/me')).body;
    expect(me.account).to.equal('clerk.a');
    expect(me.roles).to.deep.equal(['clerk']);
    expect(me.unit.code).to.equal('AG1');
    expect(me.permissions).to.be.an('array');
    expect(me.csrfToken).to.be.a('string').with.length.greaterThan(10);
  });

  it('GET /healthz answers 503 when the database is closed', async () => {
    const t2 = await migratedDb();
    const app2 = appFor(t2);
    expect((await request(app2).get('/healthz')).status).to.equal(200);
    await t2.db.destroy();
    const res = await request(app2).get('/healthz');
    expect(res.status).to.equal(503);
  });
});
