// Read-only counts for the county dashboard. Counts only — no personal data leaves these queries.
// Tables of capabilities that may not be migrated yet are checked first, so the page still works.
import type { Conn } from '../db.ts';
import { monthRange } from '../time.ts';

const present = new Map<string, boolean>();
/** True when the table exists (remembered once found; a missing table is looked up again). */
export async function hasTable(conn: Conn, table: string): Promise<boolean> {
  if (present.get(table)) return true;
  const ok = await conn.schema.hasTable(table);
  if (ok) present.set(table, true);
  return ok;
}

/** Query log entries per unit for each month: Map month → Map unitId → count. */
export async function volumeByUnit(conn: Conn, months: string[], unitIds: number[] | null): Promise<Map<string, Map<number, number>>> {
  const out = new Map<string, Map<number, number>>();
  for (const m of months) {
    const [from, to] = monthRange(m);
    const q = conn('query_logs').where('queried_at', '>=', from).andWhere('queried_at', '<', to).groupBy('unit_id').select('unit_id').count({ n: '*' });
    if (unitIds) q.whereIn('unit_id', unitIds);
    const rows: any[] = await q;
    out.set(m, new Map(rows.map((r) => [Number(r.unit_id), Number(r.n)])));
  }
  return out;
}

export interface CheckCount { id: number; unitId: number; period: string; population: number; status: string; signedOffAt: number | null; flagged: number }

/** The current (not superseded) checks of the periods, with their number of risk-flagged items. */
export async function checksIn(conn: Conn, periods: string[], unitIds: number[] | null): Promise<CheckCount[]> {
  if (!(await hasTable(conn, 'checks'))) return [];
  const q = conn('checks').whereIn('period', periods).whereNot('status', 'superseded').select('id', 'unit_id', 'period', 'population', 'status', 'signed_off_at');
  if (unitIds) q.whereIn('unit_id', unitIds);
  const rows: any[] = await q.orderBy('id');
  const flagged = new Map<number, number>();
  if (rows.length && (await hasTable(conn, 'check_items'))) {
    const ids = rows.map((r) => Number(r.id));
    for (let i = 0; i < ids.length; i += 400) {
      const f: any[] = await conn('check_items').whereIn('check_id', ids.slice(i, i + 400)).where('basis', 'like', 'flag:%').groupBy('check_id').select('check_id').count({ n: '*' });
      for (const r of f) flagged.set(Number(r.check_id), Number(r.n));
    }
  }
  return rows.map((r) => ({
    id: Number(r.id), unitId: Number(r.unit_id), period: r.period, population: Number(r.population), status: r.status,
    signedOffAt: r.signed_off_at == null ? null : Number(r.signed_off_at), flagged: flagged.get(Number(r.id)) ?? 0,
  }));
}

export interface ReviewSummary { id: number; period: string; startedAt: number; finishedAt: number | null; usersChecked: number; findings: number }

/** The latest account review and its findings per unit and status. */
export async function latestReview(conn: Conn, unitIds: number[] | null): Promise<{ review: ReviewSummary | null; items: Array<{ unitId: number; status: string; n: number }> }> {
  if (!(await hasTable(conn, 'account_reviews'))) return { review: null, items: [] };
  // The latest full review and the top-ups after it (issue 17): a top-up reviews only the agencies
  // added since, so on its own it would hide the others' findings.
  const recent: any[] = await conn('account_reviews').orderBy('started_at', 'desc').orderBy('id', 'desc').limit(50).select('id', 'period', 'started_at', 'finished_at', 'users_checked', 'findings', 'summary');
  const chosen: any[] = [];
  for (const x of recent) {
    chosen.push(x);
    if (!(typeof x.summary === 'string' && x.summary.includes('"topUp":true'))) break;
  }
  const r: any = chosen[0] && { ...chosen[0], users_checked: chosen.reduce((s, x) => s + Number(x.users_checked), 0), findings: chosen.reduce((s, x) => s + Number(x.findings), 0) };
  if (!r) return { review: null, items: [] };
  const q = conn('review_items').whereIn('review_id', chosen.map((x) => x.id)).groupBy('unit_id', 'status').select('unit_id', 'status').count({ n: '*' });
  if (unitIds) q.whereIn('unit_id', unitIds);
  const items: any[] = await q;
  return {
    review: { id: Number(r.id), period: r.period, startedAt: Number(r.started_at), finishedAt: r.finished_at == null ? null : Number(r.finished_at), usersChecked: Number(r.users_checked), findings: Number(r.findings) },
    items: items.map((x) => ({ unitId: Number(x.unit_id), status: x.status, n: Number(x.n) })),
  };
}

/** Each unit's annual filing of the year: its first submission (on time or not) and any acknowledgement. */
export async function filingsOf(conn: Conn, year: number, unitIds: number[] | null): Promise<Map<number, { submittedAt: number; acknowledgedAt: number | null }>> {
  const out = new Map<number, { submittedAt: number; acknowledgedAt: number | null }>();
  if (!(await hasTable(conn, 'annual_filings'))) return out;
  const q = conn('annual_filings').where({ year }).orderBy('submitted_at').orderBy('id').select('unit_id', 'submitted_at', 'acknowledged_at');
  if (unitIds) q.whereIn('unit_id', unitIds);
  for (const r of (await q) as any[]) {
    const prev = out.get(Number(r.unit_id));
    const ack = r.acknowledged_at == null ? null : Number(r.acknowledged_at);
    out.set(Number(r.unit_id), { submittedAt: prev?.submittedAt ?? Number(r.submitted_at), acknowledgedAt: prev?.acknowledgedAt ?? ack });
  }
  return out;
}

export interface ReconcileCount { unitId: number; period: string; records: number; unknownRecords: number; matched: number; unlogged: number; unconfirmed: number; unknownAccounts: number }

/** The current reconciliation run of each agency and period asked for (issue 16): its figures only. */
export async function reconciliationsIn(conn: Conn, periods: string[], unitIds: number[] | null): Promise<ReconcileCount[]> {
  if (!(await hasTable(conn, 'reconcile_runs'))) return [];
  const q = conn('reconcile_runs').whereIn('period', periods).where('status', 'current')
    .select('unit_id', 'period', 'source_records', 'unknown_records', 'matched', 'unlogged', 'unconfirmed', 'unknown_accounts');
  if (unitIds) q.whereIn('unit_id', unitIds);
  return ((await q) as any[]).map((r) => ({
    unitId: Number(r.unit_id), period: r.period, records: Number(r.source_records), unknownRecords: Number(r.unknown_records), matched: Number(r.matched),
    unlogged: Number(r.unlogged), unconfirmed: Number(r.unconfirmed), unknownAccounts: Number(r.unknown_accounts),
  }));
}
