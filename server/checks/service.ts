// The checker workflow (clause 5(一)) and investigations (clause 5(二)): who may see and act on a
// check, verdicts, explanation requests, sign-off, investigations ending in audit records.
// Nothing is edited after sign-off; corrections are new audit records linked to the original.
import type { Config } from '../config.ts';
import type { Conn, Db } from '../db.ts';
import { prepareEntries } from '../queries/service.ts';
import { appendEntries } from '../queries/chain.ts';
import { subjectHmac, subjectProblem, type SubjectType } from '../queries/subject.ts';
import { allUnits, agencyIn, subtreeOf, unitByCode } from '../accounts/units.ts';
import { reachOf, withinReach } from '../accounts/reach.ts';
import { accountsByIds, rolesOf } from '../accounts/repo.ts';
import { isMonth, iso, localMonth, monthRange, now, rocMonth } from '../time.ts';
import { recordEvent } from '../events/service.ts';
import { conflict, fieldError, forbidden, notFound, validation } from '../problem.ts';
import * as repo from './repo.ts';
import { agencyPeople, assign } from './sampling.ts';
import { isOverdue, isSettled, mayAssignCheck, mayCorrectRecord, mayReadCheck, participantProblem, readsCheckByOffice, type Verdict } from './rules.ts';
import { itemKeyOf, itemRecorders, keyLabel, sourceRecordsByIds, type ItemKey } from './unlogged.ts';
import type { Actor } from '../actor.ts';

const ev = (a: Actor) => ({ id: a.id, account: a.account, ip: a.ip });

// Someone who may not read a check is told what they would be told of no check at all.
const NO_CHECK = '找不到此查核。';

export function checkJson(c: any, items: any[], at = now()) {
  return {
    id: Number(c.id), unit: c.unit_code, unitName: c.unit_name, period: c.period, generation: Number(c.generation),
    population: Number(c.population), sampleSize: Number(c.sample_size), seed: c.seed, populationDigest: c.population_digest,
    status: c.status, overdue: isOverdue(c.period, c.status, at), checker: c.checker_account ?? null,
    assignmentProblem: c.assignment_problem ?? null, signedOffAt: iso(c.signed_off_at == null ? null : Number(c.signed_off_at)),
    items: items.map((i) => ({
      // An unlogged query's item has no entry: it names its source record (and `key` is `r<id>`).
      entryId: i.entry_id == null ? null : Number(i.entry_id), sourceRecordId: i.source_record_id == null ? null : Number(i.source_record_id), key: itemKeyOf(i), basis: i.basis, flags: i.flags ? String(i.flags).split(',') : [], verdict: i.verdict ?? null, note: i.note ?? null,
      explanationRequested: i.explanation_requested_at != null, explanation: i.explanation ?? null,
    })),
  };
}

/**
 * GET /api/v1/checks?month&unit: current generation per agency, only the checks the actor may read
 * (rules.ts mayReadCheck); a unit outside the actor's reach is refused.
 */
export async function listChecks(conn: Conn, actor: Actor, q: { month?: string; unit?: string }) {
  const errors = [];
  if (q.month !== undefined && !isMonth(q.month)) errors.push({ field: 'month', message: '月份格式應為 YYYY-MM' });
  else if (q.month && q.month >= localMonth(now())) errors.push({ field: 'month', message: '月份尚未結束，無查核資料' });
  const units = await allUnits(conn);
  const reach = reachOf(units, actor);
  let unitIds = reach.countyWide ? undefined : reach.unitIds;
  if (q.unit !== undefined) {
    const u = await unitByCode(conn, q.unit);
    if (!u) errors.push({ field: 'unit', message: '找不到此機關代碼' });
    else {
      const agency = agencyIn(units, u.id);
      if (!agency) errors.push({ field: 'unit', message: '此單位不屬於任何業務機關' });
      else if (!reach.unitIds.includes(agency.id)) throw forbidden('此機關不在您的權責範圍內。');
      else unitIds = [agency.id];
    }
  }
  if (errors.length) throw validation(errors);
  const mine = new Set(await repo.checkIdsCheckedBy(conn, actor.id));
  const checks = await repo.currentChecks(conn, { period: q.month, unitIds });
  const items = [];
  for (const c of checks) {
    if (!mine.has(Number(c.id)) && !readsCheckByOffice(units, actor, Number(c.unit_id))) continue;
    items.push(checkJson(c, await repo.itemsOf(conn, c.id)));
  }
  return { items, total: items.length };
}

