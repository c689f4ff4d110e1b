// Two instances, one database (DESIGN: "A job runs once per period even with several app
// instances"): two real server processes with JOBS_ENABLED=true start together and both try to
// catch up every scheduled job; each (job, period) runs exactly once. A period that came due while
// every instance was down runs once at the next start, and a finished period never runs again.
import { expect } from 'chai';
import { ENGINE, freshDb, type TestDb } from '../support/db.ts';
import { cli } from '../support/cli.ts';
import { startServerProcess, type ServerProcess } from '../support/server-process.ts';
import { allJobs } from '../../server/capabilities.ts';
import { addDays, now } from '../../server/time.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`reliability: two instances on one database (${ENGINE}, real server processes)`, function () {
  this.timeout(600_000);
  let t: TestDb;
  let env: Record<string, string>;
  let servers: ServerProcess[] = [];
  const scheduled = allJobs().filter((j) => j.cron);

  before(async () => {
    t = await freshDb();
    env = { ...t.env, JOBS_ENABLED: 'true' };
    const m = await cli(['migrate'], env);
    expect(m.code, m.stderr).to.equal(0);
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.kill('SIGKILL')));
    await t?.drop();
  });

  const startTwo = async () => {
    servers = await Promise.all([startServerProcess({ env }), startServerProcess({ env })]);
  };
  const stopAll = async () => {
    await Promise.all(servers.map((s) => s.kill('SIGTERM')));
    servers = [];
  };
  /** Waits until no run is in progress and every scheduled job has a run for its current period. */
  async function settled(timeoutMs = 120_000): Promise<any[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows: any[] = await t.db('job_runs').orderBy('id').select();
      const current = scheduled.every((j) => rows.some((r) => r.job === j.name && r.period === j.periodFor(now())));
      if (current && !rows.some((r) => r.status === 'running')) return rows;
      if (Date.now() > deadline) throw new Error(`jobs did not settle: ${JSON.stringify(rows.map((r) => [r.job, r.period, r.status]))}`);
      await sleep(250);
    }
  }

  it('runs every scheduled job exactly once for its period when two instances start together', async () => {
    expect(scheduled.map((j) => j.name)).to.include('prune-sessions');
    await startTwo();
    const rows = await settled();
    for (const j of scheduled) {
      const runs = rows.filter((r) => r.job === j.name && r.period === j.periodFor(now()));
      expect(runs.length, `${j.name} runs for ${j.periodFor(now())}`).to.equal(1);
      expect(runs[0].status, `${j.name}: ${runs[0].error ?? ''}`).to.equal('done');
      expect(runs[0].trigger).to.equal('catch-up');
    }
    // Both instances took part: each answered, and the runs may have been shared between them.
    for (const s of servers) expect((await fetch(`${s.base}/healthz`)).status).to.equal(200);
    expect(new Set(rows.map((r) => `${r.job}|${r.period}|${r.generation}`)).size).to.equal(rows.length);
    await stopAll();
  });

  it('runs a period missed while every instance was down once at the next start, and never a finished one again', async () => {
    // While everything is down: prune-sessions last ran yesterday (its run is moved back a day),
    // so today's run was missed; an expired session waits to be pruned.
    const prune = scheduled.find((j) => j.name === 'prune-sessions')!;
    const today = prune.periodFor(now());
    await t.db('job_runs').where({ job: 'prune-sessions', period: today }).update({ period: addDays(today, -1) });
    const t0 = now();
    await t.db('sessions').insert({ sid: 'expired-session-for-the-drill', sess: '{}', expires_at: t0 - 60_000, user_id: null, last_seen_at: t0 - 3_600_000, created_at: t0 - 3_600_000 });
    const before: any[] = await t.db('job_runs').select();

    await startTwo();
    const rows = await settled();
    const fresh = rows.filter((r) => !before.some((b) => b.id === r.id));
    expect(fresh.map((r) => `${r.job} ${r.period} ${r.status} ${r.trigger}`), 'only the missed period ran, once').to.deep.equal([`prune-sessions ${today} done catch-up`]);
    expect(await t.db('sessions').where({ sid: 'expired-session-for-the-drill' }).first()).to.equal(undefined);

    // A third start: everything is done for its period, nothing runs again.
    await stopAll();
    const count = (await t.db('job_runs').count({ n: '*' }))[0].n;
    await startTwo();
    await sleep(3000); // catch-up runs right after listening
    await settled();
    expect(Number((await t.db('job_runs').count({ n: '*' }))[0].n)).to.equal(Number(count));
    await stopAll();
  });
});
