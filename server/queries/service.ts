// Query request forms, recording query log entries, searching and exporting them, service
// tokens, retention and key rotation (clause 4(一)). No Express here: routes call these.
import crypto from 'node:crypto';
import type { Config } from '../config.ts';
import type { Conn, Db } from '../db.ts';
import { now, localDate, localTimeSeconds, startOfLocalDay, addDays, isIsoDate, parseRocDate, ROC_DATE_HINT, rocShort } from '../time.ts';
import { CHANNEL_LABELS, SUBJECT_LABELS, labelOf } from '../labels.ts';
import { allUnits, agencyIn, subtreeOf, type UnitRow } from '../accounts/units.ts';
import { reachOf } from '../accounts/reach.ts';
import type { Role } from '../accounts/roles.ts';
import { isDisabledNow } from '../accounts/active.ts';
import { countEvents, recordEvent, SYSTEM_ACTOR, type EventActor } from '../events/service.ts';
import { Problem, forbidden, notFound, validation, type FieldError } from '../problem.ts';
import { appendEntries, type Appended, type EntryFields } from './chain.ts';
import { cipherKeyId, decryptSubject, encryptSubject, entryAad, guessSubjectType, isUnbound, keyId, maskSubject, matchesHmac, normalise, openEntrySubject, protectSubject, requestAad, SubjectCipherError, subjectHmac, subjectProblem, type Subject, type SubjectType } from './subject.ts';
import * as rules from './rules.ts';
import * as repo from './repo.ts';
import { sourceRecordAad } from '../reconcile/rules.ts';
import { ethicsRanges } from '../checks/ethics-scope.ts';
import type { Actor } from '../actor.ts';

export type Keys = Pick<Config, 'SUBJECT_HMAC_KEY' | 'subjectEncKey' | 'subjectEncKeyPrevious'>;
type Cfg = Pick<Config, 'SUBJECT_HMAC_KEY' | 'subjectEncKey' | 'subjectEncKeyPrevious' | 'REASON_MIN_LENGTH' | 'RETENTION_YEARS'>;
export type SearchCfg = Keys & Pick<Config, 'REASON_MIN_LENGTH' | 'SUBJECT_SEARCH_PER_HOUR'>;

const eventActor = (p: Actor): EventActor => ({ id: p.id, account: p.account, ip: p.ip ?? null });

export interface EntryInput {
  caseNo: string;
  reason: string;
  opCode: string;
  scope: string;
  queryRequestId?: number | null;
  subject: Subject;
  /** With a service token only: the clerk (of the token's unit) who made the query. */
  account?: string | null;
}

/** Who records: a signed-in clerk (the page or the API with a cookie) or an integration's token. */
export type Recorder =
  | { kind: 'session'; person: Actor; ip: string | null }
  | { kind: 'token'; token: { id: number; unitId: number; userId: number }; ip: string | null };

// ---------------------------------------------------------------------------------------------
// Visibility (clause 4(一)2–3)

/** Ethics staff see what their investigations cover (checks/ethics-scope.ts); other roles nothing extra. */
export function ethicsScope(conn: Conn, person: Actor): Promise<rules.Visibility['ranges']> {
  return person.roles.includes('ethics') ? ethicsRanges(conn, person.id) : Promise.resolve([]);
}

/** Which query log entries the person may see: call this from any capability listing entries. */
export async function visibleUnitsFor(conn: Conn, person: Actor, units?: UnitRow[]): Promise<rules.Visibility> {
  const all = units ?? (await allUnits(conn));
  const v = rules.baseVisibility({ id: person.id, roles: person.roles }, reachOf(all, person), subtreeOf(all, person.unitId));
  v.ranges = await ethicsScope(conn, person);
  return v;
}

/**
 * The units the log's unit filter offers: those whose entries the person may see (the county when
 * they see everything; a clerk's own unit for their own entries). Others would only ever list nothing.
 */
export async function filterUnitsFor(conn: Conn, person: Actor): Promise<Array<{ code: string; name: string }>> {
  const units = await allUnits(conn);
  const v = await visibleUnitsFor(conn, person, units);
  const ids = new Set([...v.unitIds, ...v.ranges.flatMap((r) => r.unitIds), ...(v.userIds.length ? [Number(person.unitId)] : [])]);
  return units.filter((u) => v.all || ids.has(Number(u.id))).sort((a, b) => a.code.localeCompare(b.code)).map((u) => ({ code: u.code, name: u.name }));
}

// ---------------------------------------------------------------------------------------------
// Recording (clause 4(一)1, 4(一)4)

const today = (): string => localDate(now());

/**
 * Validates and records entries in one transaction, all or nothing. Throws a 400 problem naming
 * each bad field (prefixed `entries.N.` for a batch) and stores nothing when any entry is bad.
 * Answers only after the transaction committed.
 */
export async function recordQueries(db: Db, cfg: Cfg, who: Recorder, inputs: EntryInput[], opts: { batch: boolean }): Promise<Appended[]> {
  return appendCommitted(db, await prepareEntries(db, cfg, who, inputs, opts));
}

/**
 * Validates entries and builds their rows, not yet appended (recordQueries appends them). A late
 * record (補登, checks/service.ts recordLate) passes the real query time as `queriedAt`: the request
 * form must then have been valid that day; when it was recorded is kept beside it, not here.
 */