/** A check and what the actor may do with it: read it all, or (its assigner) see its header. 404 when neither. */
async function checkFor(conn: Conn, actor: Actor, id: number): Promise<{ c: any; full: boolean; assigner: boolean }> {
  if (!Number.isInteger(id) || id <= 0) throw notFound(NO_CHECK);
  const c = await repo.checkWithUnit(conn, id);
  // The same reads whether the check exists or not: the time taken does not tell.
  const units = await allUnits(conn);
  // Its checkers: the check's own and whoever checks some of its items (another checker, the agency head).
  const checkerIds = [c?.checker_id, ...(await repo.itemCheckerIds(conn, id))].filter((x) => x != null).map(Number);
  const full = !!c && mayReadCheck(units, actor, { unitId: Number(c.unit_id), checkerIds });
  const assigner = !!c && mayAssignCheck(units, actor, Number(c.unit_id));
  if (!full && !assigner) throw notFound(NO_CHECK);
  return { c, full, assigner };
}

/** A check the actor may read (else 404, as for no such check). */
export async function loadCheck(conn: Conn, actor: Actor, id: number) {
  const { c, full } = await checkFor(conn, actor, id);
  if (!full) throw notFound(NO_CHECK);
  return c;
}

/**
 * A check with its items and the entries they point to (subjects masked). With `header`, its
 * assigner (an admin) gets the check without items or entries instead of a 404.
 */
export async function checkDetail(conn: Conn, actor: Actor, id: number, o: { header?: boolean } = {}) {
  const { c, full } = await checkFor(conn, actor, id);
  if (!full && !o.header) throw notFound(NO_CHECK);
  if (!full) return { check: c, json: checkJson(c, []), items: [] as any[], full };
  const items = await repo.itemsOf(conn, id);
  const entries = await repo.entriesByIds(conn, items.filter((i: any) => i.entry_id != null).map((i: any) => Number(i.entry_id)));
  const records = await sourceRecordsByIds(conn, items.filter((i: any) => i.entry_id == null && i.source_record_id != null).map((i: any) => Number(i.source_record_id)));
  const people = await accountsByIds(conn, items.map((i: any) => Number(i.checker_id)).filter(Boolean));
  return {
    check: c,
    json: checkJson(c, items),
    items: items.map((i: any) => ({ ...i, key: itemKeyOf(i), entry: i.entry_id == null ? undefined : entries.get(Number(i.entry_id)), record: i.entry_id == null ? records.get(Number(i.source_record_id)) : undefined, checker: people.get(Number(i.checker_id)) ?? null })),
    full,
  };
}

function openOnly(c: any): void {
  if (c.status === 'signed-off') throw conflict('check-signed-off', '此查核已簽核，不得再修改；如需更正請新增更正紀錄。');
  if (c.status !== 'open') throw conflict('check-superseded', '此查核已由重新抽樣取代，僅供歷史查閱。');
}

/** An item named by entry id (a number, as before) or by ItemKey. */
const asKey = (k: number | ItemKey): ItemKey => (typeof k === 'number' ? { entryId: k } : k);
async function itemByKey(conn: Conn, checkId: number, k: ItemKey) {
  if (k.entryId != null) return Number.isInteger(k.entryId) ? repo.itemByEntry(conn, checkId, k.entryId) : undefined;
  return Number.isInteger(k.sourceRecordId) ? repo.itemBySourceRecord(conn, checkId, k.sourceRecordId!) : undefined;
}
async function itemFor(conn: Conn, c: any, key: number | ItemKey) {
  const k = asKey(key);
  const item = await itemByKey(conn, Number(c.id), k);
  if (!item) throw notFound(`${keyLabel(k)}不在此查核的抽查項目中。`);
  return item;
}
/** Who made the item's query: the entry's clerk, or the source record's person (an unlogged query). */
async function recorderOf(conn: Conn, item: any): Promise<number | null> {
  return (await itemRecorders(conn, [item]))[0];
}

/** A verdict on one item. An improper verdict opens an investigation (clause 5(二)). */
export async function setVerdict(db: Db, actor: Actor, checkId: number, key: number | ItemKey, input: { verdict: Verdict; note?: string | null }) {
  return db.transaction(async (trx) => {
    const c = await loadCheck(trx, actor, checkId);
    const item = await itemFor(trx, c, key);
    const entryId = item.entry_id == null ? null : Number(item.entry_id);
    const sourceRecordId = item.source_record_id == null ? null : Number(item.source_record_id);
    if (Number(item.checker_id) !== actor.id) throw forbidden('此項目未指派給您查核。');
    openOnly(c);
    if ((await recorderOf(trx, item)) === actor.id) throw forbidden('不得查核本人的查詢紀錄。');
    if ((input.verdict === 'improper' || input.verdict === 'explanation-needed') && !input.note?.trim()) {
      throw fieldError('note', input.verdict === 'improper' ? '判定不當時請說明理由' : '請說明需查詢人員解釋的事項');
    }
    const t = now();
    const patch: Record<string, unknown> = { verdict: input.verdict, note: input.note?.trim() || null, decided_by: actor.id, decided_at: t };
    if (input.verdict === 'explanation-needed') Object.assign(patch, { explanation_requested_at: t, explanation: null, explained_by: null, explained_at: null });
    await repo.updateItem(trx, item.id, patch);
    let investigationId: number | null = null;
    if (input.verdict === 'improper') investigationId = await openInvestigation(trx, actor, c, item, input.note ?? '');
    await recordEvent(trx, ev(actor), { action: 'check-verdict', targetType: 'check', targetId: checkId, unitId: Number(c.unit_id), detail: { entryId, sourceRecordId, verdict: input.verdict, investigationId } });
    return { entryId, sourceRecordId, verdict: input.verdict, investigationId };
  });
}

