// Plain rules of the to-do list (待辦事項): the kinds of duty, their labels, when each falls due
// and how the list is ordered. No database, no Express.
import { addDays, localDate } from '../time.ts';
import { dueAt as checkDueAt } from '../checks/rules.ts';
import { filingDeadline } from '../audits/rules.ts';

export const TODO_KINDS = [
  'query-request', 'account-request', 'account-execute', 'check-items', 'check-sign-off', 'explanation', 'unlogged-explanation',
  'review-items', 'disable-due', 'internal-audit', 'link-review', 'filing', 'filing-acknowledge', 'investigation', 'destruction', 'password-expiry',
] as const;
export type TodoKind = (typeof TODO_KINDS)[number];

/** What the person is asked to do, in the rules' terms (clause in brackets for the reader of the code). */
export const TODO_LABELS: Record<TodoKind, string> = {
  'query-request': '核定查詢申請單', // 4(一)1
  'account-request': '核定帳號申請', // 3(二)1(1)
  'account-execute': '辦理已核定之帳號申請', // 3(二)1(1)
  'check-items': '判定抽查項目', // 5(一)
  'check-sign-off': '簽核月查核', // 5(一)
  explanation: '說明被抽查之查詢', // 5(一)(二)
  'unlogged-explanation': '說明未登錄之查詢（對帳）', // 5(一)(二), issue 16
  'review-items': '決定帳號清查結果', // 3(二)2
  'disable-due': '帳號預定停用', // 3(二)1(6)(7)
  'internal-audit': '辦理半年內部稽核', // 5(三)
  'link-review': '辦理連線年度檢討', // 4(二)3
  filing: '年度報府備查', // 5(五)
  'filing-acknowledge': '確認機關年度報府', // 5(五)
  investigation: '參與異常調查', // 5(二)
  destruction: '核准查詢日誌銷毀目錄', // 4(一)4, 4(二)
  'password-expiry': '變更密碼', // 3(二)1(5)
};

export interface Todo {
  kind: TodoKind;
  /** What to do, in Traditional Chinese (never a subject's identifier, name or mask). */
  title: string;
  /** How many records the duty covers (items of one check, forms waiting…). */
  count: number;
  /** The last day to do it ('YYYY-MM-DD', Taipei), or null where the rules set no deadline. */
  due: string | null;
  /** The page where it is done. */
  href: string;
  /** What the duty is about, for mail and reminders: a check id, an audit period… (no personal data). */
  ref: string;
}

/** Days ahead a disable or an expiring password is shown. */
export const SOON_DAYS = 14;
/** Days before the end of a half-year (5(三)) or year (4(二)3) from which the duty is shown. */
export const AUDIT_LEAD_DAYS = 60;
export const LINK_REVIEW_LEAD_DAYS = 60;

/** A month's check is signed off by the end of the following month: its last day. */
export const checkDueDate = (period: string): string => localDate(checkDueAt(period) - 1);

/** The annual filing of `year` is due by the end of January of the next year (5(五)). */
export const filingDueDate = (year: number): string => localDate(filingDeadline(year) - 1);

/** A half-year 'YYYY-H1' ends on 30 June, 'YYYY-H2' on 31 December. */
export const halfDueDate = (half: string): string => `${half.slice(0, 4)}-${half.endsWith('H1') ? '06-30' : '12-31'}`;
export const halfOfDate = (date: string): string => `${date.slice(0, 4)}-H${Number(date.slice(5, 7)) <= 6 ? 1 : 2}`;
export const previousHalf = (half: string): string => (half.endsWith('H2') ? `${half.slice(0, 4)}-H1` : `${Number(half.slice(0, 4)) - 1}-H2`);

/** Is a duty due on `due` shown today: overdue, or within `lead` days of the due date. */
export const shownFrom = (due: string, today: string, lead: number): boolean => today >= addDays(due, -lead);

/** The day a password set at `changedAt` must be changed by (the policy's maximum age). */
export const passwordDueDate = (changedAt: number, maxAgeDays: number): string => localDate(changedAt + maxAgeDays * 86_400_000);

export const isOverdue = (t: Pick<Todo, 'due'>, today: string): boolean => t.due != null && t.due < today;

/** Overdue first, then by due date (none last), then by kind order: the most urgent on top. */
export function sortTodos(list: Todo[]): Todo[] {
  const order = new Map(TODO_KINDS.map((k, i) => [k, i]));
  return [...list].sort((a, b) => (a.due ?? '9999').localeCompare(b.due ?? '9999') || order.get(a.kind)! - order.get(b.kind)! || a.ref.localeCompare(b.ref));
}
