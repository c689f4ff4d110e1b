// Plain rules of the audits capability (no database): half-year periods, retention, overdue
// destruction, filing deadlines and the internal-audit checklist.
import { addDays, localDate, startOfLocalDay } from '../time.ts';

/** 'YYYY-H1' | 'YYYY-H2'. */
export const isHalf = (p: string): boolean => /^\d{4}-H[12]$/.test(p);

/** The half-year's first day and the day after its last, and its months. */
export function halfRange(p: string): { from: string; to: string; months: string[] } {
  const y = Number(p.slice(0, 4));
  const first = p.endsWith('H1') ? 1 : 7;
  const months = Array.from({ length: 6 }, (_, i) => `${y}-${String(first + i).padStart(2, '0')}`);
  return { from: `${months[0]}-01`, to: first === 1 ? `${y}-07-01` : `${y + 1}-01-01`, months };
}

export function halfOf(date: string): string {
  return `${date.slice(0, 4)}-H${Number(date.slice(5, 7)) <= 6 ? 1 : 2}`;
}

/** null when an audit may be opened for the half-year today; else why not. */
export function halfProblem(p: string, today: string): string | null {
  if (!isHalf(p)) return '期間格式應為 YYYY-H1 或 YYYY-H2';
  if (halfRange(p).from > today) return '不可稽核尚未開始之半年度';
  if (Number(p.slice(0, 4)) < 2000) return '年度過早';
  return null;
}

/** Audit records are kept 5 years (clause 5(三)). */
export const keepUntil = (signedOn: string, years = 5): string => `${Number(signedOn.slice(0, 4)) + years}${signedOn.slice(4)}`;

/** A retained item is overdue when it is still kept after its destroy-by day. */
export const isOverdue = (item: { status: string; destroy_by: string }, today: string): boolean => item.status === 'retained' && item.destroy_by < today;

/** A month's check is on time when signed off by the end of the following month. */
export function checkOnTime(month: string, signedOffAt: number | null): boolean {
  if (signedOffAt == null) return false;
  const [y, m] = month.split('-').map(Number);
  const after = m >= 11 ? `${y + 1}-${String(m - 10).padStart(2, '0')}` : `${y}-${String(m + 2).padStart(2, '0')}`;
  return signedOffAt < startOfLocalDay(`${after}-01`);
}

/** The filing deadline (clause 5(五)): before 1 February of the following year. */
export const filingDeadline = (year: number): number => startOfLocalDay(`${year + 1}-02-01`);
export const filedOnTime = (submittedAt: number | null | undefined, year: number): boolean => submittedAt != null && submittedAt < filingDeadline(year);

/** null when a report year is acceptable now; else the problem. */
export function yearProblem(year: number, nowMs: number): string | null {
  if (!Number.isInteger(year)) return '年度應為西元年，例如 2025';
  if (year < 2000) return '年度應為西元 2000 年以後（例如 2025，不是民國年）';
  if (year > Number(localDate(nowMs).slice(0, 4))) return '不可產製未來年度之報表';
  return null;
}

export type ItemResult = 'pass' | 'fail' | 'na';
export interface ChecklistItem {
  key: string;
  clause: string;
  label: string;
  /** What the system found, in words. */
  evidence: string;
  /** The system's own reading: ok, issue, or unknown (no data to judge). */
  system: 'ok' | 'issue' | 'unknown';
  result: ItemResult | null;
  note: string;
}

export interface Evidence {
  period: string;
  accountReview: { reviews: number; items: number; open: number; available: boolean };
  months: Array<{ month: string; entries: number; check: null | { status: string; signedOffAt: number | null; onTime: boolean; undecided: number } }>;
  openInvestigations: Array<{ id: number; title: string; openedAt: number }>;
  overdueDestructions: Array<{ id: number; caseNo: string; destroyBy: string; unit: string }>;
  chain: null | { status: string; finishedAt: number | null; ok: boolean | null; detail: string };
  expiredPasswords: Array<{ account: string; changedAt: number | null }>;
  disabledButActive: Array<{ account: string; problem: string }>;
  linkReviews: { year: number; total: number; reviewed: number };
}

