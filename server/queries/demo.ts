// Demo query data for `seed-demo`: for every demo clerk an approved, open query request form per
// business scope they hold, and 13 months of query log entries (ending last month, plus this month
// so far) with an office-hours rhythm, a few after-hours and high-volume clerks and subjects queried
// more than once. Appended through the real chain in batches.
import type { JobContext } from '../../jobs/registry.ts';
import type { DemoAccount, DemoOptions } from '../capability.ts';
import { now, localDate, localMonth, localParts, startOfLocalDay, addDays, previousMonth } from '../time.ts';
import { appendEntries, type EntryFields } from './chain.ts';
import { generateNationalId, generateResidentCertificate, protectSubject, encryptSubject, requestAad, type Subject } from './subject.ts';
import { DEMO_AGENCIES } from '../accounts/demo.ts';

const REASONS: Record<string, string[]> = {
  '2-1': ['身心障礙者保險費補助資格審核', '補助對象投保狀態確認', '身障保費補助溢領查核'],
  '2-2': ['地價稅欠稅人通訊地址查詢以送達', '房屋稅催繳對象地址確認', '使用牌照稅欠稅執行送達'],
  '2-3': ['長者健康檢查資格確認', '長者健檢追蹤聯繫'],
  '2-4': ['傳染病個案協尋聯繫', '疑似傳染病接觸者追蹤'],
  '2-5': ['役男徵兵處理身分確認', '役男通訊地址查詢以寄送通知'],
  '2-7': ['特殊境遇家庭扶助資格審查', '扶助個案家戶狀況確認'],
  '2-8': ['兒少保護個案家庭訪視前確認', '脆弱家庭個案管理聯繫', '六歲以下弱勢兒童主動關懷'],
  '2-9': ['家庭暴力被害人安全聯繫', '社會安全網個案追蹤', '心理健康個案關懷訪視'],
  '2-10': ['預防接種受害救濟案件調查'],
  '2-11': ['兒童死亡原因回溯分析資料查證'],
};
const PURPOSES: Record<string, string> = {
  '2-1': '辦理身心障礙者參加社會保險保險費補助審核', '2-2': '辦理地方稅稽徵、催繳及欠稅執行送達', '2-3': '辦理六十五歲以上長者健康檢查', '2-4': '協尋傳染病或有傳染病之虞個案',
  '2-5': '辦理役男徵兵處理業務', '2-7': '辦理特殊境遇家庭扶助', '2-8': '辦理兒少保護及脆弱家庭個案管理', '2-9': '辦理家庭暴力防治及社會安全網個案服務', '2-10': '辦理預防接種受害救濟調查', '2-11': '辦理兒童死亡原因回溯分析',
};

interface Clerk { id: number; account: string; unitId: number; agencyCode: string; perms: Array<{ scope: string; op: string }>; requests: Map<string, number>; volume: number; afterHours: boolean; ip: string }

