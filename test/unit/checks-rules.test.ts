import { expect } from 'chai';
import fc from 'fast-check';
import { dueAt, isAfterHours, isHoliday, isOverdue, isSettled, median, spikeDays } from '../../server/checks/rules.ts';
import { localDate, localParts, startOfLocalDay, taipeiDate, taipeiDayIndex, taipeiMinuteOfDay, taipeiWeekday } from '../../server/time.ts';
import { eligibleCheckerRank } from '../../server/accounts/roles.ts';

const at = (date: string, hhmm: string) => startOfLocalDay(date) + (Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3))) * 60_000;
const office = { officeStart: '08:00', officeEnd: '18:00' };

describe('risk-flag rules', () => {
  it('the arithmetic Taipei clock agrees with the time zone database', () => {
    fc.assert(fc.property(fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2060, 0, 1) }), (ms) => {
      const p = localParts(ms);
      return taipeiDate(ms) === localDate(ms) && taipeiWeekday(ms) === p.weekday && taipeiMinuteOfDay(ms) === p.hour * 60 + p.minute;
    }), { numRuns: 2000 });
  });
  it('outside office hours: before 08:00 or from 18:00, Taipei time', () => {
    expect(isAfterHours(at('2026-03-04', '07:59'), office)).to.equal(true);
    expect(isAfterHours(at('2026-03-04', '08:00'), office)).to.equal(false);
    expect(isAfterHours(at('2026-03-04', '17:59'), office)).to.equal(false);
    expect(isAfterHours(at('2026-03-04', '18:00'), office)).to.equal(true);
    expect(isAfterHours(at('2026-03-04', '23:30'), { officeStart: '07:30', officeEnd: '23:45' })).to.equal(false);
  });
  it('weekends and configured holidays', () => {
    expect(isHoliday(at('2026-03-07', '10:00'), new Set())).to.equal(true); // Saturday
    expect(isHoliday(at('2026-03-08', '10:00'), new Set())).to.equal(true); // Sunday
    expect(isHoliday(at('2026-03-09', '10:00'), new Set())).to.equal(false);
    expect(isHoliday(at('2026-02-27', '10:00'), new Set(['2026-02-27']))).to.equal(true);
  });
  it('volume spike: a day above 3 × the clerk\'s own median daily count', () => {
    expect(median([1, 2, 3])).to.equal(2);
    expect(median([1, 2, 3, 10])).to.equal(2.5);
    expect(spikeDays(new Map([['a', 2], ['b', 2], ['c', 2], ['d', 7]]))).to.deep.equal(['d']);
    expect(spikeDays(new Map([['a', 2], ['b', 2], ['c', 6]]))).to.deep.equal([]);
    expect(taipeiDayIndex(at('2026-03-04', '00:00'))).to.equal(taipeiDayIndex(at('2026-03-04', '23:59')));
    expect(taipeiDayIndex(at('2026-03-05', '00:00'))).to.equal(taipeiDayIndex(at('2026-03-04', '23:59')) + 1);
  });
});

describe('check deadlines and verdicts', () => {
  it('a check is overdue after the end of the month following its period', () => {
    expect(dueAt('2026-03')).to.equal(startOfLocalDay('2026-05-01'));
    expect(dueAt('2026-12')).to.equal(startOfLocalDay('2027-02-01'));
    expect(isOverdue('2026-03', 'open', startOfLocalDay('2026-04-30'))).to.equal(false);
    expect(isOverdue('2026-03', 'open', startOfLocalDay('2026-05-01'))).to.equal(true);
    expect(isOverdue('2026-03', 'signed-off', startOfLocalDay('2026-06-01'))).to.equal(false);
  });
  it('only proper and improper settle an item', () => {
    expect(isSettled('proper')).to.equal(true);
    expect(isSettled('improper')).to.equal(true);
    expect(isSettled('explanation-needed')).to.equal(false);
    expect(isSettled(null)).to.equal(false);
  });
  it('eligible checkers: 股長 or higher; 科長 or higher where the agency has no sections', () => {
    expect(eligibleCheckerRank('section_chief', true)).to.equal(true);
    expect(eligibleCheckerRank('staff', true)).to.equal(false);
    expect(eligibleCheckerRank('section_chief', false)).to.equal(false);
    expect(eligibleCheckerRank('division_chief', false)).to.equal(true);
  });
});
