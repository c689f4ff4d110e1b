// Plain rules of the to-do list and mail (issue 18).
import { expect } from 'chai';
import { checkDueDate, filingDueDate, halfDueDate, halfOfDate, previousHalf, shownFrom, sortTodos, type Todo } from '../../server/todos/rules.ts';
import { backoffMs, headerText, isAddress, reminderMessage } from '../../server/mail/rules.ts';

describe('to-do and mail rules', () => {
  it("computes the rules' due dates", () => {
    expect(checkDueDate('2025-11')).to.equal('2025-12-31');
    expect(checkDueDate('2025-12')).to.equal('2026-01-31');
    expect(filingDueDate(2025)).to.equal('2026-01-31');
    expect(halfDueDate('2026-H1')).to.equal('2026-06-30');
    expect(halfOfDate('2026-07-01')).to.equal('2026-H2');
    expect(previousHalf('2026-H1')).to.equal('2025-H2');
    expect(shownFrom('2026-12-31', '2026-11-01', 60)).to.equal(true);
    expect(shownFrom('2026-12-31', '2026-10-31', 60)).to.equal(false);
  });
  it('puts the earliest due first and duties without a deadline last', () => {
    const t = (kind: Todo['kind'], due: string | null): Todo => ({ kind, due, title: kind, count: 1, href: '/', ref: kind });
    expect(sortTodos([t('query-request', null), t('filing', '2026-01-31'), t('check-sign-off', '2025-12-31')]).map((x) => x.kind)).to.deep.equal(['check-sign-off', 'filing', 'query-request']);
  });
  it('keeps header text on one line and accepts one plain address only', () => {
    expect(headerText('a\r\nBcc: x@y\tz\u2028w')).to.equal('a Bcc: x@y z w');
    expect(isAddress('clerk@county.gov.tw')).to.equal(true);
    for (const bad of ['a@b.tw\r\nBcc: c@d.tw', 'a@b', 'Name <a@b.tw>', 'a@b.tw,c@d.tw', '', null]) expect(isAddress(bad as any), String(bad)).to.equal(false);
  });
  it('backs off 1, 2, 4 … minutes up to 6 hours', () => {
    expect([1, 2, 3, 10, 20].map((a) => backoffMs(a) / 60_000)).to.deep.equal([1, 2, 4, 360, 360]);
  });
  it('writes a reminder in Traditional Chinese with the ROC due date and the link', () => {
    const m = reminderMessage({ kind: 'filing', title: '114 年度報府備查', count: 1, due: '2026-01-31', href: '/audits/annual', ref: '2025' }, 'https://audit.example/', false);
    expect(m.subject).to.equal('【健保查詢稽核】待辦提醒：114 年度報府備查');
    expect(m.body).to.include('民國 115 年 1 月 31 日').and.include('https://audit.example/audits/annual');
  });
});
