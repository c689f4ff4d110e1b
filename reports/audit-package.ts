// The audit package for the NHI administration (clause 5(四)): the user roster and the audit
// records of a date range, with internal-audit checklists, destruction records and link reviews,
// on demand. Same streaming writer, inert cells and cover-sheet hashes as the annual workbook.
import type { Conn } from '../server/db.ts';
import { parseJson } from '../server/db.ts';
import { allUnits, subtreeOf } from '../server/accounts/units.ts';
import { RANK_LABELS } from '../server/accounts/roles.ts';
import { localDate, now, rocDateTime, rocPeriod, rocShort, startOfLocalDay, addDays } from '../server/time.ts';
import { AUDIT_KIND_LABELS, CHECKLIST_RESULT_LABELS, USER_STATUS_LABELS, labelOf } from '../server/labels.ts';
import { closeWorkbookFile, discardWorkbookFile, openWorkbookFile, yieldToWriter } from './cells.ts';
import { HashedSheet, addCoverSheet, rosterLabels } from './annual.ts';

export interface PackageOptions {
  from: string; // YYYY-MM-DD, inclusive
  to: string; // YYYY-MM-DD, inclusive
  unitId: number | null;
  out: string;
  countyName: string;
  progress?: (fraction: number, note?: string) => void;
}

const day = (ms: unknown) => (ms == null ? '' : rocShort(localDate(Number(ms))));

export async function writeAuditPackage(conn: Conn, o: PackageOptions) {
  const progress = o.progress ?? (() => undefined);
  const units = await allUnits(conn);
  const byId = new Map(units.map((u) => [u.id, u]));
  const root = o.unitId == null ? null : byId.get(o.unitId) ?? null;
  const ids = root ? subtreeOf(units, root.id) : units.map((u) => u.id);
  const start = startOfLocalDay(o.from);
  const end = startOfLocalDay(addDays(o.to, 1));
  const { wb, tmp } = openWorkbookFile(o.out);
  const sheets: Array<{ name: string; rows: number; sha256: string }> = [];
  try {
    // 使用者清冊: every account that existed in the range.
    const roster = new HashedSheet(wb, '使用者清冊', [
      { header: '帳號', width: 18 }, { header: '姓名', width: 12 }, { header: '單位', width: 26 }, { header: '職級', width: 10 }, { header: '角色', width: 30 },
      { header: '健保查詢權限', width: 40 }, { header: '狀態', width: 8 }, { header: '建立日期', width: 12 }, { header: '停用日期', width: 12 },
    ]);
    const users: any[] = await conn('users').whereIn('unit_id', ids).where('created_at', '<', end).where((q) => q.whereNull('disabled_at').orWhere('disabled_at', '>=', start)).orderBy('id');
    for (let i = 0; i < users.length; i += 500) {
      const page = users.slice(i, i + 500);
      const { roles, perms } = await rosterLabels(conn, page.map((u) => u.id));
      for (const u of page) roster.add([u.account, u.name, byId.get(u.unit_id)?.name ?? '', (RANK_LABELS as Record<string, string>)[u.rank] ?? u.rank, (roles.get(Number(u.id)) ?? []).join('、'), (perms.get(Number(u.id)) ?? []).join('、'), labelOf(USER_STATUS_LABELS, u.status), day(u.created_at), day(u.disabled_at)]);
      await yieldToWriter(roster.ws);
    }
    sheets.push(roster.finish());
    progress(0.4, '稽核紀錄');

    const records = new HashedSheet(wb, '稽核紀錄', [
      { header: '編號', width: 8 }, { header: '類別', width: 10 }, { header: '單位', width: 22 }, { header: '標題', width: 30 }, { header: '期間', width: 10 },
      { header: '摘要', width: 30 }, { header: '發現', width: 40 }, { header: '結論', width: 40 }, { header: '簽核日期', width: 12 },
    ]);
    if (await conn.schema.hasTable('audit_records')) {
      for (const a of await conn('audit_records').whereIn('unit_id', ids).where('created_at', '>=', start).where('created_at', '<', end).orderBy('id')) {
        records.add([Number(a.id), labelOf(AUDIT_KIND_LABELS, a.kind), byId.get(a.unit_id)?.name ?? '', a.title, a.period ? rocPeriod(a.period) : '', a.summary ?? '', a.findings ?? '', a.conclusion ?? '', day(a.signed_at)]);
      }
    }
    sheets.push(records.finish());

    const checklist = new HashedSheet(wb, '內部稽核查核項目', [
      { header: '稽核期間', width: 10 }, { header: '機關', width: 22 }, { header: '條款', width: 12 }, { header: '查核項目', width: 36 }, { header: '系統佐證', width: 50 }, { header: '結果', width: 8 }, { header: '說明', width: 30 }, { header: '簽核日期', width: 12 },
    ]);
    for (const a of await conn('internal_audits').whereIn('unit_id', ids).where('status', 'signed').where('signed_at', '>=', start).where('signed_at', '<', end).orderBy('id')) {
      for (const i of parseJson<any[]>(a.checklist, [])) checklist.add([rocPeriod(a.period), byId.get(a.unit_id)?.name ?? '', i.clause, i.label, i.evidence, CHECKLIST_RESULT_LABELS[i.result] ?? '', i.note ?? '', day(a.signed_at)]);
    }
    sheets.push(checklist.finish());

    const destr = new HashedSheet(wb, '資料銷毀紀錄', [
      { header: '單位', width: 22 }, { header: '案號', width: 18 }, { header: '資料', width: 30 }, { header: '形式', width: 8 }, { header: '保管人', width: 12 }, { header: '應銷毀日', width: 12 }, { header: '銷毀日期', width: 12 }, { header: '銷毀方式', width: 20 }, { header: '監銷人', width: 12 },
    ]);
    for (const r of await conn('retained_data as r').join('data_destructions as d', 'd.retained_id', 'r.id').whereIn('r.unit_id', ids).where('d.destroyed_on', '>=', o.from).where('d.destroyed_on', '<=', o.to).orderBy('d.id').select('r.*', 'd.destroyed_on', 'd.method', 'd.witness')) {
      destr.add([byId.get(r.unit_id)?.name ?? '', r.case_no, r.description, r.medium === 'paper' ? '紙本' : '電子檔', r.custodian, rocShort(r.destroy_by), rocShort(r.destroyed_on), r.method, r.witness]);
    }
    sheets.push(destr.finish());
    progress(0.9, '封面');

    const { line, heading, commit } = addCoverSheet(wb);
    line(`${o.countyName} 健保資料稽核資料（提供資料提供機關稽核用）`);
    line('依據', '南投縣政府應用衛生福利部中央健康保險署資訊作業管理要點 第五點第(四)款');
    line('範圍', root ? `${root.name}（${root.code}）及所屬單位` : '全縣各機關');
    line('期間', `${rocShort(o.from)} 至 ${rocShort(o.to)}`);
    line('產製時間', rocDateTime(now()));
    line('');
    heading('工作表', '資料列數', 'SHA-256');
    for (const s of sheets) line(s.name, s.rows, s.sha256);
    commit();
    const file = await closeWorkbookFile(wb, tmp, o.out);
    progress(1, '完成');
    return { from: o.from, to: o.to, unit: root ? { id: root.id, code: root.code } : null, sheets, ...file };
  } catch (e) {
    discardWorkbookFile(wb, tmp);
    throw e;
  }
}
