// Reconciliation sources, mappings, account links and imports: knex only, no policy. JSON columns
// are parsed and written here, in one place.
import type { Conn } from '../db.ts';
import { insertChunked, insertId, parseJson } from '../db.ts';
import type { DateStyle, Encoding, MappingColumns, SourceKind } from './rules.ts';

export interface SourceRow { id: number; code: string; name: string; kind: SourceKind; complete: boolean; unit_id: number | null; created_by: number | null; created_at: number; unit_code?: string | null; unit_name?: string | null }
export interface MappingRow { id: number; source_id: number; version: number; columns: MappingColumns; encoding: Encoding; date_style: DateStyle; header_row: number; created_by: number | null; created_at: number; creator?: string | null }
export interface LinkRow { id: number; source_id: number; user_id: number; source_account: string; created_by: number | null; created_at: number; account?: string; name?: string; unit_id?: number; unit_name?: string }
export interface ImportRow {
  id: number; source_id: number; mapping_id: number; unit_id: number; period: string; file_name: string; file_sha256: string; row_count: number;
  imported_by: number | null; via: string; imported_at: number;
  /** Withdrawal (0080): when, by whom (null: the command line), why; live_slot 0 while live, null once withdrawn. */
  withdrawn_at?: number | null; withdrawn_by?: number | null; withdraw_reason?: string | null; live_slot?: number | null; withdrawer?: string | null;
  source_code?: string; source_name?: string; source_kind?: SourceKind; unit_code?: string; unit_name?: string; importer?: string | null; mapping_version?: number;
}

const toSource = (r: any): SourceRow => ({ ...r, id: Number(r.id), complete: Boolean(r.complete), unit_id: r.unit_id == null ? null : Number(r.unit_id), created_at: Number(r.created_at) });
const toMapping = (r: any): MappingRow => ({ ...r, id: Number(r.id), source_id: Number(r.source_id), version: Number(r.version), header_row: Number(r.header_row), columns: parseJson<MappingColumns>(r.columns, { account: '', date: '' }), created_at: Number(r.created_at) });
const toImport = (r: any): ImportRow => ({ ...r, id: Number(r.id), source_id: Number(r.source_id), mapping_id: Number(r.mapping_id), unit_id: Number(r.unit_id), row_count: Number(r.row_count), imported_at: Number(r.imported_at), withdrawn_at: r.withdrawn_at == null ? null : Number(r.withdrawn_at), ...(r.mapping_version != null ? { mapping_version: Number(r.mapping_version) } : {}) });

// --- sources ------------------------------------------------------------------------------------

const sourceQuery = (conn: Conn) => conn('reconcile_sources as s').leftJoin('units as u', 'u.id', 's.unit_id').select('s.*', 'u.code as unit_code', 'u.name as unit_name');

/** Sources owned by the agencies given, and the county-wide ones when `countyWide`. */
export async function listSources(conn: Conn, agencyIds: number[], countyWide: boolean): Promise<SourceRow[]> {
  const q = sourceQuery(conn).orderBy('s.code');
  q.where((w) => {
    w.whereIn('s.unit_id', agencyIds.length ? agencyIds : [-1]);
    if (countyWide) w.orWhereNull('s.unit_id');
  });
  return (await q).map(toSource);
}
export const sourceById = async (conn: Conn, id: number): Promise<SourceRow | undefined> => {
  const r = await sourceQuery(conn).where('s.id', id).first();
  return r ? toSource(r) : undefined;
};
export const sourceByCode = async (conn: Conn, code: string): Promise<SourceRow | undefined> => {
  const r = await sourceQuery(conn).where('s.code', code).first();
  return r ? toSource(r) : undefined;
};
export const insertSource = (conn: Conn, row: { code: string; name: string; kind: SourceKind; complete: boolean; unit_id: number | null; created_by: number | null; created_at: number }) =>
  insertId(conn, 'reconcile_sources', row);
export const updateSource = (conn: Conn, id: number, patch: { name?: string; complete?: boolean }) => conn('reconcile_sources').where({ id }).update(patch);

