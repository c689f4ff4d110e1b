// Account review rules (clause 3(二)2) as a pure function over a snapshot, and office hours.
import { expect } from 'chai';
import { outsideOfficeHours, reviewFindings, type ReviewUser } from '../../server/accounts/review.ts';
import { activationCode } from '../../server/accounts/service.ts';
import { passwordProblems } from '../../server/auth/passwords.ts';
import { passwordExpired } from '../../server/auth/service.ts';
import { isDisabledNow } from '../../server/accounts/active.ts';

const DAY = 86_400_000;
const AT = Date.parse('2026-11-18T02:00:00Z'); // Wednesday 10:00 Taipei
const cfg = { ACCOUNT_IDLE_DAYS: 90, PASSWORD_MAX_AGE_DAYS: 90, OFFICE_HOURS_START: '08:00', OFFICE_HOURS_END: '18:00' };
const user = (id: number, patch: Partial<ReviewUser> = {}): ReviewUser => ({
  id, account: `u${id}`, unitId: 1, status: 'active', authSource: 'local', personHmac: null, lastLoginAt: AT - DAY, createdAt: AT - 300 * DAY,
  passwordChangedAt: AT - 10 * DAY, activationExpiresAt: null, disableOn: null, ...patch,
});
const run = (users: ReviewUser[], extra: Partial<Parameters<typeof reviewFindings>[0]> = {}) =>
  reviewFindings({ users, logins: [], concurrent: [], directoryMissing: new Set(), at: AT, cfg, ...extra });

describe('accounts: review rules', () => {
  it('office hours are 08:00–18:00 Taipei on weekdays; weekends are always outside', () => {
    expect(outsideOfficeHours(Date.parse('2026-11-18T00:00:00Z'), cfg)).to.equal(false); // 08:00
    expect(outsideOfficeHours(Date.parse('2026-11-17T23:59:00Z'), cfg)).to.equal(true); // 07:59
    expect(outsideOfficeHours(Date.parse('2026-11-18T09:59:00Z'), cfg)).to.equal(false); // 17:59
    expect(outsideOfficeHours(Date.parse('2026-11-18T10:00:00Z'), cfg)).to.equal(true); // 18:00
    expect(outsideOfficeHours(Date.parse('2026-11-21T02:00:00Z'), cfg)).to.equal(true); // Saturday 10:00
  });

  it('a clean account has no findings; each condition gives its own finding', () => {
    expect(run([user(1)])).to.deep.equal([]);
    const f = run([
      user(2, { lastLoginAt: AT - 91 * DAY }),
      user(3, { lastLoginAt: null, createdAt: AT - 91 * DAY }),
      user(4, { lastLoginAt: null, createdAt: AT - 5 * DAY }),
      user(5, { status: 'pending', activationExpiresAt: AT - 1 }),
      user(6, { status: 'pending', activationExpiresAt: AT + DAY }),
      user(7, { passwordChangedAt: AT - 91 * DAY }),
      user(8, { authSource: 'ldap', passwordChangedAt: null }),
      user(9, { disableOn: '2026-11-18' }),
      user(10, { disableOn: '2026-11-19' }),
      user(11, { status: 'disabled', lastLoginAt: AT - 500 * DAY }),
    ], { directoryMissing: new Set([8]) });
    const got = f.map((x) => `${x.userId}:${x.finding}`).sort();
    expect(got).to.deep.equal(['2:idle', '3:idle', '5:never-activated', '7:password-expired', '8:directory-missing', '9:disable-overdue'].sort());
  });

  it('one person with two live accounts, after-hours sign-ins, one address for several accounts, concurrent use', () => {
    const f = run([user(1, { personHmac: 'h1' }), user(2, { personHmac: 'h1' }), user(3, { personHmac: 'h2' }), user(4, { personHmac: 'h2', status: 'disabled' }), user(5), user(6)], {
      logins: [
        { userId: 5, at: Date.parse('2026-11-17T14:00:00Z'), ip: '10.0.0.5' }, // 22:00 Taipei
        { userId: 5, at: AT - 40 * DAY - 12 * 3_600_000, ip: '10.0.0.5' }, // outside the 30-day window
        { userId: 1, at: AT - 3_600_000, ip: '10.0.0.9' },
        { userId: 6, at: AT - 7_200_000, ip: '10.0.0.9' },
      ],
      concurrent: [{ userId: 3, at: AT - DAY, ip: '10.0.0.3' }],
    });
    const got = f.map((x) => `${x.userId}:${x.finding}`).sort();
    expect(got).to.deep.equal(['1:duplicate-person', '2:duplicate-person', '5:after-hours-login', '1:shared-address', '6:shared-address', '3:concurrent-session'].sort());
    expect(f.find((x) => x.finding === 'after-hours-login')!.detail.count).to.equal(1);
    expect(f.find((x) => x.userId === 6 && x.finding === 'shared-address')!.detail).to.deep.equal({ ip: '10.0.0.9', accounts: ['u1', 'u6'] });
  });
});

describe('accounts: credential rules', () => {
  it('activation codes are long, random and unambiguous', () => {
    const codes = new Set(Array.from({ length: 200 }, () => activationCode()));
    expect(codes.size).to.equal(200);
    for (const c of codes) expect(c).to.match(/^[A-HJ-NP-Z2-9]{5}(-[A-HJ-NP-Z2-9]{5}){3}$/);
  });

  it('password policy names each rule broken (length ≥ 12, upper, lower, digit, no account name)', () => {
    expect(passwordProblems('Good-Passw0rd-1', 'clerk', { minLength: 12 })).to.deep.equal([]);
    expect(passwordProblems('short', 'clerk', { minLength: 12 })).to.have.length(3);
    expect(passwordProblems('MyClerk-Passw0rd', 'clerk', { minLength: 12 })).to.deep.equal(['密碼不得包含帳號']);
  });

  it('expiry after 90 days or when a change is required; a scheduled disable starts at 00:00 Taipei of its day', () => {
    const now = Date.parse('2026-11-23T16:00:00Z'); // 2026-11-24 00:00 Taipei
    expect(passwordExpired({ password_changed_at: now - 90 * DAY, must_change_password: false }, { PASSWORD_MAX_AGE_DAYS: 90 }, now)).to.equal(false);
    expect(passwordExpired({ password_changed_at: now - 90 * DAY - 1, must_change_password: false }, { PASSWORD_MAX_AGE_DAYS: 90 }, now)).to.equal(true);
    expect(passwordExpired({ password_changed_at: now, must_change_password: true }, { PASSWORD_MAX_AGE_DAYS: 90 }, now)).to.equal(true);
    expect(isDisabledNow({ status: 'active', disable_on: '2026-11-24' }, now)).to.equal(true);
    expect(isDisabledNow({ status: 'active', disable_on: '2026-11-24' }, now - 1)).to.equal(false);
    expect(isDisabledNow({ status: 'pending', disable_on: null }, now)).to.equal(true);
  });
});
