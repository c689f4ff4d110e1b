import { expect } from 'chai';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { createDb } from '../../server/db.ts';
import { acquire } from '../../jobs/lock.ts';
import { runJob } from '../../jobs/runner.ts';
import type { JobDef } from '../../jobs/registry.ts';
import { monthPeriod } from '../../jobs/periods.ts';
import { cli } from '../support/cli.ts';

describe(`job run lock (${ENGINE})`, () => {
  let t: TestDb;
  before(async () => {
    t = await migratedDb();
  });
  after(() => t.drop());

  it('two pools racing on one period: exactly one acquires', async () => {
    const other = createDb(t.cfg);
    try {
      const results = await Promise.all([
        acquire(t.db, 'race', '2025-01'), acquire(other, 'race', '2025-01'),
        acquire(t.db, 'race', '2025-01'), acquire(other, 'race', '2025-01'),
      ]);
      expect(results.filter((r) => r.kind === 'acquired')).to.have.length(1);
      expect(results.filter((r) => r.kind === 'running')).to.have.length(3);
      expect(await t.db('job_runs').where({ job: 'race', period: '2025-01' }).count({ n: '*' }).first()).to.deep.include({ n: 1 });
    } finally {
      await other.destroy();
    }
  });

  it('refuses a finished period unless forced; a forced run keeps the earlier run as history', async () => {
    let runs = 0;
    const job: JobDef = { name: 'counting', ...monthPeriod, run: async () => ({ run: ++runs }) };
    const first = await runJob({ cfg: t.cfg, db: t.db }, job, { period: '2025-02' });
    expect(first.status).to.equal('ran');
    const again = await runJob({ cfg: t.cfg, db: t.db }, job, { period: '2025-02' });
    expect(again.status).to.equal('already-done');
    const forced = await runJob({ cfg: t.cfg, db: t.db }, job, { period: '2025-02', force: true });
    expect(forced.status).to.equal('ran');
    expect(runs).to.equal(2);
    const history = await t.db('job_runs').where({ job: 'counting', period: '2025-02' }).orderBy('generation');
    expect(history.map((h: any) => [h.generation, h.status, Boolean(h.forced)])).to.deep.equal([[1, 'done', false], [2, 'done', true]]);
    expect(JSON.parse(history[0].result)).to.deep.equal({ run: 1 });
  });

  it('a failed run is recorded and the period may run again without force', async () => {
    let fail = true;
    const job: JobDef = { name: 'flaky', ...monthPeriod, run: async () => { if (fail) throw new Error('boom'); return 'ok'; } };
    const out = await runJob({ cfg: t.cfg, db: t.db }, job, { period: '2025-03' });
    expect(out.status).to.equal('failed');
    fail = false;
    expect((await runJob({ cfg: t.cfg, db: t.db }, job, { period: '2025-03' })).status).to.equal('ran');
  });

  it('refuses a malformed or future period', async () => {
    const job: JobDef = { name: 'p', ...monthPeriod, run: async () => null };
    expect((await runJob({ cfg: t.cfg, db: t.db }, job, { period: '2025-13' })).status).to.equal('bad-period');
    expect((await runJob({ cfg: t.cfg, db: t.db }, job, { period: '2999-01' })).status).to.equal('bad-period');
  });

  it('two processes started at the same moment: one runs (exit 0), the other is told it is running or done (exit 3)', async () => {
    const args = ['job', 'run', 'prune-sessions', '--period', '2025-06-01'];
    const [a, b] = await Promise.all([cli(args, t.env), cli(args, t.env)]);
    expect([a.code, b.code].sort(), a.stderr + b.stderr).to.deep.equal([0, 3]);
    const runs = await t.db('job_runs').where({ job: 'prune-sessions', period: '2025-06-01' });
    expect(runs).to.have.length(1);
    expect(runs[0].status).to.equal('done');
  });
});