/**
 * The clerk who recorded the entry answers an explanation request. Anything but their own entry
 * with an explanation asked is 404, so the answer never tells that a check or a sampled entry exists.
 */
export async function answerExplanation(db: Db, actor: Actor, checkId: number, key: number | ItemKey, explanation: string) {
  return db.transaction(async (trx) => {
    const c = Number.isInteger(checkId) ? await repo.checkById(trx, checkId) : undefined;
    const item = c ? await itemByKey(trx, Number(c.id), asKey(key)) : undefined;
    const recorder = item ? await recorderOf(trx, item) : null;
    if (!item || recorder !== actor.id || item.verdict !== 'explanation-needed') throw notFound('找不到要求您說明的此筆查詢。');
    openOnly(c);
    if (!explanation.trim()) throw fieldError('explanation', '請填寫說明');
    await repo.updateItem(trx, item.id, { explanation: explanation.trim(), explained_by: actor.id, explained_at: now() });
    const entryId = item.entry_id == null ? null : Number(item.entry_id);
    const sourceRecordId = item.source_record_id == null ? null : Number(item.source_record_id);
    await recordEvent(trx, ev(actor), { action: 'check-explanation', targetType: 'check', targetId: checkId, unitId: Number(c.unit_id), detail: { entryId, sourceRecordId } });
    return { entryId, sourceRecordId };
  });
}

export interface LateRecordInput { caseNo: string; reason: string; opCode: string; scope: string; queryRequestId?: number | null; subjectValue: string; explanation: string }

/**
 * A late record (補登) of an unlogged query (issue 16): its clerk records the entry now. The entry's
 * queried_at is the real query time (the source record's); when it was recorded, by whom, and for
 * which source record is kept in late_records, so nothing is backdated. The clerk types the
 * person's identifier again: it must be the one the source recorded (same HMAC). Validated like any
 * entry (case number, reason, permissions, the request form valid on the query's day). The entry,
 * the link and the explanation are written in one transaction.
 */
export async function recordLate(db: Db, cfg: Pick<Config, 'SUBJECT_HMAC_KEY' | 'subjectEncKey' | 'subjectEncKeyPrevious' | 'REASON_MIN_LENGTH' | 'RETENTION_YEARS'>, actor: Actor, checkId: number, sourceRecordId: number, input: LateRecordInput) {
  const c = Number.isInteger(checkId) ? await repo.checkById(db, checkId) : undefined;
  const item = c ? await itemByKey(db, Number(c.id), { sourceRecordId }) : undefined;
  const record = item ? (await sourceRecordsByIds(db, [sourceRecordId])).get(sourceRecordId) : undefined;
  // Only the clerk asked to explain their own unlogged query; anyone else is told it does not exist.
  if (!item || !record || Number(record.user_id) !== actor.id || item.verdict !== 'explanation-needed') throw notFound('找不到要求您說明的此筆查詢。');
  openOnly(c);
  if (record.late_entry_id != null) throw conflict('already-recorded', `此筆查詢已補登為查詢日誌第 ${record.late_entry_id} 筆。`);
  if (!input.explanation?.trim()) throw fieldError('explanation', '請說明未即時登錄的原因');
  const subject = { type: record.subject_type as SubjectType, value: input.subjectValue };
  if (subjectProblem(subject) || subjectHmac(cfg.SUBJECT_HMAC_KEY, subject) !== record.subject_hmac) throw fieldError('subjectValue', '與來源紀錄之被查詢者不符，請輸入當時查詢之被查詢者身分證號（或條件）');
  const rows = await prepareEntries(db, cfg, { kind: 'session', person: actor as any, ip: actor.ip ?? null }, [{
    caseNo: input.caseNo, reason: input.reason, opCode: input.opCode, scope: input.scope, queryRequestId: input.queryRequestId ?? null, subject,
  }], { batch: false, queriedAt: Number(record.occurred_at) });
  return db.transaction(async (trx) => {
    // Again under the transaction: two submissions at once record one entry.
    if (await repo.lateRecordOf(trx, sourceRecordId)) throw conflict('already-recorded', '此筆查詢已補登。');
    const [entry] = await appendEntries(trx, rows);
    const t = now();
    await repo.insertLateRecord(trx, { source_record_id: sourceRecordId, entry_id: entry.id, check_item_id: item.id, recorded_by: actor.id, recorded_at: t });
    await repo.updateItem(trx, item.id, { explanation: `${input.explanation.trim()}（已補登查詢日誌第 ${entry.id} 筆）`.slice(0, 2000), explained_by: actor.id, explained_at: t });
    await recordEvent(trx, ev(actor), { action: 'late-record', targetType: 'query_log', targetId: entry.id, unitId: Number(c.unit_id), detail: { checkId, sourceRecordId, queriedAt: iso(Number(record.occurred_at)) } });
    return { entryId: entry.id, hash: entry.hash, sourceRecordId, queriedAt: iso(Number(record.occurred_at)), recordedAt: iso(t) };
  });
}

