// One clock: the app measures its clock against the database server's (MariaDB: the server's
// NOW(3); SQLite: the same machine, skew 0). More than 2 s makes /healthz degraded (still 200,
// the database answers) and puts a warning on the dashboard. The skewed server is simulated by
// replacing the reference clock, never the system clock.
import { expect } from 'chai';
import request from 'supertest';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, signIn } from '../support/app.ts';
import { makeUser, seedTree } from '../support/fixtures.ts';
import { measureSkew, setReferenceClock } from '../../server/clock.ts';

describe(`one clock (${ENGINE})`, function () {
  this.timeout(60_000);
  let t: TestDb;
  let app: ReturnType<typeof appFor>;
  before(async () => {
    t = await migratedDb();
    const tree = await seedTree(t.db);
    await makeUser(t.db, { account: 'clk.it', unitId: tree.AG1, roles: ['it'] });
    app = appFor(t);
  });
  afterEach(() => setReferenceClock(null));
  after(() => t.drop());

  it('measures this machine against the database server: within 2 s here', async () => {
    const skew = await measureSkew(t.db);
    if (ENGINE === 'sqlite') expect(skew).to.deep.equal({ skewMs: 0, ok: true });
    else expect(Math.abs(skew.skewMs)).to.be.below(2000);
    const res = await request(app).get('/healthz');
    expect(res.status).to.equal(200);
    expect(res.body.status).to.equal('ok');
    expect(res.body.clockSkewMs).to.be.a('number');
  });

  it('a database clock 5 s behind makes /healthz degraded (200) with the skew, and warns on the dashboard', async () => {
    const staff = await signIn(app, 'clk.it');
    expect((await staff.agent.get('/dashboard')).text).not.to.contain('id="clock-skew"');
    setReferenceClock(async () => Date.now() - 5000);
    const res = await request(app).get('/healthz');
    expect(res.status).to.equal(200);
    expect(res.body.status).to.equal('degraded');
    expect(res.body.clockSkewMs).to.be.within(4900, 5100);
    expect(res.body.detail).to.contain('請校時');
    const page = await staff.agent.get('/dashboard');
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('id="clock-skew"').and.contain('相差 5.0 秒');
  });

  it('a clock ahead counts the same; 2 s exactly is still within tolerance', async () => {
    setReferenceClock(async () => Date.now() + 3000);
    expect((await measureSkew(t.db)).ok).to.equal(false);
    expect((await request(app).get('/healthz')).body.status).to.equal('degraded');
    // The reference is read between two readings of this clock: fix both to test the bound.
    const realNow = Date.now;
    try {
      Date.now = () => 1_800_000_000_000;
      setReferenceClock(async () => 1_800_000_000_000 - 2000);
      expect(await measureSkew(t.db)).to.deep.equal({ skewMs: 2000, ok: true });
      setReferenceClock(async () => 1_800_000_000_000 - 2001);
      expect(await measureSkew(t.db)).to.deep.equal({ skewMs: 2001, ok: false });
    } finally {
      Date.now = realNow;
    }
  });
});
