// Checks, check items, investigations and audit records: knex only, no policy.
import type { Conn } from '../db.ts';
import { whereActiveNow } from '../accounts/active.ts';
import { insertChunked, insertId, isMysql, pagesAhead, selectArrays } from '../db.ts';

export interface ScanRow {
  id: number;
  seq: number;
  unit_id: number;
  user_id: number;
  queried_at: number;
  query_request_id: number | null;
  subject_hmac: string;
  hash: string;
}

const SCAN_COLS = ['id', 'seq', 'unit_id', 'user_id', 'queried_at', 'query_request_id', 'subject_hmac', 'hash'];

export async function maxEntryId(conn: Conn): Promise<number> {
  const head = await conn('query_logs').max('id as m').first();
  return Number(head?.m ?? 0);
}

/**
 * Pages through a month's entries by primary key (id > last … limit), reading only the columns
 * sampling needs. On MariaDB the primary key is forced: the optimiser would otherwise pick the
 * queried_at index and sort the whole month for every page.
 */
export async function* scanMonth(conn: Conn, o: { start: number; end: number; fromId: number; maxId: number; unitIds?: number[]; pageSize?: number }): AsyncGenerator<ScanRow[]> {
  const page = o.pageSize ?? 5000;
  const from = isMysql(conn) ? conn.raw('?? FORCE INDEX (PRIMARY)', ['query_logs']) : 'query_logs';
  const fetch = async (after: number): Promise<ScanRow[]> => {
    const q = conn.from(from as any).where('id', '>', after).andWhere('id', '<=', o.maxId)
      .andWhere('queried_at', '>=', o.start).andWhere('queried_at', '<', o.end);
    if (o.unitIds) q.whereIn('unit_id', o.unitIds);
    // Rows as arrays: a million small objects fewer to build per month.
    const raw = await selectArrays(q.orderBy('id').limit(page), SCAN_COLS);
    const rows: ScanRow[] = new Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const a = raw[i] as any[];
      rows[i] = {
        id: Number(a[0]), seq: Number(a[1]), unit_id: Number(a[2]), user_id: Number(a[3]), queried_at: Number(a[4]),
        query_request_id: a[5] == null ? null : Number(a[5]), subject_hmac: a[6], hash: a[7],
      };
    }
    return rows;
  };
  // The next page is read while the caller works on this one (on MariaDB, another connection).
  yield* pagesAhead(fetch, (r) => r.id, o.fromId - 1, page);
}

/** Of the candidate subjects, those queried by `minClerks` or more different clerks of the units in the month, and their entries. */
export async function sharedSubjectEntries(conn: Conn, candidates: string[], unitIds: number[], start: number, end: number, maxId: number, minClerks: number): Promise<Array<{ id: number; user_id: number }>> {
  const out: Array<{ id: number; user_id: number }> = [];
  for (let i = 0; i < candidates.length; i += 500) {
    const rows = await conn('query_logs').whereIn('subject_hmac', candidates.slice(i, i + 500)).whereIn('unit_id', unitIds)
      .andWhere('queried_at', '>=', start).andWhere('queried_at', '<', end).andWhere('id', '<=', maxId).select('id', 'user_id', 'subject_hmac');
    const clerks = new Map<string, Set<number>>();
    for (const r of rows) clerks.set(r.subject_hmac, (clerks.get(r.subject_hmac) ?? new Set()).add(Number(r.user_id)));
    for (const r of rows) if (clerks.get(r.subject_hmac)!.size >= minClerks) out.push({ id: Number(r.id), user_id: Number(r.user_id) });
  }
  return out;
}

export async function userEntriesBetween(conn: Conn, userId: number, unitIds: number[], start: number, end: number, maxId: number): Promise<number[]> {
  const ids = await conn('query_logs').where({ user_id: userId }).whereIn('unit_id', unitIds)
    .andWhere('queried_at', '>=', start).andWhere('queried_at', '<', end).andWhere('id', '<=', maxId).pluck('id');
  return ids.map(Number);
}

export interface RequestInfo { status: string; valid_from: string; valid_to: string }
export async function requestsById(conn: Conn): Promise<Map<number, RequestInfo>> {
  const rows = await conn('query_requests').select('id', 'status', 'valid_from', 'valid_to');
  return new Map(rows.map((r: any) => [Number(r.id), { status: r.status, valid_from: r.valid_from, valid_to: r.valid_to }]));
}