/** What a late record's form offers its clerk: their permissions (scope × operation code) and open request forms. */
export async function lateRecordChoices(conn: Conn, userId: number) {
  const perms = await repo.permissionsNamed(conn, userId);
  const forms = await repo.approvedFormsOf(conn, userId, 50);
  const uniq = <T,>(xs: T[], k: (x: T) => string) => [...new Map(xs.map((x) => [k(x), x])).values()];
  return {
    scopes: uniq(perms, (p) => p.scope).map((p) => ({ code: p.scope, title: p.scope_title })),
    opCodes: uniq(perms, (p) => p.op).map((p) => ({ code: p.op, name: p.op_name })),
    forms: forms.map((f) => ({ id: Number(f.id), caseNo: f.case_no, scope: f.scope, validFrom: f.valid_from, validTo: f.valid_to })),
  };
}

/**
 * "The remaining items are 適當" (issue 17): one explicit act of the check's checker giving the
 * verdict proper to each of their items nobody has decided yet, recorded as one event naming them.
 * `expected` is the number the checker was shown: when the untouched items are no longer that many
 * (another tab, a new unlogged item) nothing is written and the checker is asked to look again.
 * Never covers an unlogged query (its clerk must explain; clause 5(一)) nor the checker's own query;
 * 不當 and 請說明 are always one item at a time with a note (setVerdict).
 */
export async function setRemainingProper(db: Db, actor: Actor, checkId: number, expected: number) {
  return db.transaction(async (trx) => {
    const c = await loadCheck(trx, actor, checkId);
    if (Number(c.checker_id) !== actor.id) throw forbidden('只有本查核的查核人員可以將其餘項目一次判定為適當。');
    openOnly(c);
    const items = await remainingItems(trx, actor, checkId);
    if (!items.length) throw conflict('nothing-remaining', '沒有尚未判定的項目。');
    if (items.length !== expected) throw conflict('remaining-changed', `尚未判定的項目現為 ${items.length} 項，與您確認的 ${expected} 項不符，未作任何判定；請重新檢視後再送出。`);
    const t = now();
    const changed = await repo.decideUndecided(trx, items.map((i: any) => i.id), { verdict: 'proper', note: null, decided_by: actor.id, decided_at: t });
    // Decided meanwhile by another request: the transaction is undone rather than half-written.
    if (Number(changed) !== items.length) throw conflict('remaining-changed', '部分項目已於其他視窗判定，未作任何判定；請重新檢視後再送出。');
    const entryIds = items.map((i: any) => Number(i.entry_id));
    await recordEvent(trx, ev(actor), { action: 'check-verdict-remaining', targetType: 'check', targetId: checkId, unitId: Number(c.unit_id), detail: { verdict: 'proper', count: entryIds.length, entryIds } });
    return { id: checkId, verdict: 'proper' as const, count: entryIds.length, entryIds };
  });
}

/** The items the act would cover: the checker's undecided logged items, less any query of their own. */
async function remainingItems(conn: Conn, actor: Actor, checkId: number): Promise<any[]> {
  const candidates = await repo.undecidedLoggedItems(conn, checkId, actor.id);
  const recorders = await itemRecorders(conn, candidates);
  return candidates.filter((_, k) => recorders[k] !== actor.id);
}

/** The keys of the items the checker's "remaining items are 適當" act would cover now (none when the check is not theirs or not open). */
export async function remainingProperKeys(conn: Conn, actor: Actor, c: any): Promise<string[]> {
  if (c.status !== 'open' || Number(c.checker_id) !== actor.id) return [];
  return (await remainingItems(conn, actor, Number(c.id))).map(itemKeyOf);
}