export async function seedDemoQueries(ctx: JobContext, opts: DemoOptions): Promise<DemoAccount[]> {
  const { db, cfg } = ctx;
  const rnd = opts.random;
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const t0 = now();
  const codes = DEMO_AGENCIES.flatMap((a) => [a.code, ...(a.children ?? []).map((c) => c.code)]);
  const units = await db('units').whereIn('code', codes).select('id', 'code', 'parent_id', 'kind');
  if (!units.length) return [];
  const unitIds = units.map((u: any) => Number(u.id));
  // Idempotent: a second seed-demo adds nothing.
  if (await db('query_requests').whereIn('unit_id', unitIds).first('id')) return [];
  const byId = new Map(units.map((u: any) => [Number(u.id), u]));
  const agencyCodeOf = (id: number): string => { let u: any = byId.get(id); while (u && u.kind !== 'agency') u = byId.get(Number(u.parent_id)); return u?.code ?? ''; };

  // Health bureau: allow-and-flag (entries without a form are recorded and flagged).
  await db('units').whereIn('id', units.filter((u: any) => agencyCodeOf(Number(u.id)) === 'HLT').map((u: any) => u.id)).update({ require_query_request: false });

  const users = await db('users as u').join('user_roles as r', 'r.user_id', 'u.id').whereIn('u.unit_id', unitIds).andWhere('u.status', 'active').select('u.id', 'u.account', 'u.unit_id', 'r.role');
  const supervisors = users.filter((u: any) => u.role === 'supervisor');
  const clerkRows = users.filter((u: any) => u.role === 'clerk').sort((a: any, b: any) => a.id - b.id);
  const perms = await db('user_permissions as p').join('scopes as s', 's.id', 'p.scope_id').join('op_codes as o', 'o.id', 'p.op_code_id')
    .whereIn('p.user_id', clerkRows.map((c: any) => c.id)).andWhere('s.active', true).orderBy(['s.sort', 'o.code']).select('p.user_id', 's.code as scope', 's.id as scope_id', 's.sort', 'o.code as op');
  const scopeIdOf = new Map(perms.map((p: any) => [p.scope, Number(p.scope_id)]));

  const today = localDate(t0);
  const thisMonth = localMonth(t0);
  const [y, m] = thisMonth.split('-').map(Number);
  let startMonth = thisMonth;
  for (let k = 0; k < 13; k++) startMonth = previousMonth(startMonth);
  void m;
  const startDay = `${startMonth}-01`;
  const validTo = addDays(today, 180);

  const clerks: Clerk[] = [];
  // An entry under a form carries the form's 案號 (the recording rule; see formCaseNoProblem).
  const caseNoOfForm = new Map<number, string>();
  for (const [i, c] of clerkRows.entries()) {
    const mine = perms.filter((p: any) => Number(p.user_id) === Number(c.id));
    const agencyCode = agencyCodeOf(Number(c.unit_id));
    if (!mine.length) {
      // A clerk without NHI permissions yet (e.g. a directory account) still gets an open form for
      // the agency's first link, so every demo clerk has one (DESIGN.md's contract).
      const first = await db('unit_scopes as us').join('scopes as s', 's.id', 'us.scope_id').join('units as un', 'un.id', 'us.unit_id')
        .where('un.code', agencyCode).andWhere('us.status', 'active').andWhere('s.active', true).orderBy('s.sort').first('s.id', 's.code');
      if (first) {
        const decider = supervisors.find((x: any) => units.some((u: any) => Number(u.id) === Number(x.unit_id) && u.code === agencyCode));
        await db('query_requests').insert({
          unit_id: c.unit_id, requester_id: c.id, case_no: `${agencyCode}-${y - 1911}${String(100 + Math.floor(rnd() * 900))}`, purpose: PURPOSES[first.code] ?? '依業務需要查詢健保資料', scope_id: first.id,
          expected_subjects_cipher: null, valid_from: startDay, valid_to: validTo, status: 'approved', decided_by: decider?.id ?? null, decided_at: startOfLocalDay(startDay) + 10 * 3_600_000, decision_note: '核准', created_at: startOfLocalDay(startDay) + 9 * 3_600_000,
        });
      }
      continue;
    }
    const decider = supervisors.find((s: any) => Number(s.unit_id) === Number(c.unit_id)) ?? supervisors.find((s: any) => units.some((u: any) => Number(u.id) === Number(s.unit_id) && u.code === agencyCode));
    const scopes = [...new Set(mine.map((p: any) => p.scope as string))];
    const requests = new Map<string, number>();
    // Newest id first in lists: insert in reverse so the first listed form is for the first scope.
    for (const scope of [...scopes].reverse()) {
      const caseNo = `${agencyCode}-${y - 1911}${String(100 + Math.floor(rnd() * 900))}`;
      const expected: Subject[] = [{ type: 'national-id', value: generateNationalId(rnd) }];
      const createdAt = startOfLocalDay(startDay) + 9 * 3_600_000;
      const [id] = await db('query_requests').insert({
        unit_id: c.unit_id, requester_id: c.id, case_no: caseNo, purpose: PURPOSES[scope] ?? '依業務需要查詢健保資料', scope_id: scopeIdOf.get(scope),
        expected_subjects_cipher: encryptSubject(cfg.subjectEncKey, JSON.stringify(expected), requestAad({ requester_id: c.id, created_at: createdAt })), valid_from: startDay, valid_to: validTo,
        status: 'approved', decided_by: decider?.id ?? null, decided_at: startOfLocalDay(startDay) + 10 * 3_600_000, decision_note: '核准', created_at: createdAt,
      });
      requests.set(scope, Number(id));
      caseNoOfForm.set(Number(id), caseNo);
    }
    clerks.push({
      id: Number(c.id), account: c.account, unitId: Number(c.unit_id), agencyCode, perms: mine.map((p: any) => ({ scope: p.scope, op: p.op })), requests,
      volume: i % 7 === 0 ? 4 : 0.5 + rnd(), afterHours: i % 9 === 4, ip: `10.${20 + (i % 5)}.${Math.floor(i / 5) + 1}.${10 + i}`,
    });
  }

  // Subjects: each agency has its own population; some people are queried repeatedly.
  const pools = new Map<string, Subject[]>();
  for (const a of DEMO_AGENCIES) {
    const pool: Subject[] = [];
    for (let k = 0; k < 160; k++) {
      const r = rnd();
      if (r < 0.85) pool.push({ type: 'national-id', value: generateNationalId(rnd) });
      else if (r < 0.92) pool.push({ type: 'resident-certificate', value: generateResidentCertificate(rnd, rnd() < 0.5 ? 'new' : 'old') });
      else if (r < 0.97) pool.push({ type: 'name-birthdate', value: `${pick(['陳', '林', '黃', '張', '李'])}${pick(['志明', '淑芬', '美玲', '家豪', '怡君'])} ${1940 + Math.floor(rnd() * 70)}-0${1 + Math.floor(rnd() * 9)}-1${Math.floor(rnd() * 10)}` });
      else pool.push({ type: 'other', value: `戶號 ${Math.floor(1e7 + rnd() * 9e7)}` });
    }
    pools.set(a.code, pool);
  }
  const shared = { type: 'national-id' as const, value: generateNationalId(rnd) }; // queried by several clerks

  const keys = { enc: cfg.subjectEncKey, hmac: cfg.SUBJECT_HMAC_KEY };
  const entries: EntryFields[] = [];
  for (let d = startDay; d <= today; d = addDays(d, 1)) {
    const dayStart = startOfLocalDay(d);
    const weekday = localParts(dayStart + 12 * 3_600_000).weekday;
    const weekend = weekday === 0 || weekday === 6;
    for (const c of clerks) {
      let n = weekend ? (c.afterHours && rnd() < 0.1 ? 1 : 0) : Math.floor(c.volume * (0.4 + rnd() * 1.2) + rnd() * 0.6);
      while (n-- > 0) {
        const after = weekend || (c.afterHours && rnd() < 0.15) || rnd() < 0.01;
        const minute = after ? (rnd() < 0.5 ? 19 * 60 + Math.floor(rnd() * 180) : 6 * 60 + Math.floor(rnd() * 100)) : 8 * 60 + 30 + Math.floor(rnd() * 540);
        const at = dayStart + minute * 60_000 + Math.floor(rnd() * 60_000);
        if (at > t0) continue;
        const p = pick(c.perms);
        const subject = rnd() < 0.004 ? shared : pick(pools.get(c.agencyCode) ?? [shared]);
        const withoutForm = c.agencyCode === 'HLT' && rnd() < 0.1;
        const formId = withoutForm ? null : c.requests.get(p.scope) ?? null;
        const ownCaseNo = `${c.agencyCode}-${Number(d.slice(0, 4)) - 1911}${d.slice(5, 7)}${String(1 + Math.floor(rnd() * 400)).padStart(3, '0')}`;
        entries.push({
          user_id: c.id, account: c.account, unit_id: c.unitId, queried_at: at, op_code: p.op, scope_code: p.scope,
          query_request_id: formId,
          case_no: (formId != null ? caseNoOfForm.get(formId) : undefined) ?? ownCaseNo,
          reason: pick(REASONS[p.scope] ?? ['依業務需要查詢']),
          ...protectSubject(keys, subject, { user_id: c.id, queried_at: at }), client_ip: c.ip, source: rnd() < 0.2 ? 'api' : 'web', token_id: null,
        });
      }
    }
  }
  entries.sort((a, b) => a.queried_at - b.queried_at);
  for (let i = 0; i < entries.length; i += 500) {
    await db.transaction((trx) => appendEntries(trx, entries.slice(i, i + 500)));
  }
  return [];
}
