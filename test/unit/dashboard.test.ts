// The dashboard's plain rules: the months shown, ROC labels, the flagged share, how a month's
// check stands against its due date, and an annual filing's standing.
import { expect } from 'chai';
import { checkStanding, filingStanding, flaggedShare, lastMonths, rocMonthShort } from '../../server/dashboard/rules.ts';
import { reachOf } from '../../server/dashboard/service.ts';
import type { UnitRow } from '../../server/accounts/units.ts';

const NOW = Date.parse('2026-03-15T04:00:00Z');
const at = (iso: string) => Date.parse(iso);

describe('dashboard rules', () => {
  it('months, ROC labels, flagged share, check standing and filing standing', () => {
    expect(lastMonths(NOW, 3)).to.deep.equal(['2026-01', '2026-02', '2026-03']);
    expect(lastMonths(at('2026-01-10T00:00:00Z'), 2)).to.deep.equal(['2025-12', '2026-01']);
    expect(rocMonthShort('2026-03')).to.equal('115/03');
    expect(flaggedShare(1, 3)).to.equal(33.3);
    expect(flaggedShare(0, 0)).to.equal(null);
    expect(checkStanding('2026-01', { status: 'signed-off', signedOffAt: at('2026-02-27T15:59:59Z') }, 5, NOW)).to.equal('on-time');
    expect(checkStanding('2026-01', { status: 'signed-off', signedOffAt: at('2026-02-28T16:00:00Z') }, 5, NOW)).to.equal('late');
    expect(checkStanding('2026-02', { status: 'open', signedOffAt: null }, 5, NOW)).to.equal('open');
    expect(checkStanding('2026-01', { status: 'open', signedOffAt: null }, 5, NOW)).to.equal('overdue');
    expect(checkStanding('2026-01', null, 5, NOW)).to.equal('missing');
    expect(checkStanding('2026-01', null, 0, NOW)).to.equal(null);
    expect(checkStanding('2026-02', null, 5, NOW)).to.equal(null);
    expect(filingStanding(2025, null, at('2026-01-31T15:59:00Z'))).to.equal('not-filed');
    expect(filingStanding(2025, null, NOW)).to.equal('overdue');
    expect(filingStanding(2025, { submittedAt: at('2026-02-02T00:00:00Z'), acknowledgedAt: null }, NOW)).to.equal('filed-late');
    expect(filingStanding(2025, { submittedAt: at('2026-01-02T00:00:00Z'), acknowledgedAt: null }, NOW)).to.equal('filed');
  });

  it('reach: the county-wide offices see every agency, others their own agency only', () => {
    const u = (id: number, code: string, kind: UnitRow['kind'], parent: number | null): UnitRow => ({ id, code, name: code, kind, parent_id: parent, has_sections: true, status: 'active' });
    const units = [u(1, 'PLAN', 'planning', null), u(2, 'B', 'agency', 1), u(3, 'A', 'agency', 1), u(4, 'A-1', 'unit', 3)];
    expect(reachOf(units, { unitId: 1, roles: ['auditor'] }).agencies.map((a) => a.code)).to.deep.equal(['A', 'B']);
    expect(reachOf(units, { unitId: 1, roles: ['auditor'] }).countyWide).to.equal(true);
    expect(reachOf(units, { unitId: 4, roles: ['supervisor'] }).agencies.map((a) => a.code)).to.deep.equal(['A']);
    expect(reachOf(units, { unitId: 4, roles: ['supervisor'] }).countyWide).to.equal(false);
    expect(reachOf(units, { unitId: 1, roles: ['ethics'] }, 'B').agencies.map((a) => a.code)).to.deep.equal(['B']);
    expect(() => reachOf(units, { unitId: 4, roles: ['supervisor'] }, 'B')).to.throw(/所屬機關/);
    expect(() => reachOf(units, { unitId: 1, roles: ['ethics'] }, 'NOPE')).to.throw(/找不到/);
    // The shared reach rule: sitting in the planning department is not county-wide by itself.
    for (const role of ['it', 'supervisor']) {
      expect(reachOf(units, { unitId: 1, roles: [role] }).countyWide, role).to.equal(false);
      expect(reachOf(units, { unitId: 1, roles: [role] }).agencies, role).to.deep.equal([]);
      expect(() => reachOf(units, { unitId: 1, roles: [role] }, 'B'), role).to.throw(/所屬機關/);
    }
  });
});
