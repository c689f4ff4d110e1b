// Unlogged queries in the monthly check (issue 16, clause 5(一)(二)): a query the source system
// recorded and the log lacks joins that month's check as a mandatory item (basis 'unlogged'), on
// top of the random sample and the flags. The item points at the source record (entry_id null);
// the clerk is asked to explain at once; a late record (補登) links the entry recorded now to it.
// The random draw is untouched: its population, digest and sample never read these items, so
// `checks verify` answers the same before and after.
import type { Conn } from '../db.ts';
import type { UnitRow } from '../accounts/units.ts';
import { now } from '../time.ts';
import * as repo from './repo.ts';
import { agencyPeople, assign } from './sampling.ts';

export const UNLOGGED_BASIS = 'unlogged';
export const UNLOGGED_NOTE = '來源系統紀錄有此查詢，查詢日誌查無對應登錄（對帳：未登錄），請查詢人員說明；如係漏登，請補登並說明。';

/** An item is named by its entry id, or `r` and its source record id for an unlogged query. */
export type ItemKey = { entryId: number; sourceRecordId?: undefined } | { sourceRecordId: number; entryId?: undefined };

/** Parses a path segment naming an item: `123` (entry) or `r45` (source record). Null when malformed. */
export function parseItemKey(v: unknown): ItemKey | null {
  if (typeof v !== 'string') return null;
  if (/^\d{1,15}$/.test(v)) return { entryId: Number(v) };
  const m = /^r(\d{1,15})$/.exec(v);
  return m ? { sourceRecordId: Number(m[1]) } : null;
}
export const itemKeyOf = (i: { entry_id?: unknown; source_record_id?: unknown }): string => (i.entry_id != null ? String(i.entry_id) : `r${i.source_record_id}`);
export const keyLabel = (k: ItemKey): string => (k.entryId != null ? `查詢日誌第 ${k.entryId} 筆` : `來源紀錄第 ${k.sourceRecordId} 筆`);

/** The person who made each item's query: the entry's clerk, or the source record's linked person. */
export async function itemRecorders(conn: Conn, items: Array<{ entry_id?: unknown; source_record_id?: unknown }>): Promise<Array<number | null>> {
  const entries = await repo.entriesByIds(conn, items.filter((i) => i.entry_id != null).map((i) => Number(i.entry_id)));
  const records = await sourceRecordsByIds(conn, items.filter((i) => i.entry_id == null && i.source_record_id != null).map((i) => Number(i.source_record_id)));
  return items.map((i) => {
    const u = i.entry_id != null ? entries.get(Number(i.entry_id))?.user_id : records.get(Number(i.source_record_id))?.user_id;
    return u == null ? null : Number(u);
  });
}

/** Source records for display (masked subject only), with their source and the late entry if any. */
export async function sourceRecordsByIds(conn: Conn, ids: number[]): Promise<Map<number, any>> {
  const out = new Map<number, any>();
  if (!ids.length || !(await conn.schema.hasTable('source_records'))) return out;
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await conn('source_records as s').join('reconcile_imports as m', 'm.id', 's.import_id').join('reconcile_sources as src', 'src.id', 'm.source_id')
      .leftJoin('users as u', 'u.id', 's.user_id').leftJoin('late_records as l', 'l.source_record_id', 's.id')
      .whereIn('s.id', ids.slice(i, i + 500))
      .select('s.id', 's.user_id', 's.source_account', 's.occurred_at', 's.subject_type', 's.subject_hmac', 's.subject_mask', 's.op_code', 'src.code as source_code', 'src.name as source_name',
        'u.account', 'u.name as user_name', 'l.entry_id as late_entry_id', 'l.recorded_at as late_recorded_at');
    for (const r of rows) out.set(Number(r.id), r);
  }
  return out;
}

/**
 * Adds the unlogged records to the agency's current check of the period, when one is drawn and
 * open (records already in it are skipped). Not drawn yet: the sampling adds them when it draws.
 * Signed off: a signed check is never changed; the note says so and the findings stay on the
 * reconciliation's page. Returns how many items were added.
 */
export async function addUnloggedItems(trx: Conn, agency: UnitRow, period: string, unlogged: Array<{ sourceRecordId: number; userId: number | null }>): Promise<{ added: number; note: string | null }> {
  if (!unlogged.length) return { added: 0, note: null };
  const c = await trx('checks').where({ unit_id: agency.id, period }).orderBy('generation', 'desc').first();
  if (!c) return { added: 0, note: 'not-drawn' };
  if (c.status !== 'open') return { added: 0, note: c.status === 'signed-off' ? 'signed-off' : 'superseded' };
  const have = new Set((await trx('check_items').where({ check_id: c.id }).whereNotNull('source_record_id').pluck('source_record_id')).map(Number));
  const fresh = unlogged.filter((u) => !have.has(u.sourceRecordId));
  await insertUnloggedItems(trx, agency, { id: Number(c.id), checker_id: c.checker_id == null ? null : Number(c.checker_id) }, fresh);
  return { added: fresh.length, note: null };
}

/** Inserts unlogged items into a check: its checker, unless the clerk is that checker (then another, as for any item). */
export async function insertUnloggedItems(trx: Conn, agency: UnitRow, check: { id: number; checker_id: number | null }, unlogged: Array<{ sourceRecordId: number; userId: number | null }>): Promise<void> {
  if (!unlogged.length) return;
  const { eligible, heads } = await agencyPeople(trx, agency);
  const checker = check.checker_id;
  const ordered = checker == null ? [] : [...eligible.filter((u) => u.id === checker), ...eligible.filter((u) => u.id !== checker)];
  const a = ordered.length ? assign(ordered, heads, new Map(ordered.map((u) => [u.id, u.id === checker ? -1 : 0])), unlogged.map((u) => u.userId ?? -1)) : null;
  const t = now();
  await repo.insertItems(trx, unlogged.map((u, i) => ({
    check_id: check.id, entry_id: null, source_record_id: u.sourceRecordId, basis: UNLOGGED_BASIS, flags: '', sort_key: null,
    checker_id: a ? a.itemCheckers[i] : null,
    // The clerk explains every unlogged query: asked at once, the checker then decides.
    verdict: 'explanation-needed', note: UNLOGGED_NOTE, explanation_requested_at: t,
  })));
}

/** For the sampling: the unlogged records of the agency's current reconciliation of the period. */
export async function unloggedForSampling(conn: Conn, agencyId: number, period: string): Promise<Array<{ sourceRecordId: number; userId: number | null }>> {
  if (!(await conn.schema.hasTable('reconcile_runs'))) return [];
  const run = await conn('reconcile_runs').where({ unit_id: agencyId, period, status: 'current' }).first('id');
  if (!run) return [];
  const rows: any[] = await conn('reconcile_findings').where({ run_id: run.id, kind: 'unlogged' }).orderBy('source_record_id').select('source_record_id', 'user_id');
  return rows.map((r) => ({ sourceRecordId: Number(r.source_record_id), userId: r.user_id == null ? null : Number(r.user_id) }));
}
