import { expect } from 'chai';
import { buildChecklist, applyResults, checkOnTime, filedOnTime, halfOf, halfProblem, halfRange, isOverdue, keepUntil, missingResults, yearProblem, type Evidence } from '../../server/audits/rules.ts';
import { canonicalCell, canonicalRow } from '../../reports/annual.ts';
import { activeKey } from '../../server/audits/exports.ts';

const at = (iso: string) => Date.parse(iso);

function evidence(over: Partial<Evidence> = {}): Evidence {
  return {
    period: '2025-H1',
    accountReview: { reviews: 1, items: 2, open: 0, available: true },
    months: [{ month: '2025-01', entries: 3, check: { status: 'signed-off', signedOffAt: at('2025-02-10T00:00:00Z'), onTime: true, undecided: 0 } }],
    openInvestigations: [], overdueDestructions: [], chain: { status: 'done', finishedAt: 1, ok: true, detail: '完整' },
    expiredPasswords: [], disabledButActive: [], linkReviews: { year: 2025, total: 2, reviewed: 2 },
    ...over,
  };
}

describe('audits rules', () => {
  it('half-year periods: range, months, which half a day is in', () => {
    expect(halfRange('2025-H1')).to.deep.equal({ from: '2025-01-01', to: '2025-07-01', months: ['2025-01', '2025-02', '2025-03', '2025-04', '2025-05', '2025-06'] });
    expect(halfRange('2025-H2').to).to.equal('2026-01-01');
    expect(halfRange('2025-H2').months[5]).to.equal('2025-12');
    expect(halfOf('2025-06-30')).to.equal('2025-H1');
    expect(halfOf('2025-07-01')).to.equal('2025-H2');
  });

  it('an audit may not be opened for a half-year that has not begun, or a malformed one', () => {
    expect(halfProblem('2025-H2', '2025-07-01')).to.equal(null);
    expect(halfProblem('2025-H2', '2025-06-30')).to.contain('尚未開始');
    expect(halfProblem('2025-H3', '2025-06-30')).to.contain('YYYY-H1');
    expect(halfProblem('1999-H1', '2025-06-30')).to.contain('過早');
  });

  it('audit records are kept five years from sign-off', () => {
    expect(keepUntil('2025-07-20')).to.equal('2030-07-20');
  });

  it('a retained item is overdue only while kept after its destroy-by day', () => {
    expect(isOverdue({ status: 'retained', destroy_by: '2025-06-30' }, '2025-07-01')).to.equal(true);
    expect(isOverdue({ status: 'retained', destroy_by: '2025-07-01' }, '2025-07-01')).to.equal(false);
    expect(isOverdue({ status: 'destroyed', destroy_by: '2025-06-30' }, '2025-07-01')).to.equal(false);
  });

  it('a monthly check is on time when signed off by the end of the following month (Taipei)', () => {
    expect(checkOnTime('2025-01', at('2025-02-28T15:59:00Z'))).to.equal(true);
    expect(checkOnTime('2025-01', at('2025-02-28T16:00:00Z'))).to.equal(false); // 1 March 00:00 Taipei
    expect(checkOnTime('2025-11', at('2025-12-31T00:00:00Z'))).to.equal(true);
    expect(checkOnTime('2025-12', at('2026-01-31T00:00:00Z'))).to.equal(true);
    expect(checkOnTime('2025-12', at('2026-02-01T00:00:00Z'))).to.equal(false);
    expect(checkOnTime('2025-12', null)).to.equal(false);
  });

  it('the annual filing is on time before 1 February of the next year (Taipei)', () => {
    expect(filedOnTime(at('2026-01-31T15:59:59Z'), 2025)).to.equal(true);
    expect(filedOnTime(at('2026-01-31T16:00:00Z'), 2025)).to.equal(false);
    expect(filedOnTime(null, 2025)).to.equal(false);
  });

  it('report years: the future and nonsense are refused', () => {
    const nowMs = at('2026-03-01T00:00:00Z');
    expect(yearProblem(2025, nowMs)).to.equal(null);
    expect(yearProblem(2026, nowMs)).to.equal(null);
    expect(yearProblem(2027, nowMs)).to.contain('未來');
    expect(yearProblem(1990, nowMs)).to.not.equal(null);
    expect(yearProblem(2025.5, nowMs)).to.not.equal(null);
  });

  it('the checklist covers each rule and reads the evidence', () => {
    const ok = buildChecklist(evidence());
    expect(ok.map((i) => i.key)).to.deep.equal(['account-review', 'monthly-checks', 'investigations', 'destruction', 'chain', 'passwords', 'disabled', 'links']);
    expect(ok.every((i) => i.system === 'ok')).to.equal(true);
    const bad = buildChecklist(evidence({
      accountReview: { reviews: 1, items: 2, open: 1, available: true },
      months: [{ month: '2025-02', entries: 4, check: null }],
      openInvestigations: [{ id: 1, title: 'x', openedAt: 1 }],
      overdueDestructions: [{ id: 1, caseNo: 'C', destroyBy: '2025-01-01', unit: 'u' }],
      chain: null,
      expiredPasswords: [{ account: 'a', changedAt: null }],
      disabledButActive: [{ account: 'b', problem: 'p' }],
      linkReviews: { year: 2025, total: 2, reviewed: 1 },
    }));
    const sys = Object.fromEntries(bad.map((i) => [i.key, i.system]));
    expect(sys).to.deep.equal({ 'account-review': 'issue', 'monthly-checks': 'issue', investigations: 'issue', destruction: 'issue', chain: 'unknown', passwords: 'issue', disabled: 'issue', links: 'issue' });
    expect(bad.find((i) => i.key === 'monthly-checks')!.evidence).to.contain('2025-02');
  });

  it('sign-off needs a result on every item', () => {
    const list = buildChecklist(evidence());
    expect(missingResults(list)).to.have.length(8);
    const done = applyResults(list, Object.fromEntries(list.map((i) => [i.key, { result: 'pass' as const, note: '' }])));
    expect(missingResults(done)).to.deep.equal([]);
    expect(done[0].evidence).to.equal(list[0].evidence);
  });

  it('canonical TSV escapes separators so the sheet hash is unambiguous', () => {
    expect(canonicalCell(null)).to.equal('');
    expect(canonicalCell(12)).to.equal('12');
    expect(canonicalCell('a\tb\nc\\d\r')).to.equal('a\\tb\\nc\\\\d\\r');
    expect(canonicalRow(['x', 1], 3)).to.equal('x\t1\t\n');
    expect(canonicalRow(['a\tb'], 1)).not.to.equal(canonicalRow(['a', 'b'], 2));
  });

  it('the export lock key is per kind, agency and year', () => {
    expect(activeKey({ kind: 'annual', year: 2025, unitId: 3 })).to.equal('annual:3:2025');
    expect(activeKey({ kind: 'annual', year: 2025, unitId: null })).to.equal('annual:county:2025');
    expect(activeKey({ kind: 'audit-package', from: '2025-01-01', to: '2025-06-30', unitId: 3 })).to.equal('audit-package:3:2025-01-01:2025-06-30');
  });
});

describe('time.ts: fast Taipei date and time for the workbook writers', () => {
  it('gives the same text as rocShort(localDate) and localTime for any instant', async () => {
    const { fastLocal, localDate, localTime, rocShort } = await import('../../server/time.ts');
    const f = fastLocal();
    let x = 12345;
    for (let i = 0; i < 5000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const ms = Date.parse('2015-01-01T00:00:00Z') + (x / 4294967296) * 15 * 365 * 86_400_000;
      expect(f(ms)).to.deep.equal({ date: rocShort(localDate(ms)), time: localTime(ms) });
    }
    const edge = Date.parse('2025-12-31T16:00:00Z'); // midnight in Taipei
    expect(f(edge - 1)).to.deep.equal({ date: '114/12/31', time: '23:59' });
    expect(f(edge)).to.deep.equal({ date: '115/01/01', time: '00:00' });
  });
});