export async function prepareEntries(db: Db, cfg: Cfg, who: Recorder, inputs: EntryInput[], opts: { batch: boolean; queriedAt?: number }): Promise<EntryFields[]> {
  const prefix = (i: number) => (opts.batch ? `entries.${i}.` : '');
  const errors: FieldError[] = [];
  const named = who.kind === 'token' ? [...new Set(inputs.map((e) => e.account).filter((a): a is string => !!a))] : [];
  const selfId = who.kind === 'session' ? who.person.id : who.token.userId;
  const formIds = [...new Set(inputs.map((e) => e.queryRequestId).filter((x): x is number => x != null))];
  const caseNos = [...new Set(inputs.filter((e) => e.queryRequestId != null).map((e) => String(e.caseNo ?? '').trim()))];
  const { units, users: found, perms, agencyScopes, settings, opCodes: ops, forms, formsByCaseNo } = await repo.recordingLookups(db, { userIds: [selfId], accounts: named, formIds, caseNos });
  const people = found.filter((u) => u.id === selfId);
  const namedPeople = found.filter((u) => named.includes(u.account));

  // Who made each query.
  const userFor: Array<repo.UserRow | undefined> = [];
  if (who.kind === 'session') {
    const [me] = people;
    inputs.forEach((e, i) => {
      if (e.account && e.account !== me?.account) errors.push({ field: `${prefix(i)}account`, message: '以登入身分記錄時不可指定其他帳號' });
      userFor.push(me);
    });
  } else {
    const tokenSubtree = subtreeOf(units, who.token.unitId);
    const byAccount = new Map(namedPeople.map((u) => [u.account, u]));
    const [serviceUser] = people;
    inputs.forEach((e, i) => {
      if (!e.account) return void userFor.push(serviceUser);
      const u = byAccount.get(e.account);
      if (!u || isDisabledNow(u) || !tokenSubtree.includes(u.unit_id)) {
        errors.push({ field: `${prefix(i)}account`, message: '帳號不是此服務權杖所屬單位（或所屬單位以下）的在職人員' });
        userFor.push(undefined);
      } else userFor.push(u);
    });
  }
  const agencyOfUser = new Map<number, UnitRow | undefined>();
  for (const u of userFor) if (u && !agencyOfUser.has(u.id)) agencyOfUser.set(u.id, agencyIn(units, u.unit_id));
  const day = opts.queriedAt != null ? localDate(opts.queriedAt) : today();

  inputs.forEach((e, i) => {
    const p = prefix(i);
    const u = userFor[i];
    const agency = u ? agencyOfUser.get(u.id) : undefined;
    const set = agency ? settings.get(Number(agency.id)) : undefined;
    const cn = rules.caseNoProblem(e.caseNo, set?.case_no_pattern);
    if (cn) errors.push({ field: `${p}caseNo`, message: cn });
    const rs = rules.reasonProblem(e.reason, cfg.REASON_MIN_LENGTH);
    if (rs) errors.push({ field: `${p}reason`, message: rs });
    if (!ops.has(e.opCode)) errors.push({ field: `${p}opCode`, message: '查無此查詢作業代號或已停用' });
    const sp = subjectProblem(e.subject);
    if (sp) errors.push({ field: `${p}subject.value`, message: sp });
    if (!u) {
      if (who.kind === 'session') errors.push({ field: `${p}account`, message: '帳號不存在或已停用' });
      return;
    }
    if (isDisabledNow(u)) errors.push({ field: `${p}account`, message: '帳號已停用' });
    if (!agency) {
      errors.push({ field: `${p}scope`, message: '所屬單位不在任何業務機關之下，無法記錄健保查詢' });
      return;
    }
    if (!agencyScopes.get(Number(agency.id))?.has(e.scope)) errors.push({ field: `${p}scope`, message: '業務範圍不在本機關核准的健保連線業務之內（或已停用）' });
    else if (ops.has(e.opCode) && !perms.get(u.id)?.has(`${e.scope}|${e.opCode}`)) {
      errors.push({ field: `${p}opCode`, message: '您的查詢權限不含此業務範圍下的查詢作業代號' });
    }
    if (e.queryRequestId != null) {
      const form = forms.get(Number(e.queryRequestId));
      const fp = rules.requestFormProblem(form, u.id, e.scope, day);
      if (fp) errors.push({ field: `${p}queryRequestId`, message: fp });
      const fc = rules.formCaseNoProblem(form, e.caseNo, formsByCaseNo.filter((f) => f.requester_id === u.id));
      if (fc && !cn) errors.push({ field: `${p}caseNo`, message: fc });
    } else if (set?.require_query_request) {
      errors.push({ field: `${p}queryRequestId`, message: '本機關規定查詢須依核准之申請單，請填申請單編號' });
    }
  });
  if (errors.length) throw validation(errors);

  const keys = { enc: cfg.subjectEncKey, hmac: cfg.SUBJECT_HMAC_KEY };
  const rows: EntryFields[] = inputs.map((e, i) => {
    const u = userFor[i]!;
    const queried_at = opts.queriedAt ?? now();
    return {
      user_id: u.id, account: u.account, unit_id: u.unit_id, queried_at, op_code: e.opCode, scope_code: e.scope,
      query_request_id: e.queryRequestId ?? null, case_no: e.caseNo.trim(), reason: e.reason.trim(), ...protectSubject(keys, e.subject, { user_id: u.id, queried_at }),
      client_ip: who.ip ? who.ip.slice(0, 64) : null, source: who.kind === 'token' ? 'api' : 'web', token_id: who.kind === 'token' ? who.token.id : null,
    };
  });
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Group commit: requests arriving while an append transaction is committing wait and are then
// appended together in the next transaction. Each request's rows stay together (all or nothing)
// and each is answered only after the transaction holding its rows committed. Without this every
// request would wait for the previous one's commit (the chain head is one locked row).

interface Job { rows: EntryFields[]; resolve: (a: Appended[]) => void; reject: (e: unknown) => void }
const queues = new WeakMap<Db, { jobs: Job[]; running: boolean }>();
const GROUP_MAX_ROWS = 2000;

export function appendCommitted(db: Db, rows: EntryFields[]): Promise<Appended[]> {
  let q = queues.get(db);
  if (!q) queues.set(db, (q = { jobs: [], running: false }));
  const queue = q;
  return new Promise<Appended[]>((resolve, reject) => {
    queue.jobs.push({ rows, resolve, reject });
    if (!queue.running) void drain(db, queue);
  });
}

async function drain(db: Db, q: { jobs: Job[]; running: boolean }): Promise<void> {
  q.running = true;
  try {
    while (q.jobs.length) {
      const group: Job[] = [];
      let n = 0;
      while (q.jobs.length && (group.length === 0 || n + q.jobs[0].rows.length <= GROUP_MAX_ROWS)) {
        const j = q.jobs.shift()!;
        group.push(j);
        n += j.rows.length;
      }
      try {
        const done = await db.transaction((trx) => appendEntries(trx, group.flatMap((j) => j.rows)));
        let at = 0;
        for (const j of group) {
          j.resolve(done.slice(at, at + j.rows.length));
          at += j.rows.length;
        }
      } catch (e) {
        if (group.length === 1) group[0].reject(e);
        else {
          // One request's rows must not fail another's: retry each on its own.
          for (const j of group) {
            try { j.resolve(await db.transaction((trx) => appendEntries(trx, j.rows))); } catch (e2) { j.reject(e2); }
          }
        }
      }
    }
  } finally {
    q.running = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Query request forms (申請單, clause 4(一)1)

export interface QueryRequestInput {
  caseNo: string;
  purpose: string;
  scope: string;
  validFrom: string;
  validTo: string;
  expectedSubjects?: Subject[];
}

export async function fileQueryRequest(db: Db, cfg: Cfg, person: Actor, input: QueryRequestInput): Promise<number> {
  if (!person.roles.includes('clerk')) throw forbidden('僅查詢人員可提出申請單');
  const errors: FieldError[] = [];
  // The same facts recording checks against, read the same way.
  const { units, settings, agencyScopes, perms } = await repo.recordingLookups(db, { userIds: [person.id], accounts: [], formIds: [] });
  const agency = agencyIn(units, person.unitId);
  const set = agency ? settings.get(Number(agency.id)) : undefined;
  const cn = rules.caseNoProblem(input.caseNo, set?.case_no_pattern);
  if (cn) errors.push({ field: 'caseNo', message: cn });
  const pp = rules.reasonProblem(input.purpose, cfg.REASON_MIN_LENGTH, '查詢目的');
  if (pp) errors.push({ field: 'purpose', message: pp });
  const scopes = agency ? agencyScopes.get(Number(agency.id)) : undefined;
  const mine = perms.get(person.id) ?? new Set<string>();
  if (!scopes?.has(input.scope)) errors.push({ field: 'scope', message: '業務範圍不在本機關核准的健保連線業務之內（或已停用）' });
  else if (![...mine].some((k) => k.startsWith(`${input.scope}|`))) errors.push({ field: 'scope', message: '您的查詢權限不含此業務範圍' });
  if (!isIsoDate(input.validFrom)) errors.push({ field: 'validFrom', message: `請輸入有效的生效日：${ROC_DATE_HINT}` });
  if (!isIsoDate(input.validTo)) errors.push({ field: 'validTo', message: `請輸入有效的到期日：${ROC_DATE_HINT}` });
  if (isIsoDate(input.validFrom) && isIsoDate(input.validTo)) {
    const vp = rules.validityProblem(input.validFrom, input.validTo, today());
    if (vp) errors.push(vp);
  }
  const subjects = input.expectedSubjects ?? [];
  if (subjects.length > 50) errors.push({ field: 'expectedSubjects', message: '預定查詢對象最多 50 筆' });
  subjects.forEach((s, i) => {
    const sp = subjectProblem(s);
    if (sp) errors.push({ field: `expectedSubjects.${i}.value`, message: sp });
  });
  if (errors.length) throw validation(errors);
  const scopeId = (await db('scopes').where({ code: input.scope }).first('id')).id;
  const createdAt = now();
  return db.transaction(async (trx) => {
    const id = await repo.insertQueryRequest(trx, {
      unit_id: person.unitId, requester_id: person.id, case_no: input.caseNo.trim(), purpose: input.purpose.trim(), scope_id: scopeId,
      // Expected subjects may be national IDs: only their ciphertext is stored, bound to this form.
      expected_subjects_cipher: subjects.length ? encryptSubject(cfg.subjectEncKey, JSON.stringify(subjects.map((s) => ({ type: s.type, value: normalise(s) }))), requestAad({ requester_id: person.id, created_at: createdAt })) : null,
      valid_from: input.validFrom, valid_to: input.validTo, status: 'pending', created_at: createdAt,
    });
    await recordEvent(trx, eventActor(person), { action: 'query-request.file', targetType: 'query_request', targetId: id, unitId: person.unitId, detail: { scope: input.scope, expectedSubjects: subjects.length } });
    return id;
  });
}

export async function decideQueryRequest(db: Db, person: Actor, id: number, input: { decision: 'approve' | 'reject'; note?: string | null }): Promise<void> {
  const form = await repo.queryRequestById(db, id);
  if (!form) throw notFound('查無此申請單');
  const units = await allUnits(db);
  const problem = rules.deciderProblem({
    deciderId: person.id, deciderRoles: person.roles, requesterId: Number(form.requester_id),
    requestUnitInDeciderSubtree: subtreeOf(units, person.unitId).includes(Number(form.unit_id)),
    sameAgency: agencyIn(units, person.unitId)?.id === agencyIn(units, Number(form.unit_id))?.id,
    status: form.status,
  });
  if (problem) throw problem.status === 403 ? forbidden(problem.message) : new Problem(409, 'already-decided', 'Conflict', problem.message);
  const note = input.note?.trim() || null;
  if (input.decision === 'reject' && !note) throw validation([{ field: 'note', message: '駁回時請說明理由' }]);
  await db.transaction(async (trx) => {
    const changed = await repo.decideQueryRequestRow(trx, id, { status: input.decision === 'approve' ? 'approved' : 'rejected', decided_by: person.id, decided_at: now(), decision_note: note });
    if (!changed) throw new Problem(409, 'already-decided', 'Conflict', '此申請單已核定，不可重複核定');
    await recordEvent(trx, eventActor(person), { action: `query-request.${input.decision}`, targetType: 'query_request', targetId: id, unitId: Number(form.unit_id) });
  });
}

export interface QueryRequestView {
  id: number; caseNo: string; purpose: string; scope: string; scopeTitle: string; unit: string; unitName: string; requester: string; requesterName: string;
  status: string; validFrom: string; validTo: string; open: boolean; decidedBy: string | null; decidedAt: string | null; note: string | null; createdAt: string; expectedSubjects: number;
}
export function queryRequestView(r: any, cfg?: Keys): QueryRequestView {
  const day = today();
  let expected = 0;
  if (r.expected_subjects_cipher && cfg) {
    try { expected = JSON.parse(decryptSubject(keyring(cfg), r.expected_subjects_cipher, requestAad(r))).length; } catch { expected = 0; }
  }
  return {
    id: Number(r.id), caseNo: r.case_no, purpose: r.purpose, scope: r.scope_code, scopeTitle: r.scope_title, unit: r.unit_code, unitName: r.unit_name,
    requester: r.requester_account, requesterName: r.requester_name, status: r.status, validFrom: r.valid_from, validTo: r.valid_to,
    open: r.status === 'approved' && r.valid_from <= day && day <= r.valid_to,
    decidedBy: r.decider_account ?? null, decidedAt: r.decided_at ? new Date(Number(r.decided_at)).toISOString() : null, note: r.decision_note ?? null,
    createdAt: new Date(Number(r.created_at)).toISOString(), expectedSubjects: expected,
  };
}

/**
 * Forms the person may see: their own; for supervisors those of their unit's subtree in their
 * reach; for auditors those within their reach (the county for county-wide offices).
 */
export async function listQueryRequests(db: Db, cfg: Keys, person: Actor, f: { status?: string; inbox?: boolean; mine?: boolean; open?: boolean; limit?: number }): Promise<{ items: QueryRequestView[]; total: number }> {
  const units = await allUnits(db);
  const reach = reachOf(units, person);
  const q = repo.queryRequestQuery(db);
  if (f.inbox) {
    if (!person.roles.includes('supervisor')) return { items: [], total: 0 };
    const agency = agencyIn(units, person.unitId);
    const inbox = subtreeOf(units, person.unitId).filter((id) => agency && agencyIn(units, id)?.id === agency.id);
    q.whereIn('r.unit_id', inbox.length ? inbox : [-1]).andWhere('r.status', 'pending').andWhereNot('r.requester_id', person.id);
  } else if (f.mine || !reach.countyWide) {
    const inReach = new Set(reach.unitIds);
    q.where((w: any) => {
      w.where('r.requester_id', person.id);
      if (f.mine) return;
      if (person.roles.includes('auditor')) w.orWhereIn('r.unit_id', reach.unitIds);
      if (person.roles.includes('supervisor')) w.orWhereIn('r.unit_id', subtreeOf(units, person.unitId).filter((id) => inReach.has(id)));
    });
  }
  if (f.status) q.where('r.status', f.status);
  if (f.open) { const d = today(); q.where('r.status', 'approved').andWhere('r.valid_from', '<=', d).andWhere('r.valid_to', '>=', d); }
  const rows = await q.orderBy('r.id', 'desc').limit(f.limit ?? 200);
  return { items: rows.map((r: any) => queryRequestView(r, cfg)), total: rows.length };
}

/** The person's approved forms open today, for the recording page. */
export async function openQueryRequestsOf(db: Db, cfg: Keys, userId: number): Promise<QueryRequestView[]> {
  const d = today();
  const rows = await repo.queryRequestQuery(db).where('r.requester_id', userId).andWhere('r.status', 'approved').andWhere('r.valid_from', '<=', d).andWhere('r.valid_to', '>=', d).orderBy('r.id', 'desc');
  return rows.map((r: any) => queryRequestView(r, cfg));
}

// ---------------------------------------------------------------------------------------------
// Listing, "who queried this person?", display of the full subject, export

export interface LogQuery {
  from?: string;
  to?: string;
  unit?: string;
  account?: string;
  opCode?: string;
  caseNo?: string;
  subjectId?: string;
  subjectType?: SubjectType;
  withoutRequest?: boolean;
}

/** Turns the query's strings into a repository filter; a bad value is a 400 naming the field. */
export async function toFilter(db: Conn, cfg: Keys, q: LogQuery): Promise<repo.LogFilter> {
  const errors: FieldError[] = [];
  const f: repo.LogFilter = {};
  const instant = (s: string, field: string, end: boolean): number | undefined => {
    // Pages send the ROC day as typed when it did not read (rocDateFields); the API sends ISO.
    const day = parseRocDate(s);
    if (day) return startOfLocalDay(end ? addDays(day, 1) : day);
    if (/^\d{4}-\d{2}-\d{2}T/.test(s) && !Number.isNaN(Date.parse(s))) return Date.parse(s);
    errors.push({ field, message: ROC_DATE_HINT });
    return undefined;
  };
  if (q.from) f.from = instant(q.from, 'from', false);
  if (q.to) f.to = instant(q.to, 'to', true);
  if (q.unit) {
    const units = await allUnits(db);
    const u = units.find((x) => x.code === q.unit || String(x.id) === q.unit);
    if (!u) errors.push({ field: 'unit', message: '查無此單位' });
    else f.unitIds = subtreeOf(units, Number(u.id));
  }
  if (q.account) f.account = q.account;
  if (q.opCode) f.opCode = q.opCode;
  if (q.caseNo) f.caseNo = q.caseNo.trim();
  if (q.withoutRequest) f.withoutRequest = true;
  if (q.subjectId) {
    const type: SubjectType = q.subjectType ?? guessSubjectType(q.subjectId);
    f.subjectHmac = subjectHmac(cfg.SUBJECT_HMAC_KEY, { type, value: q.subjectId });
    // A batch query (queries/batch.ts) holding the person counts as a query of them.
    f.batchEntryIds = await repo.batchEntriesWith(db, f.subjectHmac);
  }
  if (errors.length) throw validation(errors);
  return f;
}

export interface LogItem {
  id: number; seq: number; account: string; unit: string; unitName: string; queriedAt: string; queriedAtMs: number; opCode: string; scope: string; queryRequestId: number | null;
  caseNo: string; reason: string; subject: { type: string; masked: string }; clientIp: string | null; source: string; hash: string; flags: string[];
}
export function logItem(r: any): LogItem {
  return {
    id: Number(r.id), seq: Number(r.seq), account: r.account, unit: r.unit_code, unitName: r.unit_name, queriedAt: new Date(Number(r.queried_at)).toISOString(), queriedAtMs: Number(r.queried_at),
    opCode: r.op_code, scope: r.scope_code, queryRequestId: r.query_request_id == null ? null : Number(r.query_request_id), caseNo: r.case_no, reason: r.reason,
    subject: { type: r.subject_type, masked: r.subject_mask }, clientIp: r.client_ip ?? null, source: r.source, hash: r.hash,
    flags: r.query_request_id == null ? ['no-request'] : [],
  };
}

/**
 * The entries the person may see, filtered and paged; subjects masked. A person's identifier is
 * never a filter here: that search is reveal-class (`searchBySubject`), and a filter anyone could
 * use would let a mask be completed by trying its candidates.
 */
export async function searchLogs(db: Db, cfg: Keys, person: Actor, q: LogQuery, page: { offset: number; limit: number }): Promise<{ items: LogItem[]; total: number }> {
  const f = await plainFilter(db, cfg, q);
  const { rows, total } = await repo.listLogs(db, await visibleUnitsFor(db, person), f, page);
  return { items: rows.map(logItem), total };
}

export interface SubjectSearch extends Omit<LogQuery, 'subjectId' | 'subjectType'> {
  subjectType?: SubjectType;
  subjectId: string;
  /** Why the search is made (recorded with it, like a reveal). */
  purpose: string;
}

const HOUR = 3_600_000;
export const SUBJECT_SEARCH = 'query-log.subject-search';
export const SUBJECT_SEARCH_THROTTLED = 'query-log.subject-search-throttled';

/**
 * "Who queried this person?": a reveal-class act. Only revealing roles, only over the entries
 * they may reveal, each search with its stated purpose recorded, and at most
 * SUBJECT_SEARCH_PER_HOUR an hour per account; past that it is refused (429) and the ethics unit
 * alerted. The answer never tells "no entries" from "outside your reach": entries outside it are
 * simply not there.
 */
export async function searchBySubject(db: Db, cfg: SearchCfg, person: Actor, q: SubjectSearch, page: { offset: number; limit: number }): Promise<{ items: LogItem[]; total: number }> {
  const errors: FieldError[] = [];
  const sp = q.subjectId.trim() ? null : '請輸入被查詢者查詢條件';
  if (sp) errors.push({ field: 'subjectId', message: sp });
  const pp = rules.reasonProblem(q.purpose ?? '', cfg.REASON_MIN_LENGTH, '搜尋目的');
  if (pp) errors.push({ field: 'purpose', message: pp });
  if (errors.length) throw validation(errors);
  const f = await toFilter(db, cfg, { ...q, subjectId: q.subjectId });
  const units = await allUnits(db);
  const v = rules.subjectSearchVisibility(person, reachOf(units, person), await visibleUnitsFor(db, person, units));
  const type = q.subjectType ?? 'national-id';
  // The search runs on the pool (its count and page in parallel) while the account's lock is
  // taken and its searches counted, so parallel requests cannot slip past the limit and the lock
  // adds little to the answer's time. A refused search's result is thrown away unseen.
  const searching = repo.listLogs(db, v, f, page);
  searching.catch(() => undefined); // awaited below unless refused
  const found = await db.transaction(async (trx) => {
    await repo.lockAccount(trx, person.id);
    const since = now() - HOUR;
    const done = await countEvents(trx, { action: SUBJECT_SEARCH, actorId: person.id, since });
    if (done >= cfg.SUBJECT_SEARCH_PER_HOUR) {
      // One alert per account and hour (the event the ethics unit sees); the refusals go on.
      const alerted = await countEvents(trx, { action: SUBJECT_SEARCH_THROTTLED, actorId: person.id, since });
      if (!alerted) await recordEvent(trx, eventActor(person), { action: SUBJECT_SEARCH_THROTTLED, outcome: 'denied', targetType: 'user', targetId: person.id, unitId: person.unitId, detail: { limit: cfg.SUBJECT_SEARCH_PER_HOUR, searches: done } });
      return null;
    }
    const res = await searching;
    await recordEvent(trx, eventActor(person), { action: SUBJECT_SEARCH, targetType: 'subject', targetId: f.subjectHmac!.slice(0, 16), unitId: person.unitId, detail: { subject: maskSubject({ type, value: q.subjectId }), subjectType: type, purpose: q.purpose.trim(), results: res.total } });
    return res;
  });
  if (!found) throw new Problem(429, 'subject-search-throttled', 'Too Many Requests', `依證號搜尋每小時最多 ${cfg.SUBJECT_SEARCH_PER_HOUR} 次，請稍後再試；此事已通知政風單位。`);
  const { rows, total } = found;
  return { items: rows.map(logItem), total };
}

/** One entry, if the person may see it. */
export async function getLog(db: Db, person: Actor, id: number): Promise<LogItem> {
  const row = await repo.logById(db, id, await visibleUnitsFor(db, person));
  if (!row) throw notFound('查無此查詢紀錄，或您沒有檢視權限');
  return logItem(row);
}

const keyring = (cfg: Keys): Buffer[] => [cfg.subjectEncKey, ...(cfg.subjectEncKeyPrevious ? [cfg.subjectEncKeyPrevious] : [])];

/** Whether an entry lies within one of the person's ethics investigation ranges. */
function coveredBy(ranges: rules.Visibility['ranges'], row: any): boolean {
  return ranges.some((r) => r.unitIds.includes(Number(row.unit_id)) && (!r.userIds?.length || r.userIds.includes(Number(row.user_id)))
    && (r.from == null || Number(row.queried_at) >= r.from) && (r.to == null || Number(row.queried_at) < r.to));
}

/** Raised when an entry's ciphertext is not its own (an ethics alert). */
export const SUBJECT_MISMATCH = 'query-log.subject-mismatch';

/**
 * The full subject of an entry, for auditors, the planning department and ethics staff within an
 * investigation; the display is recorded as an event (never the plain value).
 */
export async function revealSubject(db: Db, cfg: Keys, person: Actor, id: number): Promise<{ type: string; value: string }> {
  const units = await allUnits(db);
  const row = await repo.logById(db, id);
  if (!row) throw notFound('查無此查詢紀錄');
  const ranges = await ethicsScope(db, person);
  const covered = coveredBy(ranges, row);
  const inReach = reachOf(units, person).unitIds.includes(Number(row.unit_id));
  if (!rules.mayRevealSubject(person, { reach: inReach, investigation: covered })) {
    await recordEvent(db, eventActor(person), { action: 'query-log.subject-reveal', outcome: 'denied', targetType: 'query_log', targetId: id });
    // Outside what the person may see at all, the entry does not exist for them.
    if (!(await repo.logById(db, id, await visibleUnitsFor(db, person, units)))) throw notFound('查無此查詢紀錄');
    throw forbidden('您沒有檢視完整查詢條件的權限');
  }
  // The ciphertext must open under this entry's identity and be the person its HMAC names: a
  // ciphertext swapped in from another entry is refused, never shown.
  let value: string | null = null;
  try {
    value = openEntrySubject(keyring(cfg), row);
  } catch (e) {
    if (!(e instanceof SubjectCipherError) || e.kind === 'no-key') throw e; // a missing key is the operator's to fix
  }
  if (value === null || !matchesHmac(cfg.SUBJECT_HMAC_KEY, row, value)) {
    await recordEvent(db, eventActor(person), { action: SUBJECT_MISMATCH, outcome: 'failed', targetType: 'query_log', targetId: id, unitId: Number(row.unit_id), detail: { seq: Number(row.seq), subject: row.subject_mask } });
    throw new Problem(409, 'subject-mismatch', 'Conflict', '此筆紀錄的查詢條件與紀錄內容不符，紀錄可能遭竄改，無法顯示；已通知政風單位，請洽資訊單位執行日誌驗證。');
  }
  await recordEvent(db, eventActor(person), { action: 'query-log.subject-reveal', targetType: 'query_log', targetId: id, unitId: Number(row.unit_id), detail: { subject: row.subject_mask } });
  return { type: row.subject_type, value };
}

/** The filter of the plain list and the export: a bad value is a 400 naming the field, and a person's identifier is no filter (reveal-class, see searchBySubject). */
export async function plainFilter(db: Conn, cfg: Keys, q: LogQuery): Promise<repo.LogFilter> {
  // The one answer, whoever asks.
  if (q.subjectId || q.subjectType) throw validation([{ field: 'subjectId', message: '依被查詢者證號搜尋須說明目的：請使用「誰查詢了此人」（POST /api/v1/query-logs/search）' }]);
  return toFilter(db, cfg, q);
}

export const EXPORT_HEADERS = ['編號', '序號', '帳號', '單位代碼', '單位', '查詢日期', '查詢時間', '查詢作業代號', '業務範圍', '申請單', '案號', '查詢事由', '查詢條件類型', '被查詢者查詢條件（遮罩）', '來源位址', '來源', '雜湊值'];

/**
 * Streams the filtered entries (masked subjects) as xlsx rows through `addRow`, paging by key,
 * and records the export as an event.
 */
export async function exportLogs(db: Db, cfg: Keys, person: Actor, q: LogQuery, addRow: (values: unknown[]) => Promise<void>): Promise<number> {
  const f = await plainFilter(db, cfg, q);
  const v = await visibleUnitsFor(db, person);
  let before: number | null = null;
  let n = 0;
  for (;;) {
    const rows = await repo.logPage(db, v, f, before, 2000);
    if (!rows.length) break;
    for (const r of rows) {
      const it = logItem(r);
      // People read this workbook: ROC day, Taipei time, and words for the subject type and channel.
      await addRow([it.id, it.seq, it.account, it.unit, it.unitName, rocShort(localDate(it.queriedAtMs)), localTimeSeconds(it.queriedAtMs),
        it.opCode, it.scope, it.queryRequestId ?? '', it.caseNo, it.reason, labelOf(SUBJECT_LABELS, it.subject.type), it.subject.masked, it.clientIp ?? '', labelOf(CHANNEL_LABELS, it.source), it.hash]);
      n++;
    }
    before = Number(rows[rows.length - 1].seq);
  }
  await recordEvent(db, eventActor(person), { action: 'query-log.export', targetType: 'query_log', detail: { filter: q, rows: n } });
  return n;
}

// ---------------------------------------------------------------------------------------------
// Service tokens (integrations)

export const TOKEN_PREFIX = 'nhiq_';
export const hashToken = (raw: string): string => crypto.createHash('sha256').update(raw).digest('hex');

/** Units an admin manages tokens for: everything for the planning department, else their subtree. */
async function adminReach(db: Conn, person: Actor): Promise<number[] | null> {
  if (person.roles.includes('planning_admin')) return null;
  return subtreeOf(await allUnits(db), person.unitId);
}

export async function listTokens(db: Db, person: Actor): Promise<any[]> {
  const rows = await repo.tokensIn(db, await adminReach(db, person));
  return rows.map((r: any) => ({ id: Number(r.id), name: r.name, unit: r.unit_code, unitName: r.unit_name, account: r.account, status: r.status,
    createdAt: new Date(Number(r.created_at)).toISOString(), revokedAt: r.revoked_at ? new Date(Number(r.revoked_at)).toISOString() : null, lastUsedAt: r.last_used_at ? new Date(Number(r.last_used_at)).toISOString() : null }));
}

/** Creates a token bound to a unit and its service account; the raw token is returned once and only its SHA-256 stored. */
export async function createToken(db: Db, person: Actor, input: { name: string; unit: string; account: string }): Promise<{ id: number; token: string }> {
  const errors: FieldError[] = [];
  const units = await allUnits(db);
  const unit = units.find((u) => u.code === input.unit);
  const reach = await adminReach(db, person);
  if (!input.name.trim()) errors.push({ field: 'name', message: '請輸入權杖名稱（例如介接系統名稱）' });
  if (!unit || unit.kind === 'planning') errors.push({ field: 'unit', message: '查無此單位' });
  else if (reach && !reach.includes(Number(unit.id))) errors.push({ field: 'unit', message: '僅能為本單位及所屬單位建立服務權杖' });
  const [user] = await repo.usersByAccounts(db, [input.account]);
  if (!user || isDisabledNow(user)) errors.push({ field: 'account', message: '查無此在職帳號' });
  else if (unit && !subtreeOf(units, Number(unit.id)).includes(user.unit_id)) errors.push({ field: 'account', message: '服務帳號須屬於該單位' });
  if (errors.length) throw validation(errors);
  const raw = TOKEN_PREFIX + crypto.randomBytes(32).toString('base64url');
  return db.transaction(async (trx) => {
    const [id] = await trx('service_tokens').insert({ name: input.name.trim(), unit_id: unit!.id, user_id: user!.id, token_hash: hashToken(raw), status: 'active', created_by: person.id, created_at: now() });
    await recordEvent(trx, eventActor(person), { action: 'service-token.create', targetType: 'service_token', targetId: Number(id), unitId: Number(unit!.id), detail: { name: input.name.trim(), account: user!.account } });
    return { id: Number(id), token: raw };
  });
}

export async function revokeToken(db: Db, person: Actor, id: number): Promise<void> {
  const row = await db('service_tokens').where({ id }).first('id', 'unit_id', 'status');
  const reach = await adminReach(db, person);
  if (!row || (reach && !reach.includes(Number(row.unit_id)))) throw notFound('查無此服務權杖');
  if (row.status !== 'active') return;
  await db.transaction(async (trx) => {
    await trx('service_tokens').where({ id }).update({ status: 'revoked', revoked_at: now() });
    await recordEvent(trx, eventActor(person), { action: 'service-token.revoke', targetType: 'service_token', targetId: id, unitId: Number(row.unit_id) });
  });
}

// ---------------------------------------------------------------------------------------------
// Key rotation (retention and destruction: server/destruction/)

/**
 * Re-encrypts every subject ciphertext made with SUBJECT_ENC_KEY_PREVIOUS under SUBJECT_ENC_KEY,
 * and binds every legacy (v1, unbound) one to its entry or form on the way, in batches. In
 * query_logs only subject_cipher changes — it lies outside the chain hash by design, so the chain
 * still verifies. A value that does not open under its entry's identity, or is not the person its
 * HMAC names, is left as it is (evidence; verify-log reports it), never re-bound to a stranger.
 * Idempotent: values already bound under the new key are skipped.
 */
export async function rotateSubjectKey(db: Db, cfg: Keys, opts: { batch?: number; onProgress?: (n: number) => void } = {}): Promise<{ queryLogs: number; queryRequests: number; sourceRecords: number }> {
  const prev = cfg.subjectEncKeyPrevious;
  if (!prev) throw new Error('SUBJECT_ENC_KEY_PREVIOUS is not set: nothing to rotate from');
  const oldKid = keyId(prev);
  if (oldKid === keyId(cfg.subjectEncKey)) throw new Error('SUBJECT_ENC_KEY_PREVIOUS equals SUBJECT_ENC_KEY');
  const ring = [cfg.subjectEncKey, prev];
  const batch = opts.batch ?? 1000;
  const result = { queryLogs: 0, queryRequests: 0, sourceRecords: 0 };
  let left = 0;
  // Source records (issue 16) carry the same kind of ciphertext, bound to their import and row
  // (reconcile/rules.ts sourceRecordAad); those without one (count-only sources) are not selected.
  const tables = [
    ['query_logs', 'subject_cipher', 'queryLogs', ['user_id', 'queried_at', 'subject_type', 'subject_hmac']],
    ['query_requests', 'expected_subjects_cipher', 'queryRequests', ['requester_id', 'created_at']],
    ['source_records', 'subject_cipher', 'sourceRecords', ['import_id', 'row_no', 'subject_type', 'subject_hmac']],
  ] as const;
  for (const [table, col, counter, identity] of tables) {
    let lastId = 0;
    for (;;) {
      const rows = await db(table).where('id', '>', lastId).andWhere((q) => q.where(col, 'like', 'v1.%').orWhere(col, 'like', `v2.${oldKid}.%`))
        .orderBy('id').limit(batch).select('id', col, ...identity);
      if (!rows.length) break;
      await db.transaction(async (trx) => {
        for (const r of rows) {
          if (!isUnbound(r[col]) && cipherKeyId(r[col]) !== oldKid) continue;
          const aad = table === 'query_logs' ? entryAad(r) : table === 'source_records' ? sourceRecordAad(r) : requestAad(r);
          let plain: string;
          try {
            plain = decryptSubject(ring, r[col], aad);
          } catch (e) {
            if (!(e instanceof SubjectCipherError)) throw e;
            left++;
            continue;
          }
          if (table !== 'query_requests' && !matchesHmac(cfg.SUBJECT_HMAC_KEY, r, plain)) {
            left++;
            continue;
          }
          await trx(table).where({ id: r.id }).andWhere(col, r[col]).update({ [col]: encryptSubject(cfg.subjectEncKey, plain, aad) });
          result[counter]++;
        }
      });
      lastId = Number(rows[rows.length - 1].id);
      opts.onProgress?.(result.queryLogs + result.queryRequests + result.sourceRecords);
    }
  }
  await recordEvent(db, SYSTEM_ACTOR, { action: 'subject-key.rotate', detail: { from: oldKid, to: keyId(cfg.subjectEncKey), ...result, left } });
  return result;
}

// ---------------------------------------------------------------------------------------------
// For the home page

export async function clerkSummary(db: Db, person: Actor): Promise<{ today: number; openRequests: number; pending: number }> {
  const start = startOfLocalDay(today());
  const [{ n }] = await db('query_logs').where({ user_id: person.id }).andWhere('queried_at', '>=', start).count({ n: '*' });
  const d = today();
  const [{ o }] = await db('query_requests').where({ requester_id: person.id, status: 'approved' }).andWhere('valid_from', '<=', d).andWhere('valid_to', '>=', d).count({ o: '*' });
  const [{ p }] = await db('query_requests').where({ requester_id: person.id, status: 'pending' }).count({ p: '*' });
  return { today: Number(n), openRequests: Number(o), pending: Number(p) };
}

export async function pendingApprovals(db: Db, person: Actor): Promise<number> {
  const units = await allUnits(db);
  const agency = agencyIn(units, person.unitId);
  const reach = subtreeOf(units, person.unitId).filter((id) => agency && agencyIn(units, id)?.id === agency.id);
  if (!reach.length) return 0;
  const [{ n }] = await db('query_requests').whereIn('unit_id', reach).andWhere('status', 'pending').andWhereNot('requester_id', person.id).count({ n: '*' });
  return Number(n);
}
