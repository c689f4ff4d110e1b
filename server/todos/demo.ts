// Demo data for the to-do list (seed-demo): what the other capabilities' demo data leaves some roles
// without — an open investigation for the first agency's ethics and IT staff, and a filing of last
// year awaiting the planning department's acknowledgement. Guarded: a re-run adds nothing.
import type { JobContext } from '../../jobs/registry.ts';
import type { DemoAccount, DemoOptions } from '../capability.ts';
import { now } from '../time.ts';

export const DEMO_INVESTIGATION_TITLE = '示範：異常查詢調查（待辦事項）';

export async function seedDemo(ctx: JobContext, _opts: DemoOptions): Promise<DemoAccount[]> {
  const { db } = ctx;
  const t = now();
  const agency = await db('units').where({ kind: 'agency' }).orderBy('code').first('id');
  if (!agency) return [];
  if (!(await db('investigations').where({ title: DEMO_INVESTIGATION_TITLE }).first('id'))) {
    const staff = await db('users as u').join('user_roles as r', 'r.user_id', 'u.id').where('u.unit_id', agency.id).whereIn('r.role', ['ethics', 'it']).andWhere('u.status', 'active').select('u.id', 'r.role');
    await db.transaction(async (trx) => {
      const [id] = await trx('investigations').insert({ unit_id: agency.id, title: DEMO_INVESTIGATION_TITLE, status: 'open', opened_by: null, opened_at: t - 3 * 86_400_000 });
      for (const s of staff) await trx('investigation_participants').insert({ investigation_id: Number(id), user_id: s.id, side: s.role, added_by: null, added_at: t });
    });
  }
  const year = new Date(t).getUTCFullYear() - 1;
  if (!(await db('annual_filings').where({ unit_id: agency.id, year }).first('id'))) {
    const admin = await db('users as u').join('user_roles as r', 'r.user_id', 'u.id').where({ 'u.unit_id': agency.id, 'r.role': 'admin' }).first('u.id');
    // A demo stand-in for a filed workbook (its hash is of nothing): shown as awaiting acknowledgement.
    await db('annual_filings').insert({ unit_id: agency.id, year, export_id: null, workbook_sha256: '0'.repeat(64), submitted_by: admin?.id ?? null, submitted_at: t - 86_400_000 }).onConflict(['unit_id', 'year']).ignore();
  }
  return [];
}
