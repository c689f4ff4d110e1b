// Demo reconciliation data for `seed-demo`: the NHI administration's query record as a county-wide
// source (計畫處 provides it), its mapping (Big5 CSV, ROC compact dates), every demo clerk's account
// at it, and last month of the social affairs department imported through the real import: one
// source record for each of its entries with an ID subject (a little before the entry, as a clerk
// records after querying) and two queries no entry records (a clerk's lookups never logged).
import iconv from 'iconv-lite';
import type { JobContext } from '../../jobs/registry.ts';
import type { DemoAccount, DemoOptions } from '../capability.ts';
import { allUnits, subtreeOf } from '../accounts/units.ts';
import { generateNationalId, openEntrySubject } from '../queries/subject.ts';
import { localDate, localMonth, localParts, monthRange, now, previousMonth, startOfLocalDay } from '../time.ts';
import { insertLink, insertMapping, insertSource, sourceByCode } from './repo.ts';
import { importFile } from './service.ts';
import type { Actor } from '../actor.ts';

export const DEMO_SOURCE = 'NHI-VPN';
export const DEMO_AGENCY = 'SOC';
export const DEMO_COLUMNS = { account: '使用者代號', date: '查詢日期', time: '查詢時間', subject: '身分證號', opCode: '作業代號' };

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
/** A Taipei instant as the source writes it: ROC compact date and HH:MM:SS. */
function rocCompact(ms: number): { date: string; time: string } {
  const p = localParts(ms);
  return { date: `${p.year - 1911}${pad(p.month)}${pad(p.day)}`, time: `${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}` };
}

export async function seedReconcileDemo(ctx: JobContext, opts: DemoOptions): Promise<DemoAccount[]> {
  const { db, cfg } = ctx;
  if (await sourceByCode(db, DEMO_SOURCE)) return []; // idempotent
  const units = await allUnits(db);
  const agency = units.find((u) => u.code === DEMO_AGENCY);
  const planner = await db('users as u').join('user_roles as r', 'r.user_id', 'u.id').join('units as n', 'n.id', 'u.unit_id')
    .where({ 'r.role': 'planning_admin', 'n.kind': 'planning', 'u.status': 'active' }).orderBy('u.id').first('u.id', 'u.account', 'u.unit_id');
  if (!agency || !planner) return [];
  const t = now();
  const sourceId = await insertSource(db, { code: DEMO_SOURCE, name: '健保署健保資訊網服務系統（VPN）查詢紀錄', kind: 'records', complete: false, unit_id: null, created_by: Number(planner.id), created_at: t });
  await insertMapping(db, { source_id: sourceId, columns: DEMO_COLUMNS, encoding: 'big5', date_style: 'roc-compact', header_row: 1, created_by: Number(planner.id), created_at: t });

  // Every demo clerk's account at the NHI administration: agency code and a number, as it issues them.
  const clerks: Array<{ id: number; account: string; unit_id: number }> = await db('users as u').join('user_roles as r', 'r.user_id', 'u.id')
    .where('r.role', 'clerk').andWhere('u.account', 'like', '%.clerk%').orderBy('u.id').select('u.id', 'u.account', 'u.unit_id');
  const sourceAccount = new Map<number, string>();
  for (const [i, c] of clerks.entries()) {
    const code = `${c.account.split('.')[0].replace(/-/g, '').toUpperCase()}${pad(i + 1, 3)}`;
    sourceAccount.set(Number(c.id), code);
    await insertLink(db, { source_id: sourceId, user_id: Number(c.id), source_account: code, created_by: Number(planner.id), created_at: t });
  }

  const period = previousMonth(localMonth(t));
  const [from, to] = monthRange(period);
  const within = subtreeOf(units, Number(agency.id));
  const entries: any[] = await db('query_logs').whereIn('unit_id', within).where('queried_at', '>=', from).where('queried_at', '<', to)
    .whereIn('subject_type', ['national-id', 'resident-certificate']).orderBy('queried_at').select('id', 'user_id', 'queried_at', 'subject_type', 'subject_hmac', 'subject_cipher', 'op_code');
  const keys = [cfg.subjectEncKey, ...(cfg.subjectEncKeyPrevious ? [cfg.subjectEncKeyPrevious] : [])];
  const rows: Array<{ at: number; account: string; subject: string; op: string }> = [];
  for (const e of entries) {
    const account = sourceAccount.get(Number(e.user_id));
    if (!account) continue;
    let subject: string;
    try {
      subject = openEntrySubject(keys, e);
    } catch {
      continue;
    }
    // The source's clock: the query happened up to three minutes before the clerk recorded it.
    const at = Number(e.queried_at) - Math.floor(opts.random() * 180) * 1000;
    rows.push({ at: at < from ? Number(e.queried_at) : at, account, subject, op: e.op_code });
  }
  // Two lookups the log never recorded: the agency's first two clerks, on weekday mornings of the month.
  const own = clerks.filter((c) => within.includes(Number(c.unit_id))).slice(0, 2);
  for (const [k, c] of own.entries()) {
    let day = `${period}-${pad(10 + k * 7)}`;
    while ([0, 6].includes(localParts(startOfLocalDay(day) + 12 * 3_600_000).weekday)) day = `${period}-${pad(Number(day.slice(8)) + 1)}`;
    const at = startOfLocalDay(day) + (10 * 3600 + 17 * 60 + Math.floor(opts.random() * 1800)) * 1000;
    if (at < t && localDate(at).slice(0, 7) === period) rows.push({ at, account: sourceAccount.get(Number(c.id))!, subject: generateNationalId(opts.random), op: 'IN01' });
  }
  if (!rows.length) return [];
  rows.sort((a, b) => a.at - b.at);
  const lines = [Object.values(DEMO_COLUMNS).join(',')];
  for (const r of rows) {
    const { date, time } = rocCompact(r.at);
    lines.push([r.account, date, time, r.subject, r.op].join(','));
  }
  const bytes = iconv.encode(lines.join('\r\n') + '\r\n', 'cp950');
  const who: Actor = { id: Number(planner.id), account: planner.account, unitId: Number(planner.unit_id), roles: ['planning_admin'] };
  await importFile(db, cfg, who, { source: DEMO_SOURCE, unit: DEMO_AGENCY, period, file: { fileName: `健保署查詢紀錄-${DEMO_AGENCY}-${period}.csv`, bytes }, via: 'demo' });
  return [];
}
