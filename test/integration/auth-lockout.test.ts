// Sign-in that strangers cannot turn against users (資通系統防護基準 登入失敗處理; issue 13): the
// lockout is per account and source address, unknown and disabled names lock and answer like real
// ones, a lock alerts the owner (at the next sign-in) and the account's admins (to-do page), the
// admin's unlock ends every address's lock, password changes count toward the same lockout and
// share the sign-in rate limit, and a password change ends every other session of the account.
import { expect } from 'chai';
import request from 'supertest';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, csrfFromHtml, signIn } from '../support/app.ts';
import { makeUser, PASSWORD, seedTree, type Tree } from '../support/fixtures.ts';
import { hashPassword } from '../../server/auth/passwords.ts';

const DAY = 86_400_000;
const WRONG = 'Wrong-Passw0rd-00';

describe(`auth: lockout per account and address, alerts, password change (${ENGINE})`, function () {
  this.timeout(60_000);
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  const login = (account: string, password: string, ip: string) =>
    request(app).post('/api/v1/auth/login').set('X-Forwarded-For', ip).send({ account, password });
  const change = (account: string, current: string, next: string, ip: string) =>
    request(app).post('/api/v1/auth/password').set('X-Forwarded-For', ip).send({ account, current, next });
  /** The answer without what differs per request (its id, the lock's end). */
  const shape = (res: request.Response) => ({ status: res.status, type: res.headers['content-type'], body: { ...res.body, instance: undefined, lockedUntil: undefined } });
  const userId = async (account: string) => Number((await t.db('users').where({ account }).first('id')).id);

  before(async () => {
    t = await migratedDb({ LOGIN_RATE_PER_MINUTE: '1000' });
    tree = await seedTree(t.db);
    app = appFor(t);
    for (const a of ['lk.victim', 'lk.local', 'lk.unlock', 'lk.mixed', 'lk.change']) await makeUser(t.db, { account: a, unitId: tree.AG1U1, roles: ['clerk'] });
    await makeUser(t.db, { account: 'lk.off', unitId: tree.AG1U1, roles: ['clerk'], status: 'disabled' });
    const gone = await makeUser(t.db, { account: 'lk.gone', unitId: tree.AG1U1, roles: ['clerk'] });
    await t.db('users').where({ id: gone }).update({ disable_on: '2020-01-01' });
    const pending = await makeUser(t.db, { account: 'lk.new', unitId: tree.AG1U1, roles: ['clerk'], status: 'pending' });
    await t.db('users').where({ id: pending }).update({ password_hash: null, activation_hash: await hashPassword('ACTIVATION-CODE-1'), activation_expires_at: Date.now() + DAY });
    await makeUser(t.db, { account: 'ag1.admin', unitId: tree.AG1, roles: ['admin'] });
    await makeUser(t.db, { account: 'ag1u1.admin', unitId: tree.AG1U1, roles: ['admin'] });
    await makeUser(t.db, { account: 'ag2.admin', unitId: tree.AG2, roles: ['admin'] });
  });
  after(() => t.drop());

  it('a stranger\'s failures lock the account for their address only: the user signs in from elsewhere, is told at sign-in, and the admin sees it on the to-do page', async () => {
    const stranger = '203.0.113.9';
    for (let i = 1; i <= 4; i++) expect((await login('lk.victim', WRONG, stranger)).status, `attempt ${i}`).to.equal(401);
    const fifth = await login('lk.victim', WRONG, stranger);
    expect(fifth.status).to.equal(423);
    expect(fifth.body.type).to.match(/account-locked$/);
    expect((await login('lk.victim', PASSWORD, stranger)).status, 'the right password from the locked address').to.equal(423);

    // The real user, from their own address, on the sign-in page: in, and told.
    const user = request.agent(app);
    const page = await user.get('/login').set('X-Forwarded-For', '198.51.100.20');
    const signedIn = await user.post('/login').set('X-Forwarded-For', '198.51.100.20').type('form').send({ _csrf: csrfFromHtml(page.text), account: 'lk.victim', password: PASSWORD });
    expect(signedIn.status).to.equal(303);
    const home = await user.get('/').set('X-Forwarded-For', '198.51.100.20');
    expect(home.text).to.contain('被鎖定 1 次').and.contain(stranger);
    const me = await user.get('/api/v1/me').set('X-Forwarded-For', '198.51.100.20');
    expect(me.body.notices).to.have.length(1);
    expect(me.body.notices[0]).to.include({ type: 'lockout', address: stranger });
    expect(Date.parse(me.body.notices[0].lockedUntil)).to.be.greaterThan(Date.now() + 14 * 60_000);
    // Told once: the next sign-in has nothing new to tell.
    const again = await signIn(app, 'lk.victim');
    expect((await again.agent.get('/api/v1/me')).body.notices).to.deep.equal([]);

    // The account's summary for its admins: still locked (from that address), no failures since the success.
    const row = await t.db('users').where({ account: 'lk.victim' }).first();
    expect(Number(row.locked_until)).to.be.greaterThan(Date.now());
    expect(row.failed_logins).to.equal(0);
    const ev = await t.db('system_events').where({ action: 'lockout', actor_account: 'lk.victim' });
    expect(ev).to.have.length(1);
    expect(ev[0].ip).to.equal(stranger);
    expect(ev[0].target_id).to.equal(String(await userId('lk.victim')));

    // The admin of the account's agency sees it on the to-do page; another agency's admin does not.
    const admin = await signIn(app, 'ag1.admin');
    const todo = await admin.agent.get('/accounts/todo');
    expect(todo.status).to.equal(200);
    expect(todo.text).to.contain('帳號鎖定通知').and.contain('lk.victim').and.contain(stranger).and.contain('鎖定中');
    const other = await signIn(app, 'ag2.admin');
    const otherTodo = await other.agent.get('/accounts/todo');
    expect(otherTodo.text).to.contain('帳號鎖定通知').and.not.contain('lk.victim');
  });

  it('unknown, disabled, past-disable-date, not-activated and local accounts answer alike, and each locks after the same failures from one address', async () => {
    // Disabled and not-yet-usable accounts are tried with their right password: still the same 401.
    const tries: Array<[string, string]> = [['lk.nobody', WRONG], ['lk.off', PASSWORD], ['lk.gone', PASSWORD], ['lk.new', 'ACTIVATION-CODE-1'], ['lk.local', WRONG]];
    const refused: request.Response[] = [];
    const locked: request.Response[] = [];
    for (const [i, [account, password]] of tries.entries()) {
      const ip = `192.0.2.${10 + i}`;
      for (let n = 1; n <= 4; n++) {
        const r = await login(account, password, ip);
        expect(r.status, `${account} attempt ${n}`).to.equal(401);
        refused.push(r);
      }
      const fifth = await login(account, password, ip);
      expect(fifth.status, `${account} fifth attempt`).to.equal(423);
      locked.push(fifth);
      expect((await login(account, password, ip)).status, `${account} while locked`).to.equal(423);
    }
    for (const r of refused) expect(shape(r)).to.deep.equal(shape(refused[0]));
    for (const r of locked) expect(shape(r)).to.deep.equal(shape(locked[0]));
    expect(locked.every((r) => typeof r.body.lockedUntil === 'string')).to.equal(true);

    // A password change is refused alike for all of them, from fresh addresses.
    const changes = [];
    for (const [i, [account, current]] of [['lk.nobody', WRONG], ['lk.off', PASSWORD], ['lk.gone', PASSWORD], ['lk.new', WRONG], ['lk.local', WRONG]].entries()) {
      changes.push(await change(account, current, 'Brand-New-Passw0rd-1', `192.0.2.${40 + i}`));
    }
    for (const r of changes) expect(shape(r)).to.deep.equal(shape(changes[0]));
    expect(changes[0].status).to.equal(400);
    expect(changes[0].body.errors[0].field).to.equal('current');
  });

  it('the admin\'s unlock ends the account\'s locks from every address', async () => {
    const id = await userId('lk.unlock');
    for (const ip of ['10.20.0.1', '10.20.0.2']) {
      for (let n = 1; n <= 4; n++) expect((await login('lk.unlock', WRONG, ip)).status, `${ip} attempt ${n}`).to.equal(401);
      expect((await login('lk.unlock', WRONG, ip)).status, `${ip} fifth attempt`).to.equal(423);
    }
    expect(await t.db('login_failures').where({ account: 'lk.unlock' }).count({ n: '*' }).then((r: any) => Number(r[0].n))).to.equal(2);
    // The admin of the account's own unit administers its users (accounts/delegation.ts).
    const admin = await signIn(app, 'ag1u1.admin');
    const res = await admin.agent.post(`/api/v1/users/${id}/unlock`).set('X-CSRF-Token', admin.csrf).send({});
    expect(res.status).to.be.within(200, 204);
    expect(await t.db('login_failures').where({ account: 'lk.unlock' }).count({ n: '*' }).then((r: any) => Number(r[0].n))).to.equal(0);
    const row = await t.db('users').where({ id }).first();
    expect(row.locked_until).to.equal(null);
    expect(row.failed_logins).to.equal(0);
    for (const ip of ['10.20.0.1', '10.20.0.2']) expect((await login('lk.unlock', PASSWORD, ip)).status, ip).to.equal(204);
  });

  it('wrong current passwords in a password change count toward the same lockout as sign-in', async () => {
    const ip = '10.30.0.1';
    for (let n = 1; n <= 3; n++) expect((await login('lk.mixed', WRONG, ip)).status).to.equal(401);
    expect((await change('lk.mixed', WRONG, 'Brand-New-Passw0rd-1', ip)).status).to.equal(400);
    const fifth = await change('lk.mixed', WRONG, 'Brand-New-Passw0rd-1', ip);
    expect(fifth.status).to.equal(423);
    expect((await login('lk.mixed', PASSWORD, ip)).status).to.equal(423);
    expect((await change('lk.mixed', PASSWORD, 'Brand-New-Passw0rd-1', ip)).status).to.equal(423);
    expect((await login('lk.mixed', PASSWORD, '10.30.0.2')).status, 'another address').to.equal(204);
    const failed = await t.db('system_events').where({ action: 'password-change', outcome: 'failed', actor_account: 'lk.mixed' });
    expect(failed).to.have.length(2);
  });

  it('password change shares the sign-in rate limit per address: the call past LOGIN_RATE_PER_MINUTE in a minute is 429', async () => {
    const limited = appFor({ ...t, cfg: { ...t.cfg, LOGIN_RATE_PER_MINUTE: 3 } });
    const post = (ip: string) => request(limited).post('/api/v1/auth/password').set('X-Forwarded-For', ip).send({ account: 'lk.nobody', current: WRONG, next: 'Brand-New-Passw0rd-1' });
    for (let n = 1; n <= 3; n++) expect((await post('10.40.0.1')).status, `call ${n}`).to.equal(400);
    const over = await post('10.40.0.1');
    expect(over.status).to.equal(429);
    expect(over.body.type).to.match(/too-many-requests$/);
    // The page form and sign-in draw on the same budget; another address is not affected.
    expect((await request(limited).post('/password').set('X-Forwarded-For', '10.40.0.1').type('form').send({ account: 'lk.nobody', current: WRONG, next: 'x', confirm: 'x' })).status).to.equal(429);
    expect((await request(limited).post('/api/v1/auth/login').set('X-Forwarded-For', '10.40.0.1').send({ account: 'lk.nobody', password: WRONG })).status).to.equal(429);
    expect((await post('10.40.0.2')).status).to.equal(400);
  });

  it('changing the password ends every other session of the account, through the API and the page; the changer\'s own session stays', async () => {
    const id = await userId('lk.change');
    const live = async () => Number((await t.db('sessions').where({ user_id: id }).count({ n: '*' }))[0].n);
    // Each change is made past the minimum age of 1 day (sessions need the real clock).
    const aged = () => t.db('users').where({ id }).update({ password_changed_at: Date.now() - 2 * DAY });
    await aged();
    // API, called from a signed-in session of the account.
    const a = await signIn(app, 'lk.change');
    const b = await signIn(app, 'lk.change');
    const viaApi = await a.agent.post('/api/v1/auth/password').send({ account: 'lk.change', current: PASSWORD, next: 'Changed-Passw0rd-1' });
    expect(viaApi.status).to.equal(204);
    expect((await a.agent.get('/api/v1/me')).status, 'the changer stays signed in').to.equal(200);
    expect((await b.agent.get('/api/v1/me')).status, 'the other session has ended').to.equal(401);
    expect(await live()).to.equal(1);

    // The signed-in page.
    await aged();
    const c = await signIn(app, 'lk.change', 'Changed-Passw0rd-1');
    const d = await signIn(app, 'lk.change', 'Changed-Passw0rd-1');
    const form = await c.agent.get('/password');
    const viaPage = await c.agent.post('/password').type('form').send({ _csrf: csrfFromHtml(form.text), account: 'lk.change', current: 'Changed-Passw0rd-1', next: 'Changed-Passw0rd-2', confirm: 'Changed-Passw0rd-2' });
    expect(viaPage.status).to.equal(303);
    expect(viaPage.headers.location).to.equal('/');
    expect((await c.agent.get('/')).text, 'the changer stays signed in, and is told').to.contain('密碼已變更');
    expect((await c.agent.get('/api/v1/me')).status, 'the changer stays signed in').to.equal(200);
    const dPage = await d.agent.get('/accounts/me');
    expect(dPage.status, 'the other session has ended').to.equal(303);
    expect(dPage.headers.location).to.match(/^\/login/);
    expect((await a.agent.get('/api/v1/me')).status, 'the first changer\'s session has ended too').to.equal(401);

    // Changed with no session at all: every session of the account ends.
    await aged();
    const e = await signIn(app, 'lk.change', 'Changed-Passw0rd-2');
    expect((await request(app).post('/api/v1/auth/password').send({ account: 'lk.change', current: 'Changed-Passw0rd-2', next: 'Changed-Passw0rd-3' })).status).to.equal(204);
    expect((await e.agent.get('/api/v1/me')).status).to.equal(401);
    expect(await live()).to.equal(0);
    const ev = await t.db('system_events').where({ action: 'password-change', outcome: 'ok', actor_account: 'lk.change' }).orderBy('id');
    expect(ev.map((x: any) => JSON.parse(x.detail).sessionsEnded)).to.deep.equal([1, 2, 2]);
  });
});
