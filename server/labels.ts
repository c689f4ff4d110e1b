// The words people read for the system's keys, in one place (issue 17): pages, workbooks and mail
// take them from here, so a verdict reads 「不當」 on the screen and in the annual workbook alike.
// The API keeps the keys. test/integration/labels.test.ts fails when a key has no label here.
import type { Verdict, FlagRule } from './checks/rules.ts';
import type { Role, Rank } from './accounts/roles.ts';
import type { FindingKind } from './accounts/review.ts';
import { rocDateTime, rocMonth, rocShort } from './time.ts';

export const VERDICT_LABELS: Record<Verdict, string> = { proper: '適當', improper: '不當', 'explanation-needed': '請說明' };

export const FLAG_LABELS: Record<FlagRule, string> = {
  'after-hours': '非上班時間查詢',
  holiday: '週末或假日查詢',
  'shared-subject': '同一被查詢者由 3 位以上人員查詢',
  'volume-spike': '單日查詢量超過本人每日中位數 3 倍',
  'no-request': '無核准之申請單',
  'own-subject': '查詢本人資料',
  'watch-list': '被查詢者列於政風關注名單', // issue 18 (server/watchlist)
};

/** How a check item was drawn: random, a risk flag (flag:<rule>), or an unlogged query found by reconciliation. */
export const basisLabel = (basis: string): string =>
  basis === 'random' ? '隨機抽樣' : basis === 'unlogged' ? '未登錄（對帳）' : basis.startsWith('flag:') ? `風險：${FLAG_LABELS[basis.slice(5) as FlagRule] ?? '其他'}` : basis;

export const SUBJECT_LABELS: Record<string, string> = { 'national-id': '身分證統一編號', 'resident-certificate': '居留證統一證號', 'name-birthdate': '姓名及出生日期', other: '其他條件', batch: '批次查詢' };

/** How an entry reached the log (query_logs.source). */
export const CHANNEL_LABELS: Record<string, string> = { web: '網頁登錄', api: '系統介接' };

export const ROLE_LABELS: Record<Role, string> = {
  planning_admin: '計畫處管理者',
  admin: '機關管理者',
  clerk: '使用者（查詢人員）',
  supervisor: '單位主管',
  checker: '查核人員',
  auditor: '稽核人員',
  ethics: '政風人員',
  it: '資訊人員',
};

export const RANK_LABELS: Record<Rank, string> = {
  staff: '承辦人員',
  section_chief: '股長',
  division_chief: '科長',
  deputy_head: '副首長',
  head: '機關首長',
};

/** An account's status (users.status), as the account pages say it. */
export const USER_STATUS_LABELS: Record<string, string> = { pending: '待啟用', active: '使用中', disabled: '已停用' };

export const FINDING_LABELS: Record<FindingKind, string> = {
  'idle': '閒置帳號（逾期未登入）',
  'never-activated': '未啟用帳號（啟用碼逾期）',
  'duplicate-person': '同一人持有多個帳號',
  'directory-missing': '目錄帳號已不存在或已停用',
  'password-expired': '密碼逾期未變更',
  'disable-overdue': '預定停用日已過仍未停用',
  'after-hours-login': '非上班時間登入',
  'shared-address': '多個帳號自同一位址登入',
  'concurrent-session': '同一帳號自不同位址同時使用',
};

/** An account request's kind and status (account_requests.kind, .status). */
export const REQUEST_KIND_LABELS: Record<string, string> = { new: '帳號新增', change: '權限異動', disable: '帳號停用', handover: '管理者交接' };
export const REQUEST_STATUS_LABELS: Record<string, string> = { pending: '待核定', approved: '已核可待配賦', rejected: '已駁回', done: '已完成' };

/** A monthly check's status (checks.status). */
export const CHECK_STATUS_LABELS: Record<string, string> = { open: '查核中', 'signed-off': '已簽核', superseded: '已重新抽樣' };
/** What an audit record is (audit_records.kind). */
export const AUDIT_KIND_LABELS: Record<string, string> = { investigation: '異常調查', 'internal-audit': '內部稽核', other: '其他' };
/** An internal audit's checklist result. */
export const CHECKLIST_RESULT_LABELS: Record<string, string> = { pass: '符合', fail: '不符合', na: '不適用' };

