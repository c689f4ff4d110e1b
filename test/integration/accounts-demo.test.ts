// The demo county's accounts: every listed account signs in with the demo password; directory,
// locked, expired and never-activated accounts exist for the review but are not listed.
import { expect } from 'chai';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { accounts } from '../../server/accounts/index.ts';
import { seededRandom } from '../../server/cli.ts';
import { login } from '../../server/auth/service.ts';
import { runAccountReview } from '../../server/accounts/review.ts';
import { ROLES } from '../../server/accounts/roles.ts';

describe(`accounts: demo county (${ENGINE})`, function () {
  this.timeout(120_000);
  let t: TestDb;
  let listed: Array<{ account: string; roles: string[]; unit: string }>;
  before(async () => {
    t = await migratedDb();
    listed = await accounts.seedDemo!({ cfg: t.cfg, db: t.db }, { password: 'Demo-Passw0rd-7', random: seededRandom(20260101) });
  });
  after(() => t.drop());

  it('lists accounts of every role in several agencies, each of which signs in with the demo password', async () => {
    const roles = new Set(listed.flatMap((a) => a.roles));
    for (const r of ROLES) expect(roles.has(r), r).to.equal(true);
    const agenciesWithAdmins = new Set(listed.filter((a) => a.roles.includes('admin')).map((a) => a.unit));
    expect(agenciesWithAdmins.size).to.be.greaterThan(3);
    for (const a of listed) {
      const r = await login(t.db, t.cfg, { account: a.account, password: 'Demo-Passw0rd-7', ip: '127.0.0.1' }, null);
      expect(r.kind, a.account).to.equal('ok');
    }
    const names = listed.map((a) => a.account);
    for (const hidden of ['soc.wang', 'soc.lin', 'tax.chen', 'soc.locked', 'tax.expired', 'hlt.newbie', 'civ.moved']) expect(names).not.to.include(hidden);
    const withHmac = await t.db('users').whereNotNull('person_hmac').count({ n: '*' });
    expect(Number(withHmac[0].n)).to.be.at.least(listed.length);
    expect(await t.db('users').where({ auth_source: 'ldap' }).pluck('account')).to.have.members(['soc.wang', 'soc.lin', 'tax.chen']);
  });

  it('gives the account review findings of every kind it can find without a directory, and requests in the inboxes', async () => {
    const out = await runAccountReview(t.db, t.cfg, '2026-11', { trigger: 'manual', directory: null });
    for (const kind of ['idle', 'never-activated', 'duplicate-person', 'password-expired', 'disable-overdue', 'after-hours-login', 'shared-address']) {
      expect(out.counts[kind] ?? 0, kind).to.be.greaterThan(0);
    }
    expect(out.directoryUnreachable).to.equal(true);
    expect(await t.db('account_requests').pluck('status')).to.have.members(['pending', 'approved']);
  });
});