// --- mappings -----------------------------------------------------------------------------------

export async function latestMapping(conn: Conn, sourceId: number): Promise<MappingRow | undefined> {
  const r = await conn('reconcile_mappings').where({ source_id: sourceId }).orderBy('version', 'desc').first();
  return r ? toMapping(r) : undefined;
}
export async function mappingsOf(conn: Conn, sourceId: number): Promise<MappingRow[]> {
  const rows = await conn('reconcile_mappings as m').leftJoin('users as u', 'u.id', 'm.created_by').where('m.source_id', sourceId).orderBy('m.version', 'desc').select('m.*', 'u.account as creator');
  return rows.map(toMapping);
}
/** Inserts the next version of the source's mapping; the unique (source, version) refuses a racing twin. */
export async function insertMapping(conn: Conn, row: { source_id: number; columns: MappingColumns; encoding: Encoding; date_style: DateStyle; header_row: number; created_by: number | null; created_at: number }): Promise<{ id: number; version: number }> {
  const top = await conn('reconcile_mappings').where({ source_id: row.source_id }).max({ v: 'version' }).first();
  const version = Number(top?.v ?? 0) + 1;
  const id = await insertId(conn, 'reconcile_mappings', { ...row, version, columns: JSON.stringify(row.columns) });
  return { id, version };
}

// --- account links ------------------------------------------------------------------------------

/** A source's links, with the person; only people of the units given (null: every unit). */
export async function linksOf(conn: Conn, sourceId: number, unitIds: number[] | null): Promise<LinkRow[]> {
  const q = conn('source_account_links as l').join('users as u', 'u.id', 'l.user_id').join('units as n', 'n.id', 'u.unit_id')
    .where('l.source_id', sourceId).orderBy(['u.account', 'l.id'])
    .select('l.*', 'u.account', 'u.name', 'u.unit_id', 'n.name as unit_name');
  if (unitIds) q.whereIn('u.unit_id', unitIds.length ? unitIds : [-1]);
  return (await q).map((r: any) => ({ ...r, id: Number(r.id), source_id: Number(r.source_id), user_id: Number(r.user_id), unit_id: Number(r.unit_id), created_at: Number(r.created_at) }));
}
export const linkById = (conn: Conn, id: number): Promise<LinkRow | undefined> => conn('source_account_links').where({ id }).first();
export const linkByAccount = (conn: Conn, sourceId: number, sourceAccount: string): Promise<LinkRow | undefined> => conn('source_account_links').where({ source_id: sourceId, source_account: sourceAccount }).first();
export const linksOfUser = (conn: Conn, sourceId: number, userId: number): Promise<LinkRow[]> => conn('source_account_links').where({ source_id: sourceId, user_id: userId });
export const insertLink = (conn: Conn, row: { source_id: number; user_id: number; source_account: string; created_by: number | null; created_at: number }) => insertId(conn, 'source_account_links', row);
export const deleteLink = (conn: Conn, id: number) => conn('source_account_links').where({ id }).del();

/** Source account → person, for every link of the source. */
export async function linkMap(conn: Conn, sourceId: number): Promise<Map<string, number>> {
  const rows = await conn('source_account_links').where({ source_id: sourceId }).select('source_account', 'user_id');
  return new Map(rows.map((r: any) => [String(r.source_account), Number(r.user_id)]));
}

// --- imports ------------------------------------------------------------------------------------

const importQuery = (conn: Conn) => conn('reconcile_imports as i')
  .join('reconcile_sources as s', 's.id', 'i.source_id').join('units as u', 'u.id', 'i.unit_id')
  .join('reconcile_mappings as m', 'm.id', 'i.mapping_id').leftJoin('users as p', 'p.id', 'i.imported_by').leftJoin('users as w', 'w.id', 'i.withdrawn_by')
  .select('i.*', 's.code as source_code', 's.name as source_name', 's.kind as source_kind', 'u.code as unit_code', 'u.name as unit_name', 'p.account as importer', 'm.version as mapping_version', 'w.account as withdrawer');