/** The checker completes and signs off the check; refused while any item is open. */
export async function signOff(db: Db, actor: Actor, checkId: number) {
  return db.transaction(async (trx) => {
    const c = await loadCheck(trx, actor, checkId);
    if (Number(c.checker_id) !== actor.id) throw forbidden('只有本查核的查核人員可以簽核。');
    openOnly(c);
    const items = await repo.itemsOf(trx, checkId);
    // Unlogged queries first in the message: they are the ones without an entry to look up.
    const open = items.filter((i: any) => !isSettled(i.verdict)).sort((a: any, b: any) => Number(a.entry_id != null) - Number(b.entry_id != null));
    if (open.length) {
      throw conflict('items-open', `尚有 ${open.length} 個項目未完成判定（含待說明），不得簽核：${open.slice(0, 10).map((i: any) => (i.entry_id != null ? `查詢日誌 ${i.entry_id}` : `來源紀錄 ${i.source_record_id}（未登錄）`)).join('、')}`);
    }
    const t = now();
    await repo.signOffCheck(trx, checkId, actor.id, t);
    await recordEvent(trx, ev(actor), { action: 'check-sign-off', targetType: 'check', targetId: checkId, unitId: Number(c.unit_id), detail: { period: c.period } });
    return { id: checkId, status: 'signed-off', signedOffAt: iso(t) };
  });
}

/** An admin of the agency (or the planning department) assigns an eligible checker. */
export async function assignChecker(db: Db, actor: Actor, checkId: number, account: string) {
  return db.transaction(async (trx) => {
    const { c, assigner } = await checkFor(trx, actor, checkId);
    if (!assigner) throw forbidden('僅機關管理者或計畫處管理者可以指派查核人員。');
    openOnly(c);
    const agency = (await allUnits(trx)).find((u) => u.id === Number(c.unit_id))!;
    const { eligible, heads } = await agencyPeople(trx, agency);
    const chosen = eligible.find((u) => u.account === account);
    if (!chosen) throw fieldError('checker', '此帳號不是本機關符合資格的查核人員（股長以上；無股別者為科長以上）');
    const items = await repo.itemsOf(trx, checkId);
    const recorders = await itemRecorders(trx, items);
    const a = assign([chosen, ...eligible.filter((u) => u.id !== chosen.id)], heads, new Map(eligible.map((u) => [u.id, u.id === chosen.id ? -1 : 0])), recorders.map((r) => r ?? -1));
    await repo.updateCheck(trx, checkId, { checker_id: chosen.id, assignment_problem: a.problem });
    // Items nobody has decided yet (an unlogged query's explanation is asked by the system, not a checker).
    for (let k = 0; k < items.length; k++) if (!items[k].decided_by) await repo.updateItem(trx, items[k].id, { checker_id: a.itemCheckers[k] });
    await recordEvent(trx, ev(actor), { action: 'check-assign', targetType: 'check', targetId: checkId, unitId: Number(c.unit_id), detail: { checker: account } });
    return { id: checkId, checker: account };
  });
}

/** After sign-off a check is not edited: a correction is a new audit record linked to it. */
export async function correctCheck(db: Db, actor: Actor, checkId: number, input: { summary: string; findings?: string | null }) {
  return db.transaction(async (trx) => {
    const c = await loadCheck(trx, actor, checkId);
    if (c.status !== 'signed-off') throw conflict('check-not-signed-off', '查核尚未簽核，請直接修改判定。');
    if (!input.summary?.trim()) throw fieldError('summary', '請說明更正內容');
    const t = now();
    const id = await repo.insertAuditRecord(trx, {
      unit_id: c.unit_id, kind: 'other', title: `${rocMonth(c.period)}查核結果更正`, period: c.period, summary: input.summary.trim(), findings: input.findings ?? null,
      source_type: 'check', source_id: checkId, signed_by: actor.id, signed_at: t, created_by: actor.id, created_at: t,
    });
    await recordEvent(trx, ev(actor), { action: 'check-correction', targetType: 'audit_record', targetId: id, unitId: Number(c.unit_id), detail: { checkId } });
    return { id };
  });
}

/** Items asking this person to explain a query they made. */
export async function explanationsFor(conn: Conn, userId: number) {
  const logged = await repo.loggedExplanationsAsked(conn, userId);
  // Unlogged queries (issue 16): the source record's person explains; there is no entry, and a
  // late record (補登) may be made from here.
  const unlogged = await repo.unloggedExplanationsAsked(conn, userId);
  return [...logged, ...unlogged.map((x) => ({ ...x, unlogged: true }))].sort((a, b) => Number(a.explanation_requested_at) - Number(b.explanation_requested_at) || Number(a.id) - Number(b.id));
}

