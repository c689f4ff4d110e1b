// Reconciliation results: knex only, no policy. Reads the imported source records (the import
// half's tables) and the query log in the order matching needs, and stores runs and findings.
import type { Conn } from '../db.ts';
import { insertChunked, isMysql, pagesAhead, selectArrays } from '../db.ts';
import type { Item } from './matching.ts';
import { taipeiDayIndexSql } from '../time.ts';

export const PAGE = 5000;

export interface SourceRow { id: number; code: string; name: string; kind: 'records' | 'counts'; complete: boolean }

/** The sources with imports for the units and period, and those imports' ids. */
export async function sourcesWithImports(conn: Conn, unitIds: number[], period: string): Promise<Array<SourceRow & { importIds: number[] }>> {
  const rows: any[] = await conn('reconcile_imports as i').join('reconcile_sources as s', 's.id', 'i.source_id')
    .whereIn('i.unit_id', unitIds).andWhere('i.period', period).whereNull('i.withdrawn_at') // a withdrawn import leaves matching (0080)
    .orderBy(['s.id', 'i.id'])
    .select('s.id', 's.code', 's.name', 's.kind', 's.complete', 'i.id as import_id');
  const out = new Map<number, SourceRow & { importIds: number[] }>();
  for (const r of rows) {
    const id = Number(r.id);
    const s = out.get(id) ?? { id, code: r.code, name: r.name, kind: r.kind, complete: Boolean(r.complete), importIds: [] as number[] };
    s.importIds.push(Number(r.import_id));
    out.set(id, s);
  }
  return [...out.values()];
}

/**
 * Records imported before their account was linked have no person: they take the link's person
 * now (only where none is set, so an import's resolution is never rewritten).
 */
export async function resolveLinks(conn: Conn, sourceId: number, importIds: number[]): Promise<number> {
  const link = conn('source_account_links as l').where('l.source_id', sourceId).whereRaw('l.source_account = source_records.source_account');
  return conn('source_records').whereIn('import_id', importIds).whereNull('user_id').whereExists(link.clone().select(conn.raw('1')))
    .update({ user_id: link.clone().select('l.user_id').limit(1) });
}

/** People with records in the imports (accounts linked to a person). */
export async function recordPeople(conn: Conn, importIds: number[]): Promise<number[]> {
  return (await conn('source_records').whereIn('import_id', importIds).whereNotNull('user_id').distinct('user_id').pluck('user_id')).map(Number);
}

/** People linked to the source whose account belongs to one of the units. */
export async function linkedPeople(conn: Conn, sourceId: number, unitIds: number[]): Promise<number[]> {
  return (await conn('source_account_links as l').join('users as u', 'u.id', 'l.user_id').where('l.source_id', sourceId).whereIn('u.unit_id', unitIds).distinct('l.user_id').pluck('l.user_id')).map(Number);
}

/** Unknown accounts: records whose account is linked to nobody, counted per account. */
export async function unknownAccounts(conn: Conn, importIds: number[], countOnly: boolean): Promise<Array<{ account: string; records: number }>> {
  const q = conn('source_records').whereIn('import_id', importIds).whereNull('user_id').groupBy('source_account').select('source_account');
  const rows: any[] = await (countOnly ? q.sum({ n: 'count' }) : q.count({ n: '*' }));
  return rows.map((r) => ({ account: String(r.source_account), records: Number(r.n ?? 0) })).sort((a, b) => (a.account < b.account ? -1 : a.account > b.account ? 1 : 0));
}

/**
 * A person's records of the imports in (occurred_at, id) order, page by page: one range of the
 * covering (import_id, user_id, occurred_at, id, subject_hmac) index (migration 0062), no lookup
 * into the table (forced on MariaDB: the optimiser otherwise reads every record of the import for each person).
 */
export function recordsOf(conn: Conn, userId: number, importIds: number[]): AsyncGenerator<Item[]> {
  let lastAt = -Infinity;
  const table = isMysql(conn) ? conn.raw('?? FORCE INDEX (source_records_matching_index)', ['source_records']) : 'source_records';
  const fetch = async (after: number): Promise<Item[]> => {
    const q = conn.from(table as any).where('user_id', userId).whereIn('import_id', importIds);
    if (after >= 0) q.andWhere('occurred_at', '>=', lastAt).andWhere((w) => w.where('occurred_at', '>', lastAt).orWhere('id', '>', after));
    const raw = await selectArrays(q.orderBy([{ column: 'occurred_at' }, { column: 'id' }]).limit(PAGE), ['id', 'subject_hmac', 'occurred_at']);
    const rows = raw.map((a) => ({ id: Number(a[0]), subject: String(a[1]), at: Number(a[2]) }));
    if (rows.length) lastAt = rows[rows.length - 1].at;
    return rows;
  };
  return keyed(fetch);
}