export async function personHmacs(conn: Conn): Promise<Map<number, string>> {
  const rows = await conn('users').whereNotNull('person_hmac').select('id', 'person_hmac');
  return new Map(rows.map((r: any) => [Number(r.id), r.person_hmac]));
}

export async function countySettings(conn: Conn): Promise<Map<string, string>> {
  const rows = await conn('county_settings').select('key', 'value');
  return new Map(rows.map((r: any) => [r.key, r.value]));
}

export interface CandidateUser { id: number; account: string; name: string; unit_id: number; rank: string; roles: string }
/** Active users of the given units with their roles (comma list). */
export async function activeUsersOf(conn: Conn, unitIds: number[]): Promise<CandidateUser[]> {
  if (!unitIds.length) return [];
  const users = await whereActiveNow(conn('users').whereIn('unit_id', unitIds)).orderBy('id').select('id', 'account', 'name', 'unit_id', 'rank');
  const roles = await conn('user_roles').whereIn('user_id', users.map((u: any) => u.id)).select('user_id', 'role');
  const by = new Map<number, string[]>();
  for (const r of roles) by.set(Number(r.user_id), [...(by.get(Number(r.user_id)) ?? []), r.role]);
  return users.map((u: any) => ({ ...u, id: Number(u.id), unit_id: Number(u.unit_id), roles: (by.get(Number(u.id)) ?? []).join(',') }));
}

export async function openCheckCounts(conn: Conn): Promise<Map<number, number>> {
  const rows = await conn('checks').where({ status: 'open' }).whereNotNull('checker_id').groupBy('checker_id').select('checker_id').count('* as n');
  return new Map(rows.map((r: any) => [Number(r.checker_id), Number(r.n)]));
}

export async function latestGeneration(conn: Conn, unitId: number, period: string): Promise<number> {
  const r = await conn('checks').where({ unit_id: unitId, period }).max('generation as g').first();
  return Number(r?.g ?? 0);
}

export async function insertCheck(conn: Conn, row: Record<string, unknown>): Promise<number> {
  const [id] = await conn('checks').insert(row);
  if (typeof id === 'number' && id > 0) return id;
  const got = await conn('checks').where({ unit_id: row.unit_id, period: row.period, generation: row.generation }).first('id');
  return Number(got.id);
}
export const insertItems = (conn: Conn, rows: Record<string, unknown>[]): Promise<void> => insertChunked(conn, 'check_items', rows);

export const checkById = (conn: Conn, id: number) => conn('checks').where({ id }).first();
/**
 * The checker's undecided items of a check that the "remaining items are proper" act may cover:
 * logged entries only, never an unlogged query's item (basis `unlogged`: its clerk explains first).
 */
export async function undecidedLoggedItems(conn: Conn, checkId: number, checkerId: number): Promise<any[]> {
  return conn('check_items').where({ check_id: checkId, checker_id: checkerId }).whereNull('verdict').whereNotNull('entry_id')
    .whereNot('basis', 'unlogged').orderBy('id').select('id', 'entry_id', 'source_record_id', 'basis');
}
/** Who checks some of the check's items (besides the check's own checker). */
export async function itemCheckerIds(conn: Conn, checkId: number): Promise<number[]> {
  return (await conn('check_items').where({ check_id: checkId }).whereNotNull('checker_id').distinct('checker_id').pluck('checker_id')).map(Number);
}
/** Checks the person is the checker of, or checks some items of. */
export async function checkIdsCheckedBy(conn: Conn, userId: number): Promise<number[]> {
  const own = await conn('checks').where({ checker_id: userId }).pluck('id');
  const items = await conn('check_items').where({ checker_id: userId }).distinct('check_id').pluck('check_id');
  return [...new Set([...own, ...items].map(Number))];
}
export const itemsOf = (conn: Conn, checkId: number) => conn('check_items').where({ check_id: checkId }).orderBy('id');
export const itemByEntry = (conn: Conn, checkId: number, entryId: number) => conn('check_items').where({ check_id: checkId, entry_id: entryId }).first();

