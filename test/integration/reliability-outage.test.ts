// Database outage (DESIGN: "If the database is unavailable the answer is a clear 503, never a
// silent drop"): the real server on a PRIVATE MariaDB the test starts itself (own data directory
// and port; the shared server on 3306 is never touched). Under load the database is killed: the
// app answers 503 with a clear message, /healthz turns 503, nothing is half-written; the database
// comes back on the same data directory and port and the same app process recovers by itself.
import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { ENGINE } from '../support/db.ts';
import { cli } from '../support/cli.ts';
import { PrivateMariaDb, mariadbAvailable } from '../support/mariadb-private.ts';
import { Client, Recorder, checkNothingLost, seedDemo, startLoad, startServerProcess, type ServerProcess } from '../support/server-process.ts';

const PASSWORD = 'Outage-Passw0rd-2026';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// It starts its own MariaDB whatever the pass: run it once, in the MariaDB pass.
const mariadbPass = ENGINE === 'mysql' ? describe : (_title: string, _fn: (this: Mocha.Suite) => void) => undefined;

mariadbPass('reliability: database outage (private MariaDB, real server process)', function () {
  this.timeout(600_000);
  let priv: PrivateMariaDb;
  let server: ServerProcess | undefined;
  let env: Record<string, string>;
  let clerks: string[];

  before(async () => {
    expect(mariadbAvailable(), 'mariadbd and mariadb-install-db are installed').to.equal(true);
    priv = new PrivateMariaDb();
    await priv.start();
    await priv.sql('CREATE DATABASE nhi CHARACTER SET utf8mb4 COLLATE utf8mb4_bin');
    env = { DB_CLIENT: 'mysql', DATABASE_URL: priv.url('nhi'), LOGIN_RATE_PER_MINUTE: '1000' };
    const accounts = await seedDemo(env, PASSWORD);
    clerks = accounts.filter((a) => a.roles.includes('clerk')).map((a) => a.account);
  });
  after(async () => {
    await server?.kill('SIGKILL');
    await priv?.destroy();
  });

  it('answers 503 while the database is down, loses nothing, and recovers without a restart when it returns', async () => {
    server = await startServerProcess({ env });
    const pid = server.child.pid;
    const recorders = await Promise.all(clerks.slice(0, 6).map((a, i) => new Recorder(server!.base, `outage${i}`).prepare(a, PASSWORD)));
    const probe = await new Recorder(server.base, 'probe').prepare(clerks[6], PASSWORD);
    // A browser-like client that keeps its connection open between requests.
    const browser = await new Recorder(server.base, 'keepalive', { keepAlive: true }).prepare(clerks[7], PASSWORD);
    const anonymous = new Client(server.base);
    const load = startLoad(recorders);
    while (load.acks.length < 40) await sleep(20);

    // The database dies under load (a crash, not a clean shutdown).
    await priv.stop('SIGKILL');
    const downAt = Date.now();

    // The app says so clearly and promptly: 503 problem+json naming the database, Retry-After.
    let answer: Awaited<ReturnType<Recorder['record']>> | undefined;
    for (let i = 0; i < 5; i++) {
      answer = await probe.record();
      if (answer.status === 503) break;
    }
    expect(answer!.status, answer!.text).to.equal(503);
    expect(Date.now() - downAt, 'the 503 comes within the pool acquire timeout').to.be.below(25_000);
    expect(answer!.headers.get('content-type')).to.match(/application\/problem\+json/);
    expect(answer!.body.type).to.match(/database-unavailable$/);
    expect(answer!.body.detail).to.match(/資料庫/).and.match(/未寫入/);
    expect(answer!.headers.get('retry-after')).to.equal('5');
    expect(answer!.text).not.to.match(/ECONNREFUSED|PROTOCOL|mysql|at .*\.ts/i);
    const health = await anonymous.request('GET', '/healthz');
    expect(health.status).to.equal(503);
    // On a kept-alive connection every request is answered too: the failed session load must not
    // end the connection after its 503 (nor delete the session, see the 201/503-only check below).
    for (let i = 0; i < 3; i++) {
      const rec = await browser.record().catch((e) => ({ status: 0, text: String(e) }));
      expect(rec.status, `keep-alive record ${i}: ${rec.text}`).to.equal(503);
      const next = await browser.request('GET', '/healthz').catch((e) => ({ status: 0, text: String(e) }));
      expect(next.status, `the next request on the same connection (${i}): ${next.text}`).to.equal(503);
    }
    // Pages say so too, in words.
    const page = await probe.request('GET', '/', undefined, { accept: 'text/html' });
    expect(page.status).to.equal(503);
    expect(page.text).to.match(/資料庫/);
    await sleep(1500); // keep the load running against the dead database for a while

    // The database returns on the same data directory and port.
    await priv.start();
    const deadline = Date.now() + 60_000;
    let healthy = false;
    while (!healthy && Date.now() < deadline) {
      healthy = (await anonymous.request('GET', '/healthz').catch(() => null))?.status === 200;
      if (!healthy) await sleep(200);
    }
    expect(healthy, '/healthz back to 200 without restarting the app').to.equal(true);
    const ackedBefore = load.acks.length;
    const until = Date.now() + 30_000;
    while (load.acks.length < ackedBefore + 30 && Date.now() < until) await sleep(50);
    await load.stop();
    expect(load.acks.length, 'the same process records again after the database returns').to.be.at.least(ackedBefore + 30);
    expect(server.alive && server.child.pid === pid, 'the app was never restarted').to.equal(true);
    const after = await probe.record();
    expect(after.status, after.text).to.equal(201);

    // The app stayed up: every request was answered 201 or 503 — never a 500, never a dropped
    // connection, never a session lost to the outage (which would show as 403/401).
    const odd = [...load.statuses.keys()].filter((s) => ![201, 503].includes(s));
    expect(odd, JSON.stringify([...load.statuses, ...load.samples])).to.deep.equal([]);
    expect(load.statuses.get(503) ?? 0, 'the load saw the outage').to.be.greaterThan(0);

    const db: Knex = knexFactory({ client: 'mysql2', connection: priv.url('nhi'), pool: { min: 0, max: 2 } });
    try {
      await checkNothingLost(db, load);
    } finally {
      await db.destroy();
    }
    const verify = await cli(['verify-log'], env);
    expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
  });
});