// ── Investigations ────────────────────────────────────────────────────────────────────────────

export const SIDES = ['business', 'ethics', 'it'] as const;
export type Side = (typeof SIDES)[number];
export const SIDE_LABELS: Record<Side, string> = { business: '業務單位', ethics: '政風單位', it: '資訊單位' };

/**
 * Staff with a role in the agency, else in the planning department (county-level ethics / IT);
 * only those the participant rule admits (rules.ts participantProblem).
 */
async function staffWithRole(conn: Conn, agencyId: number, role: 'ethics' | 'it'): Promise<number[]> {
  const units = await allUnits(conn);
  const local = subtreeOf(units, agencyId);
  const planning = units.filter((u) => u.kind === 'planning').map((u) => u.id);
  for (const scope of [local, planning]) {
    const rows = await repo.activeStaffWithRole(conn, scope, role);
    const ids = rows.filter((u: any) => !participantProblem(units, agencyId, { unitId: Number(u.unit_id), roles: [role] }, role)).map((u: any) => Number(u.id));
    if (ids.length) return ids;
  }
  return [];
}

async function openInvestigation(trx: Conn, actor: Actor, c: any, item: any, note: string): Promise<number> {
  const existing = await repo.investigationOfItem(trx, item.id);
  if (existing) return Number(existing.id);
  const t = now();
  const id = await repo.insertInvestigation(trx, {
    unit_id: c.unit_id, check_id: c.id, check_item_id: item.id, entry_id: item.entry_id ?? null,
    title: item.entry_id != null ? `${rocMonth(c.period)}查核不當：查詢日誌第 ${item.entry_id} 筆` : `${rocMonth(c.period)}查核不當：未登錄查詢（來源紀錄第 ${item.source_record_id} 筆）`,
    status: 'open', opened_by: actor.id, opened_at: t,
  });
  const parts: Array<{ user_id: number; side: Side }> = [{ user_id: actor.id, side: 'business' }];
  for (const uid of await staffWithRole(trx, Number(c.unit_id), 'ethics')) parts.push({ user_id: uid, side: 'ethics' });
  for (const uid of await staffWithRole(trx, Number(c.unit_id), 'it')) parts.push({ user_id: uid, side: 'it' });
  await repo.insertParticipants(trx, parts.map((p) => ({ investigation_id: id, ...p, added_by: actor.id, added_at: t })));
  await repo.insertNote(trx, { investigation_id: id, kind: 'note', body: `查核判定不當：${note}`, evidence_ref: item.entry_id != null ? `query_logs#${item.entry_id}` : `source_records#${item.source_record_id}`, author_id: actor.id, created_at: t });
  return id;
}

/** Roles that oversee their agency's investigations (within reach) without taking part. */
const OVERSIGHT_ROLES = ['auditor', 'planning_admin', 'admin', 'supervisor'];

/** Whether the actor sees an investigation (a participant, or an overseer with reach) and takes part in it. */
async function investigationAccess(conn: Conn, actor: Actor, inv: any): Promise<{ visible: boolean; participant: boolean }> {
  const participant = await repo.isParticipant(conn, Number(inv.id), actor.id);
  const visible = participant || (actor.roles.some((r) => OVERSIGHT_ROLES.includes(r)) && withinReach(await allUnits(conn), actor, Number(inv.unit_id)));
  return { visible, participant };
}

async function investigationReach(conn: Conn, actor: Actor, inv: any): Promise<{ participant: boolean }> {
  const a = await investigationAccess(conn, actor, inv);
  // Someone neither taking part nor overseeing the agency is not told the investigation exists.
  if (!a.visible) throw notFound('找不到此調查。');
  return a;
}

export async function listInvestigations(conn: Conn, actor: Actor) {
  const reach = reachOf(await allUnits(conn), actor);
  const oversees = actor.roles.some((r) => OVERSIGHT_ROLES.includes(r));
  const rows = await repo.investigationsSeenBy(conn, actor.id, !oversees ? null : reach.countyWide ? 'all' : reach.unitIds);
  return rows.map(investigationJson);
}

export function investigationJson(v: any) {
  return {
    id: Number(v.id), unit: v.unit_code, unitName: v.unit_name, title: v.title, status: v.status, checkId: v.check_id == null ? null : Number(v.check_id),
    entryId: v.entry_id == null ? null : Number(v.entry_id), openedAt: iso(Number(v.opened_at)), concludedAt: iso(v.concluded_at == null ? null : Number(v.concluded_at)),
    conclusion: v.conclusion ?? null, auditRecordId: v.audit_record_id == null ? null : Number(v.audit_record_id),
  };
}