/** The current (highest) generation of each agency's check for a period. */
export async function currentChecks(conn: Conn, filter: { period?: string; unitIds?: number[]; checkerId?: number; status?: string }): Promise<any[]> {
  const q = conn('checks as c').whereNotExists(function () {
    this.select(conn.raw('1')).from('checks as c2').whereRaw('c2.unit_id = c.unit_id and c2.period = c.period and c2.generation > c.generation');
  });
  if (filter.period) q.where('c.period', filter.period);
  if (filter.unitIds) q.whereIn('c.unit_id', filter.unitIds);
  if (filter.checkerId) q.where('c.checker_id', filter.checkerId);
  if (filter.status) q.where('c.status', filter.status);
  return q.join('units as u', 'u.id', 'c.unit_id').leftJoin('users as k', 'k.id', 'c.checker_id')
    .orderBy([{ column: 'c.period', order: 'desc' }, { column: 'u.code' }])
    .select('c.*', 'u.code as unit_code', 'u.name as unit_name', 'k.account as checker_account', 'k.name as checker_name');
}

/** Entries (without subject ciphertext) by id, for display. */
export async function entriesByIds(conn: Conn, ids: number[]): Promise<Map<number, any>> {
  const out = new Map<number, any>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await conn('query_logs').whereIn('id', ids.slice(i, i + 500))
      .select('id', 'seq', 'user_id', 'account', 'unit_id', 'queried_at', 'op_code', 'scope_code', 'query_request_id', 'case_no', 'reason', 'subject_type', 'subject_mask', 'source', 'hash');
    for (const r of rows) out.set(Number(r.id), r);
  }
  return out;
}

export const insertAuditRecord = (conn: Conn, row: Record<string, unknown>): Promise<number> => insertId(conn, 'audit_records', row);

// --- the to-do list (server/todos, issue 18) ----------------------------------------------------

/**
 * Open checks' items this checker still has to judge (undecided, or explained and awaiting the
 * verdict), one row per check. Uses the items' checker index; no entry is read.
 */
export async function itemsToJudge(conn: Conn, checkerId: number): Promise<Array<{ check_id: number; period: string; n: number }>> {
  // Two queries, no join: the items through the (checker, verdict) index, then which of their checks
  // are open. Two plain conditions rather than one OR of ANDs, so the index is read as a range.
  const counts = await conn('check_items').where('checker_id', checkerId)
    .andWhere((w) => w.whereNull('verdict').orWhere('verdict', 'explanation-needed'))
    .andWhere((w) => w.whereNull('verdict').orWhereNotNull('explained_at'))
    .groupBy('check_id').select('check_id').count({ n: '*' });
  if (!counts.length) return [];
  const open = new Map<number, string>((await conn('checks').whereIn('id', counts.map((c: any) => Number(c.check_id))).andWhere('status', 'open').select('id', 'period')).map((c: any) => [Number(c.id), c.period]));
  return counts.filter((c: any) => open.has(Number(c.check_id))).map((c: any) => ({ check_id: Number(c.check_id), period: open.get(Number(c.check_id))!, n: Number(c.n) }));
}

/** The checker's open checks with how many of their items are not yet settled (sign-off waits for none). */
export const openChecksOf = (conn: Conn, checkerId: number): Promise<Array<{ id: number; period: string; unsettled: number }>> =>
  conn('checks as c').leftJoin('check_items as i', 'i.check_id', 'c.id')
    .where('c.checker_id', checkerId).andWhere('c.status', 'open')
    .groupBy('c.id', 'c.period').select('c.id', 'c.period')
    .select(conn.raw("sum(case when i.id is not null and (i.verdict is null or i.verdict not in ('proper', 'improper')) then 1 else 0 end) as unsettled"));

/** Open investigations this person takes part in. */
export const openInvestigationsOf = (conn: Conn, userId: number): Promise<Array<{ id: number; opened_at: number }>> =>
  conn('investigation_participants as p').join('investigations as v', 'v.id', 'p.investigation_id')
    .where('p.user_id', userId).andWhere('v.status', 'open').distinct('v.id', 'v.opened_at').orderBy('v.id');

// --- the checker workflow (service.ts) -----------------------------------------------------------

/** A check with its agency's code and name and its checker's account. */
export const checkWithUnit = (conn: Conn, id: number): Promise<any | undefined> =>
  conn('checks as c').join('units as u', 'u.id', 'c.unit_id').leftJoin('users as k', 'k.id', 'c.checker_id').where('c.id', id)
    .first('c.*', 'u.code as unit_code', 'u.name as unit_name', 'u.has_sections', 'k.account as checker_account', 'k.name as checker_name');
export const itemBySourceRecord = (conn: Conn, checkId: number, sourceRecordId: number) =>
  conn('check_items').where({ check_id: checkId, source_record_id: sourceRecordId }).first();
