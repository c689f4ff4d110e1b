import { expect } from 'chai';
import { localDate, localTime, monthRange, parseRocDate, rocDate, rocMonth, startOfLocalDay, previousMonth, yearRange } from '../../server/time.ts';

describe('time and the ROC calendar', () => {
  it('shows dates in the ROC calendar', () => {
    expect(rocDate('2025-03-05')).to.equal('民國 114 年 3 月 5 日');
    expect(rocMonth('2026-01')).to.equal('民國 115 年 1 月');
  });
  it('parses ROC dates typed on forms', () => {
    expect(parseRocDate('114/03/05')).to.equal('2025-03-05');
    expect(parseRocDate('民國114年3月5日')).to.equal('2025-03-05');
    expect(parseRocDate('2025-03-05')).to.equal('2025-03-05');
    expect(parseRocDate('114/02/30')).to.equal(null);
    expect(parseRocDate('hello')).to.equal(null);
  });
  it('computes Taipei days and months from UTC instants', () => {
    const ms = Date.UTC(2025, 2, 31, 16, 30); // 2025-04-01 00:30 in Taipei
    expect(localDate(ms)).to.equal('2025-04-01');
    expect(localTime(ms)).to.equal('00:30');
    expect(startOfLocalDay('2025-04-01')).to.equal(Date.UTC(2025, 2, 31, 16, 0));
    const [a, b] = monthRange('2025-12');
    expect(a).to.equal(Date.UTC(2025, 10, 30, 16));
    expect(b).to.equal(Date.UTC(2025, 11, 31, 16));
    expect(yearRange(2025)[0]).to.equal(Date.UTC(2024, 11, 31, 16));
    expect(previousMonth('2026-01')).to.equal('2025-12');
  });
});
