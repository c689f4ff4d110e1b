// The annual filing's 對帳紀錄 sheet (issue 16, clause 5(五)): each agency's current
// reconciliation of each month of the year, one row per source, with the figures and the SHA-256
// of the run's canonical results (results.ts) and of the source's part. Written through the
// workbook's HashedSheet, so its cells are inert and its hash is on the cover like every sheet's.
import type { Conn } from '../db.ts';
import type { UnitRow } from '../accounts/units.ts';
import { rocDateTime } from '../time.ts';

export const RECONCILE_SHEET = '對帳紀錄';

export const RECONCILE_COLUMNS = [
  { header: '月份', width: 10 }, { header: '機關', width: 22 }, { header: '對帳次別', width: 8 }, { header: '對帳時間', width: 16 }, { header: '比對時間窗（分）', width: 10 },
  { header: '來源', width: 20 }, { header: '來源類型', width: 10 }, { header: '聲明完整', width: 8 }, { header: '來源紀錄', width: 10 }, { header: '相符', width: 9 },
  { header: '未登錄', width: 8 }, { header: '未確認', width: 8 }, { header: '筆數差異（人日）', width: 10 }, { header: '未知帳號', width: 8 },
  { header: '來源結果 SHA-256', width: 66 }, { header: '對帳結果 SHA-256', width: 66 },
];

interface SheetLike { add(values: unknown[]): void }

/** Writes the rows; returns the number of runs (agency × month) listed. */
export async function writeReconcileSheet(conn: Conn, sheet: SheetLike, unitIds: number[], year: number, unitsById: Map<number, UnitRow>): Promise<number> {
  if (!(await conn.schema.hasTable('reconcile_runs'))) return 0;
  const runs: any[] = await conn('reconcile_runs').whereIn('unit_id', unitIds).where('status', 'current')
    .where('period', '>=', `${year}-01`).where('period', '<=', `${year}-12`).orderBy(['period', 'unit_id']).select('*');
  if (!runs.length) return 0;
  const sources: any[] = await conn('reconcile_run_sources as x').join('reconcile_sources as s', 's.id', 'x.source_id').whereIn('x.run_id', runs.map((r) => r.id))
    .orderBy(['x.run_id', 's.id']).select('x.*', 's.code', 's.name');
  for (const r of runs) {
    const head = [r.period, unitsById.get(Number(r.unit_id))?.name ?? '', Number(r.generation), rocDateTime(Number(r.finished_at)), Number(r.window_minutes)];
    const mine = sources.filter((s) => Number(s.run_id) === Number(r.id));
    for (const s of mine) {
      sheet.add([...head, `${s.name}（${s.code}）`, s.kind === 'counts' ? '每日筆數' : '逐筆紀錄', s.complete ? '是' : '否', Number(s.records), Number(s.matched),
        Number(s.unlogged), Number(s.unconfirmed), Number(s.count_differences), Number(s.unknown_accounts), s.results_sha256, r.results_sha256]);
    }
    if (!mine.length) sheet.add([...head, '（無匯入之來源）', '', '', 0, 0, 0, 0, 0, 0, '', r.results_sha256]);
  }
  return runs.length;
}
