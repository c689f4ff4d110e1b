// Plain rules of mail (issue 18): what a header may hold, the back-off between delivery attempts,
// and the text of each message in Traditional Chinese. A message says what to do, by when and
// where; it never carries a subject's identifier, name or mask (the to-do list holds none).
import { rocDate } from '../time.ts';
import type { Todo } from '../todos/rules.ts';

/** Header text: control characters (CR, LF, tab, NUL…) become spaces, so no header can be injected; at most `max` characters. */
export const headerText = (s: string, max = 150): string => s.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim().slice(0, max);

/** One plain address, nothing around it: what the outbox sends to. */
export const isAddress = (s: string | null | undefined): s is string => !!s && s.length <= 254 && /^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/.test(s);

/** Minutes to wait after `attempts` failed attempts: 1, 2, 4 … capped at 6 hours (12 attempts ≈ 1 day). */
export const backoffMs = (attempts: number): number => Math.min(2 ** Math.max(0, attempts - 1), 360) * 60_000;

/** A claim on an outbox row lasts this long: far longer than one SMTP exchange (nodemailer's timeouts are shorter). */
export const LEASE_MS = 5 * 60_000;

export interface Message { subject: string; body: string }

const SUBJECT_PREFIX = '【健保查詢稽核】';
const link = (base: string, href: string) => `${base.replace(/\/+$/, '')}${href}`;
const dueText = (due: string | null) => (due ? rocDate(due) : '（規定未訂期限，請儘速辦理）');
const FOOTER = '\n\n此信由系統自動寄出，請勿直接回覆。內容不含被查詢者之任何資料；詳情請登入系統查看。';

/** A reminder before (or on) a duty's due date. */
export function reminderMessage(t: Todo, base: string, overdue: boolean): Message {
  return {
    subject: headerText(`${SUBJECT_PREFIX}${overdue ? '已逾期：' : '待辦提醒：'}${t.title}`),
    body: `您有一項待辦事項${overdue ? '已逾期' : '即將到期'}：\n\n事項：${t.title}${t.count > 1 ? `（${t.count} 件）` : ''}\n期限：${dueText(t.due)}\n辦理網址：${link(base, t.href)}${FOOTER}`,
  };
}

/** Several reminders in one daily mail (the person's preference). */
export function digestMessage(list: Array<{ todo: Todo; overdue: boolean }>, base: string): Message {
  const lines = list.map(({ todo: t, overdue }) => `・${t.title}${t.count > 1 ? `（${t.count} 件）` : ''}，期限 ${dueText(t.due)}${overdue ? '（已逾期）' : ''}\n  ${link(base, t.href)}`);
  return { subject: headerText(`${SUBJECT_PREFIX}今日待辦彙整（${list.length} 項）`), body: `您今日的待辦事項：\n\n${lines.join('\n')}${FOOTER}` };
}

/** To the unit head and the agency admin (or the planning department for a filing): someone's duty is overdue. */
export function escalationMessage(t: Todo, who: { account: string; name: string }, unitName: string, base: string): Message {
  return {
    subject: headerText(`${SUBJECT_PREFIX}逾期通知：${unitName} ${t.title}`),
    body: `下列待辦事項已逾期，請督促辦理：\n\n單位：${unitName}\n承辦人：${who.name}（${who.account}）\n事項：${t.title}${t.count > 1 ? `（${t.count} 件）` : ''}\n期限：${dueText(t.due)}\n辦理網址：${link(base, t.href)}${FOOTER}`,
  };
}

/** To the ethics unit (政風), as it happens. `what` is the alert's label; `account` the staff account concerned. */
export function alertMessage(what: string, account: string | null, unitName: string | null, at: string, base: string, href = '/alerts'): Message {
  return {
    subject: headerText(`${SUBJECT_PREFIX}安全警示：${what}`),
    body: `系統偵測到下列事件，請政風單位查處：\n\n事件：${what}\n時間：${at}\n帳號：${account ?? '（系統）'}\n單位：${unitName ?? '（全縣）'}\n詳情：${link(base, href)}${FOOTER}`,
  };
}

/** To the account's owner (資通系統防護基準: unusual sign-ins): a sign-in from an address not seen before, or a lockout. */
export function signInMessage(kind: 'new-address' | 'lockout', address: string | null, at: string, base: string): Message {
  const where = address ? headerText(address, 64) : '（不明）';
  return kind === 'new-address'
    ? { subject: headerText(`${SUBJECT_PREFIX}新位址登入通知`), body: `您的帳號於 ${at} 自未曾使用過的位址 ${where} 登入。\n如非本人操作，請立即變更密碼並通知系統管理者與政風單位。\n變更密碼：${link(base, '/password')}${FOOTER}` }
    : { subject: headerText(`${SUBJECT_PREFIX}帳號鎖定通知`), body: `您的帳號於 ${at} 因自位址 ${where} 連續登入失敗而暫時鎖定。\n如非本人操作，請通知系統管理者與政風單位。${FOOTER}` };
}