/**
 * Where the units' entries in [from, to) lie in key order: how many, and the lowest and highest id
 * (from the (unit_id, queried_at) index alone: InnoDB and SQLite keep the key in every index).
 */
export async function entrySpan(conn: Conn, unitIds: number[], from: number, to: number): Promise<{ count: number; minId: number; maxId: number }> {
  const r: any = await conn('query_logs').whereIn('unit_id', unitIds).andWhere('queried_at', '>=', from).andWhere('queried_at', '<', to)
    .first(conn.raw('count(*) as n'), conn.raw('min(id) as lo'), conn.raw('max(id) as hi'));
  return { count: Number(r?.n ?? 0), minId: Number(r?.lo ?? 0), maxId: Number(r?.hi ?? 0) };
}

/**
 * The units' entries in [from, to) with ids in [minId, maxId], in key order, page by page (the next
 * page read while the caller works on this one): a read of the table in its own order, no lookup per
 * entry. The log is appended as queries happen, so the month is one stretch of keys.
 */
export function entriesByKey(conn: Conn, unitIds: number[], from: number, to: number, minId: number, maxId: number): AsyncGenerator<Array<Item & { user: number }>> {
  const fetch = async (after: number): Promise<Array<Item & { user: number }>> => {
    const q = conn('query_logs').where('id', '>', after).andWhere('id', '<=', maxId).whereIn('unit_id', unitIds).andWhere('queried_at', '>=', from).andWhere('queried_at', '<', to);
    const raw = await selectArrays(q.orderBy('id').limit(PAGE), ['id', 'user_id', 'subject_hmac', 'queried_at']);
    return raw.map((a) => ({ id: Number(a[0]), user: Number(a[1]), subject: String(a[2]), at: Number(a[3]) }));
  };
  return pagesAhead(fetch, (e) => e.id, minId - 1, PAGE);
}

/** Per person, how many entries in [from, to) (any unit: an upper bound), from the (user_id, queried_at) index alone. */
export async function entryCounts(conn: Conn, userIds: number[], from: number, to: number): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (let i = 0; i < userIds.length; i += 400) {
    const rows: any[] = await conn('query_logs').whereIn('user_id', userIds.slice(i, i + 400)).andWhere('queried_at', '>=', from).andWhere('queried_at', '<', to)
      .groupBy('user_id').select('user_id').count({ n: '*' });
    for (const r of rows) out.set(Number(r.user_id), Number(r.n));
  }
  return out;
}

/**
 * A person's entries in [from, to) in (queried_at, id) order, page by page, with their unit (the
 * caller keeps those of the agency). The (user_id, queried_at) index gives the order directly.
 */
export function entriesOf(conn: Conn, userId: number, from: number, to: number): AsyncGenerator<Array<Item & { unit: number }>> {
  let lastAt = from;
  const table = isMysql(conn) ? conn.raw('?? FORCE INDEX (query_logs_user_id_queried_at_index)', ['query_logs']) : 'query_logs';
  const fetch = async (after: number): Promise<Array<Item & { unit: number }>> => {
    const q = conn.from(table as any).where('user_id', userId).andWhere('queried_at', '<', to);
    if (after >= 0) q.andWhere('queried_at', '>=', lastAt).andWhere((w) => w.where('queried_at', '>', lastAt).orWhere('id', '>', after));
    else q.andWhere('queried_at', '>=', from);
    const raw = await selectArrays(q.orderBy([{ column: 'queried_at' }, { column: 'id' }]).limit(PAGE), ['id', 'subject_hmac', 'queried_at', 'unit_id']);
    const rows = raw.map((a) => ({ id: Number(a[0]), subject: String(a[1]), at: Number(a[2]), unit: Number(a[3]) }));
    if (rows.length) lastAt = rows[rows.length - 1].at;
    return rows;
  };
  return keyed(fetch);
}

// Pages by (time, id): `after` is the last id (−1 before the first page); the time is kept by the fetcher.
function keyed<T extends { id: number }>(fetch: (after: number) => Promise<T[]>): AsyncGenerator<T[]> {
  // Not read ahead: the time key of the next page is only known once this one has been read.
  return (async function* () {
    let after = -1;
    for (;;) {
      const rows = await fetch(after);
      if (!rows.length) return;
      yield rows;
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1].id;
    }
  })();
}

/** A count-only source's cells: per person and Taipei day, the source's count. */
export async function countCells(conn: Conn, importIds: number[]): Promise<Array<{ userId: number; at: number; count: number }>> {
  const rows: any[] = await conn('source_records').whereIn('import_id', importIds).whereNotNull('user_id').select('user_id', 'occurred_at', 'count');
  return rows.map((r) => ({ userId: Number(r.user_id), at: Number(r.occurred_at), count: Number(r.count ?? 0) }));
}