export async function investigationDetail(conn: Conn, actor: Actor, id: number) {
  const v = Number.isInteger(id) ? await repo.investigationWithUnit(conn, id) : undefined;
  if (!v) throw notFound('找不到此調查。');
  const { participant } = await investigationReach(conn, actor, v);
  const participants = await repo.participantsOf(conn, id);
  const notes = await repo.notesOf(conn, id);
  const record = v.audit_record_id ? await repo.auditRecordById(conn, Number(v.audit_record_id)) : null;
  // Corrections of the conclusion: later records of the same investigation, each superseding the one before.
  const corrections = record ? await repo.recordCorrections(conn, id, Number(record.id)) : [];
  const missingSides = SIDES.filter((s) => !participants.some((p: any) => p.side === s));
  const latest = corrections.length ? corrections[corrections.length - 1] : record;
  const canCorrect = !!latest && mayCorrectRecord(await allUnits(conn), actor, { unitId: Number(latest.unit_id), signedBy: latest.signed_by });
  return { v, participant, participants, notes, record, corrections, missingSides, canCorrect, json: { ...investigationJson(v), participants: participants.map((p: any) => ({ account: p.account, name: p.name, side: p.side })), notes: notes.map((n: any) => ({ kind: n.kind, body: n.body, evidenceRef: n.evidence_ref, author: n.author_account, at: iso(Number(n.created_at)) })), missingSides } };
}

async function openInvestigationFor(trx: Conn, actor: Actor, id: number) {
  const v = Number.isInteger(id) ? await repo.investigationById(trx, id) : undefined;
  if (!v) throw notFound('找不到此調查。');
  const { participant } = await investigationReach(trx, actor, v);
  if (!participant) throw forbidden('只有調查參與人員可以記錄或結案。');
  if (v.status !== 'open') throw conflict('investigation-concluded', '此調查已結案，不得再修改；如需更正請新增更正紀錄。');
  return v;
}

export async function addNote(db: Db, actor: Actor, id: number, input: { kind: 'note' | 'evidence'; body: string; evidenceRef?: string | null }) {
  return db.transaction(async (trx) => {
    const v = await openInvestigationFor(trx, actor, id);
    const t = now();
    await repo.insertNote(trx, { investigation_id: id, kind: input.kind, body: input.body.trim(), evidence_ref: input.evidenceRef?.trim() || null, author_id: actor.id, created_at: t });
    await recordEvent(trx, ev(actor), { action: 'investigation-note', targetType: 'investigation', targetId: id, unitId: Number(v.unit_id), detail: { kind: input.kind } });
    return { id };
  });
}

export async function addParticipant(db: Db, actor: Actor, id: number, input: { account: string; side: Side }) {
  return db.transaction(async (trx) => {
    const v = await openInvestigationFor(trx, actor, id);
    const user = await repo.activeUserByAccount(trx, input.account);
    if (!user) throw fieldError('account', '找不到此帳號或帳號未啟用');
    const roles = await rolesOf(trx, Number(user.id));
    const problem = participantProblem(await allUnits(trx), Number(v.unit_id), { unitId: Number(user.unit_id), roles }, input.side);
    if (problem) throw fieldError('account', problem);
    if (!(await repo.isParticipant(trx, id, Number(user.id), input.side))) await repo.insertParticipants(trx, [{ investigation_id: id, user_id: Number(user.id), side: input.side, added_by: actor.id, added_at: now() }]);
    await recordEvent(trx, ev(actor), { action: 'investigation-participant', targetType: 'investigation', targetId: id, unitId: Number(v.unit_id), detail: { account: input.account, side: input.side } });
    return { id };
  });
}

/** The conclusion ends the investigation in an audit record (稽核紀錄), signed by the concluder. */
export async function conclude(db: Db, actor: Actor, id: number, input: { conclusion: string; findings?: string | null; summary?: string | null }) {
  return db.transaction(async (trx) => {
    const v = await openInvestigationFor(trx, actor, id);
    const sides = await repo.participantSides(trx, id);
    const missing = SIDES.filter((s) => !sides.includes(s));
    if (missing.length) throw conflict('participants-missing', `調查須有業務、政風及資訊單位參與（第五點第二款），尚缺：${missing.map((s) => SIDE_LABELS[s]).join('、')}`);
    const t = now();
    const check = v.check_id ? await repo.checkById(trx, Number(v.check_id)) : null;
    const notes = await repo.notesOf(trx, id);
    const recordId = await repo.insertAuditRecord(trx, {
      unit_id: v.unit_id, kind: 'investigation', title: v.title, period: check?.period ?? null,
      summary: input.summary?.trim() || notes.map((n: any) => `[${n.kind === 'evidence' ? '證據' : '紀錄'}] ${n.body}${n.evidence_ref ? `（${n.evidence_ref}）` : ''}`).join('\n').slice(0, 60000),
      findings: input.findings?.trim() || null, conclusion: input.conclusion.trim(), source_type: 'investigation', source_id: id,
      signed_by: actor.id, signed_at: t, created_by: actor.id, created_at: t,
    });
    await repo.concludeInvestigation(trx, id, { conclusion: input.conclusion.trim(), concluded_by: actor.id, concluded_at: t, audit_record_id: recordId });
    await recordEvent(trx, ev(actor), { action: 'investigation-conclude', targetType: 'investigation', targetId: id, unitId: Number(v.unit_id), detail: { auditRecordId: recordId } });
    return { id, auditRecordId: recordId };
  });
}