export const updateItem = (conn: Conn, id: number, patch: Record<string, unknown>) => conn('check_items').where({ id }).update(patch);
export const updateCheck = (conn: Conn, id: number, patch: Record<string, unknown>) => conn('checks').where({ id }).update(patch);
/** Gives the patch (a verdict) to those of the items still undecided; returns how many it changed. */
export const decideUndecided = async (conn: Conn, itemIds: number[], patch: Record<string, unknown>): Promise<number> =>
  Number(await conn('check_items').whereIn('id', itemIds).whereNull('verdict').update(patch));
export const signOffCheck = (conn: Conn, id: number, by: number, at: number) =>
  conn('checks').where({ id, status: 'open' }).update({ status: 'signed-off', signed_off_by: by, signed_off_at: at });

export const lateRecordOf = (conn: Conn, sourceRecordId: number) => conn('late_records').where({ source_record_id: sourceRecordId }).first('id');
export const insertLateRecord = (conn: Conn, row: { source_record_id: number; entry_id: number; check_item_id: number; recorded_by: number; recorded_at: number }) =>
  conn('late_records').insert(row);

/** A clerk's permissions (scope × operation code) with their names, for a late record's form. */
export const permissionsNamed = (conn: Conn, userId: number): Promise<Array<{ scope: string; scope_title: string; op: string; op_name: string }>> =>
  conn('user_permissions as p').join('scopes as s', 's.id', 'p.scope_id').join('op_codes as o', 'o.id', 'p.op_code_id')
    .where('p.user_id', userId).orderBy(['s.sort', 'o.code']).select('s.code as scope', 's.title as scope_title', 'o.code as op', 'o.name as op_name');
/** A clerk's approved request forms, newest first. */
export const approvedFormsOf = (conn: Conn, userId: number, limit: number): Promise<any[]> =>
  conn('query_requests as r').join('scopes as s', 's.id', 'r.scope_id').where({ 'r.requester_id': userId, 'r.status': 'approved' })
    .orderBy('r.id', 'desc').limit(limit).select('r.id', 'r.case_no', 's.code as scope', 'r.valid_from', 'r.valid_to');

const ASKED_COLS = ['i.id', 'i.check_id', 'i.entry_id', 'i.source_record_id', 'i.note', 'i.explanation', 'i.explained_at', 'i.explanation_requested_at', 'c.period', 'u.name as unit_name'];
/** Open checks' items asking this clerk to explain a logged query of theirs. */
export const loggedExplanationsAsked = (conn: Conn, userId: number): Promise<any[]> =>
  conn('check_items as i').join('checks as c', 'c.id', 'i.check_id').join('query_logs as q', 'q.id', 'i.entry_id').join('units as u', 'u.id', 'c.unit_id')
    .where('q.user_id', userId).andWhere('c.status', 'open').andWhere('i.verdict', 'explanation-needed')
    .select(...ASKED_COLS, 'q.queried_at', 'q.case_no', 'q.reason', 'q.op_code', 'q.subject_mask');
/** The same for unlogged queries (issue 16): the source record's person explains, with any late record made. */
export const unloggedExplanationsAsked = (conn: Conn, userId: number): Promise<any[]> =>
  conn('check_items as i').join('checks as c', 'c.id', 'i.check_id').join('source_records as s', 's.id', 'i.source_record_id').join('units as u', 'u.id', 'c.unit_id')
    .leftJoin('late_records as l', 'l.source_record_id', 's.id')
    .whereNull('i.entry_id').where('s.user_id', userId).andWhere('c.status', 'open').andWhere('i.verdict', 'explanation-needed')
    .select(...ASKED_COLS, 's.occurred_at as queried_at', 's.op_code', 's.subject_mask', 's.subject_type', 'l.entry_id as late_entry_id');

// --- investigations (clause 5(二)) ---------------------------------------------------------------

/** Active staff of the units holding the role. */
export const activeStaffWithRole = (conn: Conn, unitIds: number[], role: string): Promise<Array<{ id: number; unit_id: number }>> =>
  whereActiveNow(conn('users as u').join('user_roles as r', 'r.user_id', 'u.id').whereIn('u.unit_id', unitIds), 'u.').andWhere('r.role', role).select('u.id', 'u.unit_id');