/** The log's counts per person and Taipei day (index 0 = 1970-01-01) in [from, to), entries of the units only. */
export async function logDayCounts(conn: Conn, userIds: number[], unitIds: number[], from: number, to: number): Promise<Array<{ userId: number; dayIndex: number; count: number }>> {
  const out: Array<{ userId: number; dayIndex: number; count: number }> = [];
  const day = taipeiDayIndexSql('queried_at', isMysql(conn));
  for (let i = 0; i < userIds.length; i += 400) {
    const rows: any[] = await conn('query_logs').whereIn('user_id', userIds.slice(i, i + 400)).whereIn('unit_id', unitIds).andWhere('queried_at', '>=', from).andWhere('queried_at', '<', to)
      .groupByRaw(`user_id, ${day}`).select('user_id', conn.raw(`${day} as d`)).count({ n: '*' });
    for (const r of rows) out.push({ userId: Number(r.user_id), dayIndex: Number(r.d), count: Number(r.n) });
  }
  return out;
}

/** Entries of the units in [from, to). */
export async function countEntries(conn: Conn, unitIds: number[], from: number, to: number): Promise<number> {
  const r = await conn('query_logs').whereIn('unit_id', unitIds).andWhere('queried_at', '>=', from).andWhere('queried_at', '<', to).count({ n: '*' }).first();
  return Number(r?.n ?? 0);
}

export async function latestGeneration(conn: Conn, unitId: number, period: string): Promise<number> {
  const r = await conn('reconcile_runs').where({ unit_id: unitId, period }).max('generation as g').first();
  return Number(r?.g ?? 0);
}

export async function insertRun(conn: Conn, row: Record<string, unknown>): Promise<number> {
  const [id] = await conn('reconcile_runs').insert(row);
  if (typeof id === 'number' && id > 0) return id;
  return Number((await conn('reconcile_runs').where({ unit_id: row.unit_id, period: row.period, generation: row.generation }).first('id')).id);
}

export const insertRunSources = (conn: Conn, rows: Record<string, unknown>[]) => insertChunked(conn, 'reconcile_run_sources', rows);
export const insertFindings = (conn: Conn, rows: Record<string, unknown>[]) => insertChunked(conn, 'reconcile_findings', rows, 400);

/** The current run of each agency and period asked for. */
export function currentRuns(conn: Conn, f: { period?: string; unitIds?: number[]; periodsFrom?: string; periodsTo?: string }) {
  const q = conn('reconcile_runs as r').join('units as u', 'u.id', 'r.unit_id').where('r.status', 'current');
  if (f.period) q.where('r.period', f.period);
  if (f.periodsFrom) q.where('r.period', '>=', f.periodsFrom);
  if (f.periodsTo) q.where('r.period', '<=', f.periodsTo);
  if (f.unitIds) q.whereIn('r.unit_id', f.unitIds);
  return q.orderBy([{ column: 'r.period', order: 'desc' }, { column: 'u.code' }]).select('r.*', 'u.code as unit_code', 'u.name as unit_name');
}

export function runById(conn: Conn, id: number) {
  return conn('reconcile_runs as r').join('units as u', 'u.id', 'r.unit_id').leftJoin('users as c', 'c.id', 'r.created_by').where('r.id', id)
    .first('r.*', 'u.code as unit_code', 'u.name as unit_name', 'c.account as created_by_account');
}

export function runSources(conn: Conn, runIds: number[]) {
  return conn('reconcile_run_sources as x').join('reconcile_sources as s', 's.id', 'x.source_id').whereIn('x.run_id', runIds).orderBy(['x.run_id', 's.id'])
    .select('x.*', 's.code', 's.name');
}

/** Findings of a run, one page by id, with what a reader needs to see (masked subject, clerk). */
export function findingsOf(conn: Conn, runId: number, f: { kind?: string; after?: number; limit: number }) {
  const q = conn('reconcile_findings as f').leftJoin('source_records as s', 's.id', 'f.source_record_id').leftJoin('query_logs as q', 'q.id', 'f.entry_id')
    .leftJoin('users as u', 'u.id', 'f.user_id').leftJoin('reconcile_sources as src', 'src.id', 'f.source_id')
    .where('f.run_id', runId);
  if (f.kind) q.where('f.kind', f.kind);
  if (f.after) q.where('f.id', '>', f.after);
  return q.orderBy('f.id').limit(f.limit).select(
    'f.*', 'src.code as source_code', 'src.name as source_name', 'u.account', 'u.name as user_name',
    's.subject_mask as record_subject_mask', 's.op_code as record_op_code', 'q.subject_mask as entry_subject_mask', 'q.op_code as entry_op_code', 'q.case_no',
  );
}

export async function findingCounts(conn: Conn, runId: number): Promise<Record<string, number>> {
  const rows: any[] = await conn('reconcile_findings').where({ run_id: runId }).groupBy('kind').select('kind').count({ n: '*' });
  return Object.fromEntries(rows.map((r) => [r.kind, Number(r.n)]));
}
