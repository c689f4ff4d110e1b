// The rules of clause 4(一) as plain functions (no database, no Express): what makes a case
// number and reason meaningful, when a query request form (申請單) covers an entry, who may decide
// a form, and which entries a role may see.
import type { Role } from '../accounts/roles.ts';
import { textProblem } from '../text.ts';
import type { Reach } from '../accounts/reach.ts';

/** At most this many entries in one API call (all or nothing). */
export const MAX_BATCH = 500;

/**
 * Words people type to get past a required field. Compared after trimming, lower-casing and
 * removing spaces and punctuation.
 */
const PLACEHOLDERS = new Set([
  'test', 'testing', 'tst', 'xxx', 'xx', 'x', 'abc', 'asdf', 'qwer', 'aaa', 'na', 'n/a', 'none', 'null', 'nil', 'no', 'ok', 'tbd', 'todo', 'temp', 'tmp', 'dummy', 'sample', 'foo', 'bar', 'demo',
  '查詢', '查', '查詢用', '查資料', '業務', '業務需要', '業務查詢', '無', '無案號', '沒有', '略', '同上', '如上', '詳如上', '測試', '測', '試', '其他', '一般', '需要', '公務', '公事', '資料', '空白', '不詳', '待補', '補', '暫無',
]);

/** Removes whitespace and punctuation (ASCII and CJK, including …) for placeholder comparisons. */
export const bare = (s: string): string => s.normalize('NFKC').toLowerCase().replace(/[\s\p{P}\p{S}]+/gu, '');

/** True for text that carries no meaning: blank, only punctuation, a placeholder, one repeated character. */
export function isPlaceholder(s: string): boolean {
  const b = bare(s);
  if (!b) return true;
  if (PLACEHOLDERS.has(b)) return true;
  if (PLACEHOLDERS.has(s.normalize('NFKC').trim().toLowerCase())) return true;
  const chars = [...b];
  if (chars.length >= 2 && chars.every((c) => c === chars[0])) return true; // xxxx, 0000, 。。。 (after bare: none)
  return false;
}

/** Code-point length, so 4 Chinese characters count as 4. */
export const textLength = (s: string): number => [...s.trim()].length;

/** Message (zh-TW) when the case number (案號) is not acceptable; null when it is. */
export function caseNoProblem(caseNo: string, pattern: string | null | undefined): string | null {
  const v = caseNo.trim();
  if (!v) return '請輸入案號';
  if ([...v].length > 64) return '案號最多 64 字';
  const tp = textProblem(v);
  if (tp) return `案號${tp}`;
  if (isPlaceholder(v)) return '案號不可為空白或「test」「無」「xxx」等代用字';
  if (pattern) {
    const re = compilePattern(pattern);
    if (re && !re.test(v)) return `案號格式不符本機關規定（${pattern}）`;
  }
  return null;
}

/** The agency's case-number pattern as an anchored regular expression; null when it does not compile. */
export function compilePattern(pattern: string): RegExp | null {
  try {
    return new RegExp(`^(?:${pattern})$`, 'u');
  } catch {
    return null;
  }
}

/** Message (zh-TW) when the reason (查詢事由) is not acceptable; null when it is. */
export function reasonProblem(reason: string, minLength: number, label = '查詢事由'): string | null {
  const v = reason.trim();
  if (!v) return `請輸入${label}`;
  if ([...v].length > 500) return `${label}最多 500 字`;
  const tp = textProblem(v, { multiline: true });
  if (tp) return `${label}${tp}`;
  if (isPlaceholder(v)) return `${label}不可為「查詢」「無」「test」「…」等代用字，請具體說明`;
  if ([...bare(v)].length < minLength) return `${label}至少 ${minLength} 字，請具體說明查詢目的`;
  return null;
}

export interface RequestForm {
  id: number;
  requester_id: number;
  unit_id: number;
  scope_code: string;
  status: string;
  valid_from: string;
  valid_to: string;
  /** The form's 案號: an entry under the form carries it. */
  case_no?: string;
}

/**
 * Message when the query request form cannot cover an entry by `userId` in `scope` on `today`
 * (Taipei date); null when it covers it. The form must be the clerk's own, approved, within its
 * validity period and for the same business scope.
 */
export function requestFormProblem(form: RequestForm | undefined, userId: number, scope: string, today: string): string | null {
  if (!form) return '查無此申請單';
  if (Number(form.requester_id) !== Number(userId)) return '申請單非本人所提出';
  if (form.status === 'pending') return '申請單尚未經單位主管核准';
  if (form.status !== 'approved') return '申請單未獲核准或已撤回';
  if (today < form.valid_from) return `申請單自 ${form.valid_from} 起生效，尚未生效`;
  if (today > form.valid_to) return `申請單已於 ${form.valid_to} 到期`;
  if (form.scope_code !== scope) return `申請單的業務範圍為 ${form.scope_code}，與本次查詢不同`;
  return null;
}

/**
 * Message when an entry filed under one of the clerk's request forms carries the 案號 of another of
 * their forms: switching forms on the entry page once left form 4's case number under form 5, which
 * ties the query to the wrong case. `ownForms` are the clerk's forms that carry the typed 案號.
 */
