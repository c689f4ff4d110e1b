// Clause 3(二)1(4)(5): password policy, history, minimum age, 90-day expiry, lockout and its end,
// same answer for unknown account and wrong password, sessions (idle, absolute, new id at login,
// logout everywhere, concurrent use from two addresses recorded).
import { expect } from 'chai';
import request from 'supertest';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, signIn } from '../support/app.ts';
import { makeUser, PASSWORD, seedTree, type Tree } from '../support/fixtures.ts';
import { setClock } from '../../server/time.ts';
import { runJob } from '../../jobs/runner.ts';
import { passwordExpiryJob } from '../../server/accounts/review.ts';

const DAY = 86_400_000;

describe(`auth: password policy, lockout, sessions (${ENGINE})`, () => {
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  const login = (account: string, password: string, ip?: string) => {
    const r = request(app).post('/api/v1/auth/login');
    if (ip) r.set('X-Forwarded-For', ip);
    return r.send({ account, password });
  };
  const change = (account: string, current: string, next: string) => request(app).post('/api/v1/auth/password').send({ account, current, next });
  const events = (action: string, account?: string) => {
    const q = t.db('system_events').where({ action });
    if (account) q.andWhere({ actor_account: account });
    return q.orderBy('id').select();
  };

  before(async () => {
    t = await migratedDb({ LOGIN_RATE_PER_MINUTE: '1000' });
    tree = await seedTree(t.db);
    app = appFor(t);
    for (const a of ['pw.policy', 'pw.history', 'pw.lock', 'pw.sess', 'pw.multi', 'pw.abs']) await makeUser(t.db, { account: a, unitId: tree.AG1, roles: ['clerk'] });
    await makeUser(t.db, { account: 'pw.old', unitId: tree.AG1, roles: ['clerk'], passwordChangedAt: Date.now() - 91 * DAY });
    await makeUser(t.db, { account: 'pw.fresh', unitId: tree.AG1, roles: ['clerk'], passwordChangedAt: Date.now() - 10 * DAY });
  });
  after(() => t.drop());

  it('refuses weak passwords, naming each rule, and changes nothing', async () => {
    const before = await t.db('users').where({ account: 'pw.policy' }).first('password_hash');
    for (const [next, rule] of [['Short1a', '至少 12'], ['alllowercase123', '大寫'], ['ALLUPPERCASE123', '小寫'], ['NoDigitsAtAllHere', '數字'], ['Xpw.policy12345', '不得包含帳號']]) {
      const res = await change('pw.policy', PASSWORD, next);
      expect(res.status, next).to.equal(400);
      expect(res.body.errors[0].field).to.equal('next');
      expect(res.body.errors[0].message, next).to.contain(rule);
    }
    expect((await t.db('users').where({ account: 'pw.policy' }).first('password_hash')).password_hash).to.equal(before.password_hash);
  });

  it('minimum age of 1 day, and none of the last 5 passwords may come back', async () => {
    const start = Date.now();
    let day = 1;
    setClock(() => start + day * DAY);
    const seq = ['History-Passw0rd-1', 'History-Passw0rd-2', 'History-Passw0rd-3', 'History-Passw0rd-4', 'History-Passw0rd-5'];
    let current = PASSWORD;
    for (const next of seq) {
      expect((await change('pw.history', current, next)).status, next).to.equal(204);
      current = next;
      const tooSoon = await change('pw.history', current, `${next}x`);
      expect(tooSoon.status).to.equal(400);
      expect(tooSoon.body.errors[0].message).to.contain('日內不得再次變更');
      day += 2;
      setClock(() => start + day * DAY);
    }
    for (const old of seq) {
      const reuse = await change('pw.history', current, old);
      expect(reuse.status, old).to.equal(400);
      expect(reuse.body.errors[0].message).to.contain('最近 5 次');
    }
    // The sixth one back has left the history.
    expect((await change('pw.history', current, PASSWORD)).status).to.equal(204);
  });

  it('a password older than 90 days must be changed: login answers 409, and the daily job forces it and records events', async () => {
    const res = await login('pw.old', PASSWORD);
    expect(res.status).to.equal(409);
    expect(res.body.type).to.match(/password-expired$/);
    const s = await signIn(app, 'pw.fresh');
    setClock(() => Date.now() + 81 * DAY);
    const run = await runJob({ db: t.db, cfg: t.cfg }, passwordExpiryJob, {});
    expect(run.status).to.equal('ran');
    expect((run as any).result.accounts).to.include.members(['pw.old', 'pw.fresh']);
    const fresh = await t.db('users').where({ account: 'pw.fresh' }).first();
    expect(!!fresh.must_change_password).to.equal(true);
    expect(await t.db('sessions').where({ user_id: fresh.id }).count({ n: '*' }).then((r: any) => Number(r[0].n))).to.equal(0);
    expect((await events('password-expired')).map((e: any) => e.target_id)).to.include(String(fresh.id));
    setClock(null);
    expect((await s.agent.get('/api/v1/me')).status).to.equal(401);
    expect((await login('pw.fresh', PASSWORD)).status).to.equal(409);
    // Changing it (no session needed) lets the account in again, even within the minimum age.
    expect((await change('pw.fresh', PASSWORD, 'Renewed-Passw0rd-77')).status).to.equal(204);
    expect((await login('pw.fresh', 'Renewed-Passw0rd-77')).status).to.equal(204);
    setClock(() => Date.now() + 81 * DAY);
    const again = await runJob({ db: t.db, cfg: t.cfg }, passwordExpiryJob, {});
    expect(again.status).to.equal('already-done');
  });

  it('unknown account and wrong password answer the same', async () => {
    const a = await login('no.such.account', 'Whatever-Passw0rd-1');
    const b = await login('pw.policy', 'Whatever-Passw0rd-1');
    expect(a.status).to.equal(401);
    expect(b.status).to.equal(401);
    expect(a.body).to.deep.equal({ ...b.body, instance: a.body.instance });
  });

  it('locks for 15 minutes after 5 failures, refuses even the right password meanwhile, and lets in after the lockout ends', async () => {
    const start = Date.now();
    setClock(() => start);
    for (let i = 1; i <= 4; i++) expect((await login('pw.lock', 'Wrong-Passw0rd-0')).status, `attempt ${i}`).to.equal(401);
    const fifth = await login('pw.lock', 'Wrong-Passw0rd-0');
    expect(fifth.status).to.equal(423);
    expect(fifth.body.type).to.match(/account-locked$/);
    expect((await login('pw.lock', PASSWORD)).status).to.equal(423);
    expect((await change('pw.lock', PASSWORD, 'During-Lock-Passw0rd-1')).status).to.equal(423);
    expect((await events('lockout', 'pw.lock')).length).to.equal(1);
    setClock(() => start + 14 * 60_000);
    expect((await login('pw.lock', PASSWORD)).status).to.equal(423);
    setClock(() => start + 15 * 60_000 + 1);
    expect((await login('pw.lock', PASSWORD)).status).to.equal(204);
    const row = await t.db('users').where({ account: 'pw.lock' }).first();
    expect(row.failed_logins).to.equal(0);
    expect(row.locked_until).to.equal(null);
    const failures = await events('login', 'pw.lock');
    expect(failures.filter((e: any) => e.outcome === 'failed').length).to.equal(5);
    expect(failures.filter((e: any) => e.outcome === 'denied').length).to.equal(2);
  });

  it('a new session id at login; idle sessions expire after 15 minutes; the absolute lifetime ends a busy one', async () => {
    const agent = request.agent(app);
    await agent.get('/login');
    const before = await t.db('sessions').pluck('sid');
    expect((await agent.post('/api/v1/auth/login').send({ account: 'pw.sess', password: PASSWORD })).status).to.equal(204);
    const mine = await t.db('sessions').where({ user_id: (await t.db('users').where({ account: 'pw.sess' }).first('id')).id }).pluck('sid');
    expect(mine).to.have.length(1);
    expect(before).not.to.include(mine[0]);
    expect((await agent.get('/api/v1/me')).status).to.equal(200);
    const start = Date.now();
    setClock(() => start + 16 * 60_000);
    expect((await agent.get('/api/v1/me')).status).to.equal(401);
    setClock(null);

    const s = await signIn(app, 'pw.abs');
    const row = await t.db('sessions').where({ user_id: (await t.db('users').where({ account: 'pw.abs' }).first('id')).id }).first();
    const sess = JSON.parse(row.sess);
    sess.createdAt = Date.now() - 12 * 3_600_000 - 1000;
    await t.db('sessions').where({ sid: row.sid }).update({ sess: JSON.stringify(sess) });
    expect((await s.agent.get('/api/v1/me')).status).to.equal(401);
  });

  it('records one account in use from two addresses at once, and logout everywhere ends every session', async () => {
    const a = request.agent(app);
    const b = request.agent(app);
    expect((await a.post('/api/v1/auth/login').set('X-Forwarded-For', '10.1.1.1').send({ account: 'pw.multi', password: PASSWORD })).status).to.equal(204);
    expect((await b.post('/api/v1/auth/login').set('X-Forwarded-For', '10.2.2.2').send({ account: 'pw.multi', password: PASSWORD })).status).to.equal(204);
    const ev = await events('concurrent-session', 'pw.multi');
    expect(ev).to.have.length(1);
    expect(ev[0].ip).to.equal('10.2.2.2');
    expect(JSON.parse(ev[0].detail).otherAddresses).to.deep.equal(['10.1.1.1']);
    const csrf = (await a.get('/api/v1/me')).body.csrfToken;
    const out = await a.post('/api/v1/auth/logout-all').set('X-CSRF-Token', csrf);
    expect(out.status).to.equal(200);
    expect(out.body.ended).to.equal(2);
    expect((await a.get('/api/v1/me')).status).to.equal(401);
    expect((await b.get('/api/v1/me')).status).to.equal(401);
    expect((await events('logout-all', 'pw.multi'))).to.have.length(1);
  });
});
