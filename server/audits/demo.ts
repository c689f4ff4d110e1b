// Demo data for seed-demo (runs after accounts, queries and checks): last year's internal audits,
// retained data with destruction records (one overdue), link reviews, and annual filings — one
// agency filed, another still missing. Safe to run twice.
import type { JobContext } from '../../jobs/registry.ts';
import type { DemoAccount, DemoOptions } from '../capability.ts';
import { addDays, localDate, now, startOfLocalDay } from '../time.ts';
import { agencies, subtreeIds } from '../accounts/units.ts';
import { buildChecklist } from './rules.ts';
import * as svc from './service.ts';
import { awaitExport, startExport } from './exports.ts';
import { SYSTEM_ACTOR } from '../events/service.ts';
import type { Actor } from '../actor.ts';

export async function seedAuditsDemo(ctx: JobContext, _opts: DemoOptions): Promise<DemoAccount[]> {
  const { db, cfg } = ctx;
  const today = localDate(now());
  const lastYear = Number(today.slice(0, 4)) - 1;
  const list = await agencies(db);
  // The agency whose last link is to be terminated: the first with more than one link.
  const counts = await db('unit_scopes').where('status', 'active').groupBy('unit_id').select('unit_id').count({ n: '*' });
  const terminator = list.find((a) => counts.some((c: any) => c.unit_id === a.id && Number(c.n) > 1));
  const userOf = async (account: string) => db('users').where({ account }).first('id', 'account', 'unit_id');

  for (const a of list) {
    const auditor = await userOf(`${a.code.toLowerCase()}.auditor`);
    const admin = await userOf(`${a.code.toLowerCase()}.admin`);
    if (!auditor || !admin) continue;
    const whoAud: Actor = { id: auditor.id, account: auditor.account, unitId: auditor.unit_id, roles: ['auditor'] };
    const whoAdm: Actor = { id: admin.id, account: admin.account, unitId: admin.unit_id, roles: ['admin'] };

    // Internal audits of both halves of last year, signed.
    for (const half of ['H1', 'H2']) {
      const period = `${lastYear}-${half}`;
      const opened = await svc.openAudit(db, cfg, whoAud, { unit: a.id, period });
      const row = await db('internal_audits').where({ id: opened.id }).first('status');
      if (row.status !== 'open') continue;
      const ev = await svc.gatherEvidence(db, cfg, a.id, period);
      const results: Record<string, { result: 'pass' | 'fail' | 'na'; note: string }> = {};
      for (const i of buildChecklist(ev)) results[i.key] = { result: i.system === 'issue' ? 'fail' : i.system === 'unknown' ? 'na' : 'pass', note: i.system === 'issue' ? '已請業務單位改善' : '' };
      await svc.saveAudit(db, cfg, whoAud, opened.id, { findings: '抽閱查詢紀錄單及查核紀錄，詳如查核項目。', conclusion: '整體符合管理要點規定，不符合項目已列管改善。', results }, { sign: true });
    }

    // Retained data: two destroyed last year, one kept, one overdue.
    if (!(await db('retained_data').where({ unit_id: a.id }).first('id'))) {
      const ids = await subtreeIds(db, a.id);
      const items = [
        { caseNo: `${a.code}-${lastYear}-001`, description: '個案健保投保資料列印本', medium: 'paper' as const, destroyBy: `${lastYear}-06-30`, destroyed: `${lastYear}-06-20` },
        { caseNo: `${a.code}-${lastYear}-002`, description: '健保查詢結果電子檔', medium: 'electronic' as const, destroyBy: `${lastYear}-12-31`, destroyed: `${lastYear}-12-15` },
        { caseNo: `${a.code}-${lastYear}-003`, description: '併案留存之查詢結果', medium: 'paper' as const, destroyBy: addDays(today, 180), destroyed: null },
        { caseNo: `${a.code}-${lastYear}-004`, description: '附卷之查詢結果影本', medium: 'paper' as const, destroyBy: addDays(today, -10), destroyed: null },
      ];
      for (const it of items) {
        const id = await svc.createRetained(db, whoAdm, { unit: ids[0], caseNo: it.caseNo, description: it.description, location: it.medium === 'paper' ? '業務科密件櫃 A-2' : '業務科檔案伺服器（限權限存取）', medium: it.medium, custodian: admin.account, access: '承辦人及單位主管', destroyBy: it.destroyBy });
        if (it.destroyed) await svc.recordDestruction(db, whoAdm, id, { destroyedOn: it.destroyed, method: it.medium === 'paper' ? '碎紙機銷毀至無法辨識' : '刪除並清空資源回收筒', witness: '單位主管', note: '' });
      }
    }

    // Link reviews of last year: keep each link; the first agency's last link is to be terminated.
    const links = await db('unit_scopes as us').join('scopes as s', 's.id', 'us.scope_id').where('us.unit_id', a.id).orderBy('s.sort').select('us.id');
    for (let i = 0; i < links.length; i++) {
      if (await db('link_reviews').where({ unit_scope_id: links[i].id, year: lastYear }).first('id')) continue;
      const terminate = a.id === terminator?.id && i === links.length - 1;
      await svc.recordLinkReview(db, whoAdm, { link: links[i].id, year: lastYear, outcome: terminate ? 'terminate' : 'keep', reason: terminate ? '業務已移撥，已無查詢需求' : '業務持續辦理，仍有查詢需求' });
    }
  }

  // Annual filing: the first agency filed last year's workbook; the second has not.
  const first = list.find((a) => a.code === 'SOC') ?? list[0];
  if (first && !(await db('annual_filings').where({ unit_id: first.id, year: lastYear }).first('id'))) {
    const started = await startExport(ctx, SYSTEM_ACTOR, { kind: 'annual', year: lastYear, unitId: first.id });
    const row = await awaitExport(db, started.id);
    const admin = await userOf(`${first.code.toLowerCase()}.admin`);
    if (row?.status === 'done' && admin) {
      const filingId = await svc.submitFiling(db, { id: admin.id, account: admin.account, unitId: admin.unit_id, roles: ['admin'] }, row.id);
      const plan = await userOf('plan.admin');
      if (plan) await svc.acknowledgeFiling(db, { id: plan.id, account: plan.account, unitId: plan.unit_id, roles: ['planning_admin'] }, filingId, '已收件');
      // The demo filing is dated as filed in January, before the deadline (when that is past).
      const filedAt = Math.min(now(), startOfLocalDay(`${lastYear + 1}-01-20`) + 10 * 3_600_000);
      await db('annual_filings').where({ id: filingId }).update({ submitted_at: filedAt, acknowledged_at: plan ? Math.min(now(), filedAt + 2 * 86_400_000) : null });
    }
  }
  return [];
}
