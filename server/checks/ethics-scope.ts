// What ethics staff may see of the query log: what their investigations cover (clause 4(一)2–3,
// 5(二)). A leaf module that reads the investigation tables only, so the query log's visibility can
// import it directly: no hook registered at import time, no import circle with checks/service.ts.
import type { Conn } from '../db.ts';
import { allUnits, subtreeOf } from '../accounts/units.ts';
import { localMonth, monthRange } from '../time.ts';

/**
 * Query log entries an ethics (政風) participant may see: those their investigations cover. The
 * query-log capability's visibility rules call this.
 */
export async function investigationEntryIds(conn: Conn, userId: number): Promise<number[]> {
  const ids = await conn('investigations as v').join('investigation_participants as p', 'p.investigation_id', 'v.id')
    .where('p.user_id', userId).whereNotNull('v.entry_id').distinct('v.entry_id').pluck('v.entry_id');
  return ids.map(Number);
}

/**
 * What an ethics participant's investigations cover, as query-log visibility ranges: the
 * investigated clerk's entries in the agency during the checked month (the entry itself and its
 * context). Read by the query log's visibility (queries/service.ts).
 */
export async function ethicsRanges(conn: Conn, userId: number): Promise<Array<{ unitIds: number[]; from?: number; to?: number; userIds?: number[] }>> {
  // An unlogged query's investigation has no entry: its clerk is the source record's person.
  const rows = await conn('investigations as v').join('investigation_participants as p', 'p.investigation_id', 'v.id')
    .leftJoin('checks as c', 'c.id', 'v.check_id').leftJoin('query_logs as q', 'q.id', 'v.entry_id')
    .leftJoin('check_items as ci', 'ci.id', 'v.check_item_id').leftJoin('source_records as sr', 'sr.id', 'ci.source_record_id')
    .where({ 'p.user_id': userId, 'p.side': 'ethics' }).distinct('v.id', 'v.unit_id', 'c.period', conn.raw('coalesce(q.user_id, sr.user_id) as user_id'), 'q.queried_at');
  if (!rows.length) return [];
  const units = await allUnits(conn);
  return rows.map((r: any) => {
    const period = r.period ?? (r.queried_at != null ? localMonth(Number(r.queried_at)) : null);
    const [from, to] = period ? monthRange(period) : [undefined, undefined];
    return { unitIds: subtreeOf(units, Number(r.unit_id)), from, to, ...(r.user_id != null ? { userIds: [Number(r.user_id)] } : {}) };
  });
}
