import { expect } from 'chai';
import { localDate, localTime, localTimeSeconds, monthRange, parseHalfYear, parseRocDate, parseRocMonth, parseRocYear, rocDate, rocInput, rocMonth, rocPeriod, startOfLocalDay, previousMonth, yearRange } from '../../server/time.ts';

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
  it('reads the compact ROC day, ROC months, years and half years as typed (issue 17)', () => {
    expect(parseRocDate('1151203')).to.equal('2026-12-03');
    expect(parseRocDate('991203')).to.equal('2010-12-03');
    expect(parseRocDate('1150230')).to.equal(null);
    expect(parseRocDate('0001203')).to.equal(null);
    expect(parseRocMonth('115/11')).to.equal('2026-11');
    expect(parseRocMonth('2026-11')).to.equal('2026-11');
    expect(parseRocMonth('115/13')).to.equal(null);
    expect(parseRocYear('115')).to.equal(2026);
    expect(parseRocYear('民國 115 年')).to.equal(2026);
    expect(parseRocYear('2026')).to.equal(2026);
    expect(parseRocYear('1899')).to.equal(null);
    expect(parseRocYear('一一四')).to.equal(null);
    expect(parseHalfYear('115 年上半年')).to.equal('2026-H1');
    expect(parseHalfYear('115下')).to.equal('2026-H2');
    expect(parseHalfYear('2026-H2')).to.equal('2026-H2');
    expect(parseHalfYear('115 年中')).to.equal(null);
  });
  it('says periods and field values in the ROC calendar', () => {
    expect(rocPeriod('2026-H1')).to.equal('115 年上半年');
    expect(rocPeriod('2026-H2')).to.equal('115 年下半年');
    expect(rocPeriod('2026-03')).to.equal('民國 115 年 3 月');
    expect(rocPeriod('2026')).to.equal('115 年');
    expect(rocInput('2026-12-03')).to.equal('115/12/03');
    expect(rocInput('2026-11')).to.equal('115/11');
    expect(rocInput('abc')).to.equal('abc');
    expect(localTimeSeconds(Date.UTC(2025, 2, 31, 16, 30, 7))).to.equal('00:30:07');
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