/**
 * A correction of an audit record is a new record that supersedes it; the original stays. Only its
 * signer, or an auditor or ethics officer with reach (rules.ts mayCorrectRecord): others within
 * reach (or who see its investigation) 403, anyone else 404 as for no such record.
 */
export async function correctAuditRecord(db: Db, actor: Actor, recordId: number, input: { summary?: string | null; findings?: string | null; conclusion: string }, seen = false) {
  return db.transaction(async (trx) => {
    const r = Number.isInteger(recordId) ? await repo.auditRecordById(trx, recordId) : undefined;
    if (!r) throw notFound('找不到此稽核紀錄。');
    const units = await allUnits(trx);
    if (!mayCorrectRecord(units, actor, { unitId: Number(r.unit_id), signedBy: r.signed_by })) {
      if (seen || withinReach(units, actor, Number(r.unit_id))) throw forbidden('僅簽核之稽核人員，或對受稽核機關有權責之稽核或政風人員，可以更正稽核紀錄。');
      throw notFound('找不到此稽核紀錄。');
    }
    const later = await repo.supersedingRecord(trx, recordId);
    if (later) throw conflict('already-superseded', `此紀錄已由第 ${later.id} 號紀錄更正，請更正最新紀錄。`);
    const t = now();
    const id = await repo.insertAuditRecord(trx, {
      unit_id: r.unit_id, kind: r.kind, title: `${r.title}（更正）`, period: r.period, summary: input.summary ?? r.summary, findings: input.findings ?? r.findings,
      conclusion: input.conclusion.trim(), source_type: r.source_type, source_id: r.source_id, signed_by: actor.id, signed_at: t, supersedes_id: recordId, created_by: actor.id, created_at: t,
    });
    await recordEvent(trx, ev(actor), { action: 'audit-record-correction', targetType: 'audit_record', targetId: id, unitId: Number(r.unit_id), detail: { supersedes: recordId } });
    return { id, supersedes: recordId };
  });
}

/** Corrects a concluded investigation's audit record: the latest record of it is superseded by a new one. */
export async function correctInvestigationRecord(db: Db, actor: Actor, investigationId: number, input: { summary?: string | null; findings?: string | null; conclusion: string }) {
  const v = Number.isInteger(investigationId) ? await repo.investigationById(db, investigationId) : undefined;
  if (!v) throw notFound('找不到此調查。');
  const { visible } = await investigationAccess(db, actor, v);
  const recordId = Number((v.audit_record_id ? await repo.latestRecordIdOf(db, investigationId) : null) ?? v.audit_record_id);
  // Who neither sees the investigation nor may correct its record is not told it exists.
  if (!visible) {
    const r = v.audit_record_id ? await repo.auditRecordById(db, recordId) : undefined;
    if (!r || !mayCorrectRecord(await allUnits(db), actor, { unitId: Number(r.unit_id), signedBy: r.signed_by })) throw notFound('找不到此調查。');
  }
  if (!v.audit_record_id) throw conflict('not-concluded', '調查尚未結案，沒有可更正的稽核紀錄。');
  return correctAuditRecord(db, actor, recordId, input, visible);
}

// ── Dashboards ────────────────────────────────────────────────────────────────────────────────

/** Open checks past their due date and checks without a checker, of those the actor reads or assigns. */
export async function problemsFor(conn: Conn, actor: Actor) {
  const units = await allUnits(conn);
  const reach = reachOf(units, actor);
  const mine = new Set(await repo.checkIdsCheckedBy(conn, actor.id));
  const open = (await repo.currentChecks(conn, { status: 'open', unitIds: reach.countyWide ? undefined : reach.unitIds }))
    .filter((c: any) => mine.has(Number(c.id)) || readsCheckByOffice(units, actor, Number(c.unit_id)) || mayAssignCheck(units, actor, Number(c.unit_id)));
  const t = now();
  return {
    overdue: open.filter((c: any) => isOverdue(c.period, c.status, t)),
    unassigned: open.filter((c: any) => c.assignment_problem),
  };
}
