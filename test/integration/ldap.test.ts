// Directory login against a real OpenLDAP server (slapd started by the test on a loopback port):
// success, wrong password, unknown user, disabled in the directory, directory stopped. Local
// accounts keep working while the directory is down; the account review reports directory
// accounts that are gone or disabled there. A missing slapd fails this file (never skipped).
import { expect } from 'chai';
import request from 'supertest';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, csrfFromHtml } from '../support/app.ts';
import { makeUser, PASSWORD, seedTree } from '../support/fixtures.ts';
import { startSlapd, type Slapd } from '../support/ldap.ts';
import { runAccountReview } from '../../server/accounts/review.ts';
import { ldapDirectory } from '../../server/auth/ldap.ts';

describe(`directory login against a real slapd (${ENGINE})`, function () {
  this.timeout(60_000);
  let slapd: Slapd;
  let t: TestDb;
  let app: ReturnType<typeof appFor>;
  const login = (account: string, password: string) => request(app).post('/api/v1/auth/login').send({ account, password });
  const asDirectory = async (account: string, unitId: number) => {
    const id = await makeUser(t.db, { account, unitId, roles: ['clerk'], permissions: [['2-1', 'IN01']] });
    await t.db('users').where({ id }).update({ auth_source: 'ldap', password_hash: null, must_change_password: false });
    return id;
  };

  before(async () => {
    slapd = await startSlapd();
    t = await migratedDb({ ...slapd.env, LOGIN_RATE_PER_MINUTE: '1000' });
    const tree = await seedTree(t.db);
    app = appFor(t);
    await asDirectory('soc.wang', tree.AG1);
    await asDirectory('soc.lin', tree.AG1);
    await asDirectory('soc.left', tree.AG1); // employeeType=disabled in the directory
    await asDirectory('soc.gone', tree.AG1); // not in the directory at all
    await makeUser(t.db, { account: 'local.clerk', unitId: tree.AG1, roles: ['clerk'] });
  });
  after(async () => {
    await slapd?.stop();
    await t?.drop();
  });

  it('signs a directory account in with its directory password; roles and permissions come from this system', async () => {
    const agent = request.agent(app);
    expect((await agent.post('/api/v1/auth/login').send({ account: 'soc.wang', password: 'Dir-Passw0rd-Wang' })).status).to.equal(204);
    const me = await agent.get('/api/v1/me');
    expect(me.body.account).to.equal('soc.wang');
    expect(me.body.roles).to.deep.equal(['clerk']);
    expect(me.body.permissions).to.deep.equal([{ scope: '2-1', opCode: 'IN01' }]);
    const ev = await t.db('system_events').where({ action: 'login', outcome: 'ok', actor_account: 'soc.wang' }).first();
    expect(JSON.parse(ev.detail).source).to.equal('ldap');
  });

  it('wrong directory password, unknown user and disabled-in-directory all answer 401 alike and count as failures', async () => {
    const wrong = await login('soc.lin', 'Not-The-Passw0rd');
    const unknownHere = await login('nobody.at.all', 'Dir-Passw0rd-Wang');
    const gone = await login('soc.gone', 'Whatever-Passw0rd-1');
    const disabled = await login('soc.left', 'Dir-Passw0rd-Left');
    for (const r of [wrong, unknownHere, gone, disabled]) {
      expect(r.status).to.equal(401);
      expect(r.body.detail).to.equal(wrong.body.detail);
    }
    expect((await t.db('users').where({ account: 'soc.lin' }).first()).failed_logins).to.equal(1);
    const refused = await t.db('system_events').where({ action: 'login', outcome: 'failed' }).whereIn('actor_account', ['soc.lin', 'soc.left', 'soc.gone']).select();
    expect(refused.map((e: any) => JSON.parse(e.detail).reason)).to.deep.equal(['directory-refused', 'directory-refused', 'directory-refused']);
  });

  it('the account review reports directory accounts gone or disabled there, and not the live ones', async () => {
    const out = await runAccountReview(t.db, t.cfg, '2026-11', { trigger: 'manual' });
    expect(out.directoryUnreachable).to.equal(false);
    expect(out.directoryChecked).to.equal(4);
    const items = await t.db('review_items as i').join('users as u', 'u.id', 'i.user_id').where('i.review_id', out.reviewId).andWhere('i.finding', 'directory-missing').pluck('u.account');
    expect(items.sort()).to.deep.equal(['soc.gone', 'soc.left']);
  });

  it('unknown, disabled, not-activated, local and directory accounts cost alike: median times of refused sign-ins and password changes within 2x of each other', async () => {
    // Made here, after the review test, which counts the directory accounts.
    await asDirectory('tax.chen', (await t.db('units').where({ code: 'AG1' }).first('id')).id);
    const unit = (await t.db('users').where({ account: 'local.clerk' }).first('unit_id')).unit_id;
    await makeUser(t.db, { account: 'local.off', unitId: unit, roles: ['clerk'], status: 'disabled' });
    const pending = await makeUser(t.db, { account: 'local.new', unitId: unit, roles: ['clerk'], status: 'pending' });
    await t.db('users').where({ id: pending }).update({ password_hash: null });
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    /** Median wall time per kind; rounds interleave the kinds so load on the machine hits all alike. Round 0 warms up. */
    const measure = async (kinds: Record<string, (ip: string) => request.Test>, expected: number) => {
      const names = Object.keys(kinds);
      const times: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
      for (let round = 0; round <= 10; round++) {
        for (const [k, name] of names.entries()) {
          // A fresh address each time, so no streak reaches the lockout.
          const ip = `10.77.${k}.${round + 1}`;
          const start = performance.now();
          const res = await kinds[name](ip);
          const took = performance.now() - start;
          expect(res.status, `${name}: ${JSON.stringify(res.body)}`).to.equal(expected);
          if (round > 0) times[name].push(took);
        }
      }
      return Object.fromEntries(names.map((k) => [k, median(times[k])]));
    };
    const signIn = (account: string, password: string) => (ip: string) => request(app).post('/api/v1/auth/login').set('X-Forwarded-For', ip).send({ account, password });
    const logins = await measure({
      unknown: signIn('nobody.timing', 'Whatever-Passw0rd-1'),
      disabled: signIn('local.off', PASSWORD),
      pending: signIn('local.new', 'Whatever-Passw0rd-1'),
      'local-wrong': signIn('local.clerk', 'Whatever-Passw0rd-1'),
      'ldap-wrong': signIn('tax.chen', 'Whatever-Passw0rd-1'),
    }, 401);
    const change = (account: string, current: string) => (ip: string) => request(app).post('/api/v1/auth/password').set('X-Forwarded-For', ip).send({ account, current, next: 'Brand-New-Passw0rd-1' });
    const changes = await measure({
      unknown: change('nobody.timing', 'Whatever-Passw0rd-1'),
      disabled: change('local.off', PASSWORD),
      'local-wrong': change('local.clerk', 'Whatever-Passw0rd-1'),
      'ldap-account': change('tax.chen', 'Dir-Passw0rd-Chen'),
    }, 400);
    for (const [what, medians] of [['sign-in', logins], ['password change', changes]] as const) {
      const values = Object.values(medians);
      expect(Math.max(...values) / Math.min(...values), `${what} medians (ms): ${JSON.stringify(medians)}`).to.be.at.most(2);
    }
  });

  it('directory stopped: directory users get a clear 503, local accounts keep working, the review notes the directory as unreachable', async () => {
    await slapd.stop();
    const down = await login('soc.wang', 'Dir-Passw0rd-Wang');
    expect(down.status).to.equal(503);
    expect(down.body.type).to.match(/directory-unavailable$/);
    expect(down.body.detail).to.contain('目錄服務').and.contain('本系統帳號不受影響');
    expect((await t.db('users').where({ account: 'soc.wang' }).first()).failed_logins).to.equal(0);
    expect((await login('local.clerk', PASSWORD)).status).to.equal(204);
    const page = await request(app).get('/login');
    const csrf = csrfFromHtml(page.text);
    const cookie = page.headers['set-cookie'];
    const form = await request(app).post('/login').set('Cookie', cookie).type('form').send({ _csrf: csrf, account: 'soc.wang', password: 'Dir-Passw0rd-Wang' });
    expect(form.status).to.equal(503);
    expect(form.text).to.contain('目錄服務');
    const review = await runAccountReview(t.db, t.cfg, '2026-11', { trigger: 'manual' });
    expect(review.directoryUnreachable).to.equal(true);
    expect(await t.db('review_items').where({ review_id: review.reviewId, finding: 'directory-missing' }).count({ n: '*' }).then((r: any) => Number(r[0].n))).to.equal(0);
  });

  it('the directory module answers unavailable (not invalid) for an address where nothing listens', async () => {
    const dir = ldapDirectory({ ...slapd.env, LDAP_TIMEOUT_MS: 1000 } as any);
    expect((await dir.authenticate('soc.wang', 'Dir-Passw0rd-Wang')).kind).to.equal('unavailable');
    expect((await dir.lookup('soc.wang')).kind).to.equal('unavailable');
  });
});