/** What a system event records (events.action). */
export const EVENT_ACTION_LABELS: Record<string, string> = {
  login: '登入', logout: '登出', 'logout-all': '登出所有連線', lockout: '帳號因登入失敗而鎖定', unlock: '解除鎖定', deny: '拒絕存取',
  activation: '啟用帳號', 'activation-issue': '核發啟用碼', 'password-change': '變更密碼', 'password-expired': '密碼逾期',
  'concurrent-session': '同時自不同位址使用', 'bootstrap-admin': '建立首位管理者', 'seed-demo-accounts': '建立示範帳號',
  'account-request': '提出帳號申請', 'account-request-decision': '核定帳號申請', 'provision-new': '配賦新帳號', 'provision-change': '配賦權限異動',
  'provision-disable': '停用帳號（依申請）', 'provision-handover': '管理者交接（依申請）', handover: '管理者交接', 'permission-change': '權限異動',
  'unit-create': '新增單位', 'unit-update': '修改單位', 'unit-move': '移動單位', 'unit-close': '裁撤單位', 'unit-scopes': '設定業務範圍',
  'account-review': '帳號清查', 'review-decision': '清查項目決定', 'job-run': '排程作業執行',
  'check-drawn': '抽選查核樣本', 'check-assign': '指派查核人員', 'check-verdict': '查核判定', 'check-verdict-remaining': '其餘項目判定為適當',
  'check-sign-off': '查核簽核', 'check-explanation': '查詢人員說明', 'check-correction': '更正查核結果', 'late-record': '補登未登錄查詢',
  'investigation-participant': '調查參與人員', 'investigation-note': '調查紀錄', 'investigation-conclude': '調查結案', 'audit-record-correction': '更正稽核紀錄',
  'internal-audit-opened': '開始內部稽核', 'internal-audit-saved': '儲存內部稽核', 'internal-audit-signed': '內部稽核簽核',
  'annual-filed': '報府備查', 'annual-filing-acknowledged': '報府備查已收件', 'link-reviewed': '連結作業年度檢視',
  'retained-data-registered': '登記留存資料', 'retained-data-destroyed': '銷毀留存資料',
  'export-started': '開始產製報表', 'export-finished': '報表產製完成', 'exports.pruned': '清除過期報表',
  'query-log.export': '匯出查詢日誌', 'query-log.subject-reveal': '顯示完整查詢條件', 'query-log.verify': '驗證查詢日誌',
  'query-log.subject-search': '依證號搜尋查詢紀錄', 'query-log.subject-search-throttled': '依證號搜尋超過每小時上限',
  'query-log.subject-mismatch': '查詢紀錄的查詢條件與紀錄不符（疑遭竄改）',
  'query-log.destruction': '銷毀查詢紀錄', 'query-log.destruction-prepare': '作成銷毀目錄', 'query-log.destruction-approve': '核准銷毀目錄',
  'query-log.destruction-void': '作廢銷毀目錄', 'query-request.file': '提出查詢申請單', 'query-request.approve': '核准查詢申請單', 'query-request.reject': '駁回查詢申請單',
  'reconcile.import': '對帳匯入', 'reconcile.import-withdrawn': '撤回對帳匯入', 'reconcile.link-set': '設定來源帳號對應', 'reconcile.link-removed': '移除來源帳號對應',
  'reconcile.mapping-created': '設定匯入欄位對應', 'reconcile.source-created': '新增對帳來源', 'reconcile.source-changed': '修改對帳來源', 'reconcile-run': '對帳',
  'service-token.create': '核發服務權杖', 'service-token.revoke': '撤銷服務權杖', 'subject-key.rotate': '更換查詢條件加密金鑰',
  'watch-list.add': '加入政風關注名單', 'watch-list.remove': '移出政風關注名單',
  'alert.chain-break': '查詢日誌或系統事件之雜湊鏈驗證失敗（疑遭竄改）', 'alert.unlogged': '對帳發現未登錄之查詢',
};

/** How it ended (events.outcome). */
export const OUTCOME_LABELS: Record<string, string> = { ok: '成功', denied: '拒絕', failed: '失敗' };

/** A label, or a neutral word: a key never reaches the page, even one added without its label. */
export const labelOf = (table: Record<string, string>, key: string | null | undefined, fallback = '其他'): string =>
  key == null || key === '' ? '' : table[key] ?? fallback;

/** Where an investigation note's evidence lies ('query_logs#6932'), in words; free text stays as typed. */
export function evidenceRefLabel(ref: string | null | undefined): string {
  if (!ref) return '';
  const m = /^(query_logs|source_records)#(\d+)$/.exec(ref);
  if (!m) return ref;
  return m[1] === 'query_logs' ? `查詢日誌第 ${m[2]} 筆` : `對帳來源紀錄第 ${m[2]} 筆（未登錄）`;
}

/** A title written before issue 17 with a western month in front ('2026-11 查核不當：…') reads in ROC. */
export const rocTitle = (title: string): string => title.replace(/^(\d{4})-(0[1-9]|1[0-2])\s*(?=查核)/, (_m, y, m) => rocMonth(`${y}-${m}`));

/** The words of an account-review item's detail keys. */
const DETAIL_LABELS: Record<string, string> = {
  lastLoginAt: '最後登入', days: '閒置天數上限', createdAt: '建立時間', passwordChangedAt: '密碼變更時間', disableOn: '預定停用日',
  accounts: '相關帳號', count: '次數', times: '時間', ip: '來源位址',
};
const isoInstant = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;
const detailValue = (k: string, x: unknown): string => {
  if (x == null) return k === 'lastLoginAt' ? '從未登入' : k === 'passwordChangedAt' ? '從未變更' : '無';
  if (Array.isArray(x)) return x.map((y) => detailValue(k, y)).join('、');
  if (typeof x === 'string' && isoInstant.test(x)) return rocDateTime(Date.parse(x));
  if (typeof x === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(x)) return rocShort(x);
  if (k === 'days') return `${x} 天`;
  return String(x);
};
/** An account-review item's detail ({lastLoginAt: null, days: 90}) as a person reads it: 「最後登入：從未登入；閒置天數上限：90 天」. */
export function reviewDetailText(detail: Record<string, unknown> | null | undefined): string {
  return Object.entries(detail ?? {}).map(([k, x]) => `${DETAIL_LABELS[k] ?? '其他'}：${detailValue(k, x)}`).join('；');
}