export function formCaseNoProblem(form: RequestForm | undefined, caseNo: string, ownForms: readonly RequestForm[]): string | null {
  if (!form || form.case_no == null) return null;
  const v = caseNo.trim();
  if (v === form.case_no.trim()) return null;
  // The clerk's approved forms are the ones the entry page offers (a pending or withdrawn one is no case yet).
  const other = ownForms.find((f) => f.id !== form.id && f.status === 'approved' && (f.case_no ?? '').trim() === v);
  return other ? `案號 ${v} 屬於申請單第 ${other.id} 號；依申請單第 ${form.id} 號查詢，案號應為 ${form.case_no}` : null;
}

/** Validity period of a new form: ISO dates, to ≥ from, from not in the past, at most 1 year. */
export function validityProblem(from: string, to: string, today: string): { field: 'validFrom' | 'validTo'; message: string } | null {
  if (from < today) return { field: 'validFrom', message: '生效日不可早於今日' };
  if (to < from) return { field: 'validTo', message: '到期日不可早於生效日' };
  const [y, m, d] = from.split('-').map(Number);
  const limit = `${y + 1}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
  if (to > limit) return { field: 'validTo', message: '有效期間最長一年' };
  return null;
}

/**
 * A supervisor may decide a form filed in their own unit or below it, within the same agency,
 * never their own form (clause 4(一)1).
 */
export function deciderProblem(opts: { deciderId: number; deciderRoles: readonly Role[]; requesterId: number; requestUnitInDeciderSubtree: boolean; sameAgency: boolean; status: string }): { status: 403 | 409; message: string } | null {
  if (!opts.deciderRoles.includes('supervisor')) return { status: 403, message: '僅單位主管可核定申請單' };
  if (opts.deciderId === opts.requesterId) return { status: 403, message: '不可核定本人提出的申請單' };
  if (!opts.requestUnitInDeciderSubtree || !opts.sameAgency) return { status: 403, message: '僅能核定本機關（本單位及所屬單位）的申請單' };
  if (opts.status !== 'pending') return { status: 409, message: '此申請單已核定，不可重複核定' };
  return null;
}

/** Who sees which entries, before ethics investigations are added. */
export interface Visibility {
  /** Everything (planning department, auditors). */
  all: boolean;
  /** Entries recorded in these units. */
  unitIds: number[];
  /** Entries recorded by these users (a clerk's own). */
  userIds: number[];
  /** Entries within a unit set and time range (ethics investigations). */
  ranges: Array<{ unitIds: number[]; from?: number; to?: number; userIds?: number[] }>;
}

export const NOBODY: Visibility = { all: false, unitIds: [], userIds: [], ranges: [] };

/**
 * Clause 4(一)2–3, need to know: a clerk sees their own entries; supervisors and checkers their
 * unit's subtree within their reach; auditors their reach (their agency and what lies under it,
 * the county only for the planning department's, see accounts/reach.ts); county-wide offices
 * everything. Ethics staff are added by `ethicsScope` (investigations).
 */
export function baseVisibility(actor: { id: number; roles: readonly Role[] }, reach: Reach, subtree: number[]): Visibility {
  const v: Visibility = { all: false, unitIds: [], userIds: [], ranges: [] };
  if (reach.countyWide) v.all = true;
  const inReach = new Set(reach.unitIds);
  const units = new Set<number>();
  if (actor.roles.includes('auditor')) for (const id of reach.unitIds) units.add(id);
  if (actor.roles.includes('supervisor') || actor.roles.includes('checker')) for (const id of subtree) if (inReach.has(id)) units.add(id);
  if (!v.all) v.unitIds = [...units];
  if (actor.roles.includes('clerk')) v.userIds = [actor.id];
  return v;
}

/** Roles whose office includes seeing a subject in full (each within its own limits below). */
export const REVEALING_ROLES: readonly Role[] = ['auditor', 'planning_admin', 'ethics'];

/**
 * Who may see a subject in full (and only with the display recorded as an event): auditors and
 * planning admins within their reach, ethics staff within their investigations.
 */
export function mayRevealSubject(actor: { roles: readonly Role[] }, within: { reach: boolean; investigation: boolean }): boolean {
  if ((actor.roles.includes('auditor') || actor.roles.includes('planning_admin')) && within.reach) return true;
  if (actor.roles.includes('ethics') && within.investigation) return true;
  return false;
}

/**
 * Searching by a person's identifier is a reveal-class act: only the revealing roles may do it,
 * and only over entries they may reveal (auditors and planning admins: their reach; ethics staff:
 * their investigations, or the county when county-wide).
 */
export const maySearchBySubject = (roles: readonly Role[]): boolean => roles.some((r) => REVEALING_ROLES.includes(r));

/** Visibility for a search by subject: the part of `v` the person may reveal. */
export function subjectSearchVisibility(actor: { roles: readonly Role[] }, reach: Reach, v: Visibility): Visibility {
  if (!maySearchBySubject(actor.roles)) return { ...NOBODY, unitIds: [], userIds: [], ranges: [] };
  if (reach.countyWide) return { ...NOBODY, all: true };
  const auditing = actor.roles.includes('auditor') || actor.roles.includes('planning_admin');
  return { all: false, unitIds: auditing ? [...reach.unitIds] : [], userIds: [], ranges: actor.roles.includes('ethics') ? v.ranges : [] };
}

/** The retention cut-off day: entries queried before this Taipei date are purged. */
export function retentionCutoffDate(today: string, years: number): string {
  const [y, m, d] = today.split('-').map(Number);
  // 29 February becomes 28 February in a non-leap target year.
  const ty = y - years;
  const leap = (ty % 4 === 0 && ty % 100 !== 0) || ty % 400 === 0;
  const day = m === 2 && d === 29 && !leap ? 28 : d;
  return `${ty}-${String(m).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}