export async function listImports(conn: Conn, agencyIds: number[], f: { period?: string; sourceId?: number; unitId?: number; limit?: number } = {}): Promise<ImportRow[]> {
  const q = importQuery(conn).whereIn('i.unit_id', agencyIds.length ? agencyIds : [-1]).orderBy([{ column: 'i.imported_at', order: 'desc' }, { column: 'i.id', order: 'desc' }]).limit(f.limit ?? 200);
  if (f.period) q.where('i.period', f.period);
  if (f.sourceId) q.where('i.source_id', f.sourceId);
  if (f.unitId) q.where('i.unit_id', f.unitId);
  return (await q).map(toImport);
}
export const importById = async (conn: Conn, id: number): Promise<ImportRow | undefined> => {
  const r = await importQuery(conn).where('i.id', id).first();
  return r ? toImport(r) : undefined;
};
export const importBySha = (conn: Conn, sourceId: number, sha256: string): Promise<{ id: number; unit_id: number } | undefined> =>
  conn('reconcile_imports').where({ source_id: sourceId, file_sha256: sha256 }).first('id', 'unit_id');
/** The live (not withdrawn) import of a source for an agency and month, if any. */
export const liveImport = (conn: Conn, sourceId: number, unitId: number, period: string): Promise<{ id: number; file_name: string } | undefined> =>
  conn('reconcile_imports').where({ source_id: sourceId, unit_id: unitId, period }).whereNull('withdrawn_at').orderBy('id').first('id', 'file_name');

/** Marks a live import withdrawn (its records stay); 0 when it was no longer live (a concurrent withdrawal). */
export const withdrawImportRow = (conn: Conn, id: number, row: { withdrawn_at: number; withdrawn_by: number | null; withdraw_reason: string }): Promise<number> =>
  conn('reconcile_imports').where({ id }).whereNull('withdrawn_at').update({ ...row, live_slot: null });

export const insertImport = (conn: Conn, row: Omit<ImportRow, 'id'>) => insertId(conn, 'reconcile_imports', row as unknown as Record<string, unknown>);

export interface SourceRecordInsert {
  import_id: number; row_no: number; source_account: string; user_id: number | null; occurred_at: number;
  subject_type: string | null; subject_hmac: string | null; subject_cipher: string | null; subject_mask: string | null; op_code: string | null; count: number | null;
}
export const insertRecords = (conn: Conn, rows: SourceRecordInsert[]) => insertChunked(conn, 'source_records', rows as unknown as Record<string, unknown>[]);

/** Records of an import, and how many of them no link names (their accounts are unknown). */
export async function importFigures(conn: Conn, importId: number): Promise<{ records: number; unknownRecords: number; unknownAccounts: number; counted: number }> {
  const all = await conn('source_records').where({ import_id: importId }).count({ n: '*' }).sum({ c: 'count' }).first();
  const unknown = await conn('source_records').where({ import_id: importId }).whereNull('user_id').count({ n: '*' }).countDistinct({ a: 'source_account' }).first();
  return { records: Number(all?.n ?? 0), counted: Number(all?.c ?? 0), unknownRecords: Number(unknown?.n ?? 0), unknownAccounts: Number(unknown?.a ?? 0) };
}

/** The first records of an import (masked subjects only), for its page. */
export function recordsOf(conn: Conn, importId: number, limit = 50) {
  return conn('source_records as r').leftJoin('users as u', 'u.id', 'r.user_id').where('r.import_id', importId).orderBy('r.row_no').limit(limit)
    .select('r.id', 'r.row_no', 'r.source_account', 'r.user_id', 'u.account', 'r.occurred_at', 'r.subject_type', 'r.subject_mask', 'r.op_code', 'r.count');
}

/** Users by account, with their unit, for links. */
export const userByAccount = (conn: Conn, account: string): Promise<{ id: number; account: string; unit_id: number; status: string } | undefined> =>
  conn('users').where({ account }).first('id', 'account', 'unit_id', 'status');
