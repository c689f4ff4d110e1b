import { expect } from 'chai';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { cli } from '../support/cli.ts';
import { ROLES } from '../../server/accounts/roles.ts';
import { verifyPassword } from '../../server/auth/passwords.ts';

describe(`command line (${ENGINE})`, () => {
  let t: TestDb;
  before(async () => {
    t = await migratedDb();
  });
  after(() => t.drop());

  it('migrate brings the database to the latest schema', async () => {
    const r = await cli(['migrate'], t.env);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('already at the latest schema');
  });

  it('bootstrap-admin prints a one-time password alone on its last line, once', async () => {
    const r = await cli(['bootstrap-admin', '--account', 'plan.root'], t.env);
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout.trim().split('\n');
    const otp = lines[lines.length - 1];
    expect(otp).to.match(/^[A-Za-z0-9]{16,}$/);
    const user = await t.db('users').where({ account: 'plan.root' }).first();
    expect(await verifyPassword(user.password_hash, otp)).to.equal(true);
    expect(Boolean(user.must_change_password)).to.equal(true);
    expect(await t.db('user_roles').where({ user_id: user.id }).pluck('role')).to.deep.equal(['planning_admin']);
    const again = await cli(['bootstrap-admin', '--account', 'other'], t.env);
    expect(again.code).to.equal(3);
    expect(await t.db('users').where({ account: 'other' }).first()).to.equal(undefined);
  });

  it('bootstrap-admin without --account is a usage error', async () => {
    expect((await cli(['bootstrap-admin'], t.env)).code).to.equal(2);
  });

  it('seed-demo --password P --json lists demo accounts of every role', async () => {
    const r = await cli(['seed-demo', '--password', 'Demo-Passw0rd-9', '--json'], t.env);
    expect(r.code, r.stderr).to.equal(0);
    const { accounts } = JSON.parse(r.stdout.trim().split('\n').pop()!);
    const roles = new Set(accounts.flatMap((a: any) => a.roles));
    for (const role of ROLES) expect(roles.has(role), role).to.equal(true);
    expect(accounts.every((a: any) => typeof a.account === 'string' && typeof a.unit === 'string')).to.equal(true);
    const kinds = await t.db('units').select('kind').count({ n: '*' }).groupBy('kind');
    const byKind = Object.fromEntries(kinds.map((k: any) => [k.kind, Number(k.n)]));
    expect(byKind.planning).to.equal(1);
    expect(byKind.agency).to.be.at.least(3);
    expect(byKind.unit).to.be.at.least(3);
    const clerk = accounts.find((a: any) => a.roles.includes('clerk'));
    const u = await t.db('users').where({ account: clerk.account }).first();
    expect(await verifyPassword(u.password_hash, 'Demo-Passw0rd-9')).to.equal(true);
  });

  it('job run: unknown job and missing arguments are usage errors (exit 2)', async () => {
    expect((await cli(['job', 'run', 'no-such-job'], t.env)).code).to.equal(2);
    expect((await cli(['job', 'run'], t.env)).code).to.equal(2);
    expect((await cli(['job', 'run', 'prune-sessions', '--period', 'yesterday'], t.env)).code).to.equal(2);
  });

  it('job run: a done period exits 3, --force runs it again (exit 0)', async () => {
    const args = ['job', 'run', 'prune-sessions', '--period', '2025-01-01'];
    expect((await cli(args, t.env)).code).to.equal(0);
    expect((await cli(args, t.env)).code).to.equal(3);
    expect((await cli([...args, '--force'], t.env)).code).to.equal(0);
    expect(await t.db('job_runs').where({ job: 'prune-sessions', period: '2025-01-01' }).count({ n: '*' }).first()).to.deep.include({ n: 2 });
  });

  it('an invalid configuration value stops the command naming the key', async () => {
    const r = await cli(['migrate'], { ...t.env, PORT: 'eighty' });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain('PORT');
  });
});