/** The checklist drawn from the rules, with the system's evidence filled in. */
export function buildChecklist(e: Evidence): ChecklistItem[] {
  const item = (key: string, clause: string, label: string, evidence: string, system: ChecklistItem['system']): ChecklistItem => ({ key, clause, label, evidence, system, result: null, note: '' });
  const monthsWithEntries = e.months.filter((m) => m.entries > 0 || m.check);
  const unchecked = monthsWithEntries.filter((m) => !m.check || m.check.status !== 'signed-off');
  const late = monthsWithEntries.filter((m) => m.check && m.check.status === 'signed-off' && !m.check.onTime);
  const ar = e.accountReview;
  return [
    item('account-review', '三(二)2', '管理者已定期辦理帳號清查並逐筆處理',
      !ar.available ? '帳號清查資料表尚未建立' : ar.reviews === 0 ? '本期間未辦理帳號清查' : `清查 ${ar.reviews} 次，發現 ${ar.items} 筆，未處理 ${ar.open} 筆`,
      !ar.available ? 'unknown' : ar.reviews > 0 && ar.open === 0 ? 'ok' : 'issue'),
    item('monthly-checks', '五(一)', '每月列印查詢紀錄單並依比率抽查，按時完成',
      monthsWithEntries.length === 0 ? '本期間無查詢紀錄' : `${monthsWithEntries.length} 個月有查詢；未完成查核 ${unchecked.length} 個月${unchecked.length ? `（${unchecked.map((m) => m.month).join('、')}）` : ''}；逾期完成 ${late.length} 個月`,
      unchecked.length === 0 && late.length === 0 ? 'ok' : 'issue'),
    item('investigations', '五(二)', '查詢異常已會同政風及資訊單位調查並作成稽核紀錄',
      e.openInvestigations.length ? `尚未結案之調查 ${e.openInvestigations.length} 件` : '無未結案之調查', e.openInvestigations.length ? 'issue' : 'ok'),
    item('destruction', '四(二)1–2', '留存之健保資料已依期限銷毀並留有紀錄',
      e.overdueDestructions.length ? `逾期未銷毀 ${e.overdueDestructions.length} 件` : '無逾期未銷毀之資料', e.overdueDestructions.length ? 'issue' : 'ok'),
    item('chain', '四(一)4、六', '查詢日誌完整且未遭竄改（雜湊鏈驗證）',
      e.chain ? e.chain.detail : '尚無查詢日誌驗證紀錄', e.chain == null ? 'unknown' : e.chain.ok ? 'ok' : 'issue'),
    item('passwords', '三(二)1(5)', '密碼依規定定期變更',
      e.expiredPasswords.length ? `密碼逾期未變更之帳號 ${e.expiredPasswords.length} 個` : '無密碼逾期之帳號', e.expiredPasswords.length ? 'issue' : 'ok'),
    item('disabled', '三(二)1(6)(7)', '職務異動、離職人員帳號已停用',
      e.disabledButActive.length ? `異常 ${e.disabledButActive.length} 件：${e.disabledButActive.slice(0, 5).map((d) => `${d.account}（${d.problem}）`).join('、')}` : '無應停用而仍可使用之帳號', e.disabledButActive.length ? 'issue' : 'ok'),
    item('links', '四(二)3', '每年檢視健保資訊連結作業之使用情形',
      `${e.linkReviews.year} 年度已檢視 ${e.linkReviews.reviewed}／${e.linkReviews.total} 項業務範圍`, e.linkReviews.total === 0 || e.linkReviews.reviewed === e.linkReviews.total ? 'ok' : 'issue'),
  ];
}

/** Applies the auditor's results to a checklist, keeping the system's evidence. */
export function applyResults(list: ChecklistItem[], results: Record<string, { result: ItemResult | null; note: string }>): ChecklistItem[] {
  return list.map((i) => (results[i.key] ? { ...i, result: results[i.key].result, note: results[i.key].note } : i));
}

/** Sign-off needs a result on every item. Returns the keys still missing one. */
export const missingResults = (list: ChecklistItem[]): string[] => list.filter((i) => !i.result).map((i) => i.key);

export const todayPlus = (today: string, days: number): string => addDays(today, days);