export const investigationById = (conn: Conn, id: number) => conn('investigations').where({ id }).first();
export const investigationOfItem = (conn: Conn, itemId: number) => conn('investigations').where({ check_item_id: itemId }).first('id');
export const investigationWithUnit = (conn: Conn, id: number) =>
  conn('investigations as v').join('units as u', 'u.id', 'v.unit_id').where('v.id', id).first('v.*', 'u.code as unit_code', 'u.name as unit_name');
export const insertInvestigation = (conn: Conn, row: Record<string, unknown>): Promise<number> => insertId(conn, 'investigations', row);
export const concludeInvestigation = (conn: Conn, id: number, patch: Record<string, unknown>) => conn('investigations').where({ id, status: 'open' }).update({ status: 'concluded', ...patch });
/** Investigations the person takes part in, and (an overseer) those of the units: all of them when `units` is 'all'. */
export function investigationsSeenBy(conn: Conn, userId: number, units: number[] | 'all' | null): Promise<any[]> {
  const mine = conn('investigation_participants').where({ user_id: userId }).select('investigation_id');
  return conn('investigations as v').join('units as u', 'u.id', 'v.unit_id').where((w) => {
    w.whereIn('v.id', mine);
    if (units === 'all') w.orWhereRaw('1 = 1');
    else if (units) w.orWhereIn('v.unit_id', units);
  }).orderBy('v.opened_at', 'desc').select('v.*', 'u.code as unit_code', 'u.name as unit_name');
}

export const isParticipant = async (conn: Conn, investigationId: number, userId: number, side?: string): Promise<boolean> =>
  !!(await conn('investigation_participants').where({ investigation_id: investigationId, user_id: userId, ...(side ? { side } : {}) }).first('user_id'));
export const insertParticipants = (conn: Conn, rows: Array<{ investigation_id: number; user_id: number; side: string; added_by: number; added_at: number }>) =>
  conn('investigation_participants').insert(rows);
export const participantSides = (conn: Conn, investigationId: number): Promise<string[]> =>
  conn('investigation_participants').where({ investigation_id: investigationId }).distinct('side').pluck('side');
export const participantsOf = (conn: Conn, investigationId: number): Promise<any[]> =>
  conn('investigation_participants as p').join('users as u', 'u.id', 'p.user_id').join('units as n', 'n.id', 'u.unit_id')
    .where('p.investigation_id', investigationId).orderBy(['p.side', 'u.account']).select('p.side', 'p.added_at', 'u.id', 'u.account', 'u.name', 'n.name as unit_name');
export const insertNote = (conn: Conn, row: { investigation_id: number; kind: string; body: string; evidence_ref: string | null; author_id: number; created_at: number }) =>
  conn('investigation_notes').insert(row);
/** The timeline, oldest first, with each author's account and name. */
export const notesOf = (conn: Conn, investigationId: number): Promise<any[]> =>
  conn('investigation_notes as n').leftJoin('users as u', 'u.id', 'n.author_id').where('n.investigation_id', investigationId).orderBy(['n.created_at', 'n.id'])
    .select('n.*', 'u.account as author_account', 'u.name as author_name');

export const auditRecordById = (conn: Conn, id: number) => conn('audit_records').where({ id }).first();
/** The record that supersedes this one, if any. */
export const supersedingRecord = (conn: Conn, id: number) => conn('audit_records').where({ supersedes_id: id }).first('id');
/** An investigation's records other than its first (the corrections, oldest first), with each signer's account. */
export const recordCorrections = (conn: Conn, investigationId: number, firstId: number): Promise<any[]> =>
  conn('audit_records as a').leftJoin('users as u', 'u.id', 'a.signed_by').where({ 'a.source_type': 'investigation', 'a.source_id': investigationId }).whereNot('a.id', firstId)
    .orderBy('a.id').select('a.*', 'u.account as signer');
/** The newest record of an investigation (its latest correction, or the conclusion's own). */
export const latestRecordIdOf = async (conn: Conn, investigationId: number): Promise<number | null> => {
  const r = await conn('audit_records').where({ source_type: 'investigation', source_id: investigationId }).max('id as id').first();
  return r?.id == null ? null : Number(r.id);
};
/** An account that can act now (accounts/active.ts), for adding it to an investigation. */
export const activeUserByAccount = (conn: Conn, account: string): Promise<{ id: number; unit_id: number } | undefined> =>
  whereActiveNow(conn('users').where({ account })).first('id', 'unit_id');
