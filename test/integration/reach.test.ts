// Need to know (issue 13, "Reach"): one row per role × own/other agency × own/other record for
// the monthly check (list, detail, page, sheet), investigations (read, add a participant), audit
// record corrections, internal audits, and account requests granting the auditor or ethics role.
// Reach is server/accounts/reach.ts: own agency and below; county-wide only for planning_admin,
// auditor and ethics sitting in the planning department.
import { expect } from 'chai';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, getFile, signIn, type Signed } from '../support/app.ts';
import { recordTestEntries, seedAccountPeople, seedReachPeople, seedTree, type Tree } from '../support/fixtures.ts';

const PERIOD = '2025-10';
const AT = Date.parse('2025-10-15T02:00:00Z');

type Res = { status: number; body?: any; text?: string };
interface Row {
  /** who (role; agency side; record side) */
  label: string;
  run: () => Promise<Res>;
  want: number;
  /** Extra check on an answer with the wanted status: a message when wrong. */
  check?: (res: Res) => string | null | Promise<string | null>;
}

describe(`reach: need to know (${ENGINE})`, function () {
  this.timeout(300_000);
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  const ids: Record<string, number> = {};
  const sessions = new Map<string, Signed>();
  const as = async (account: string) => {
    if (!sessions.has(account)) sessions.set(account, await signIn(app, account));
    return sessions.get(account)!;
  };
  const get = async (account: string, url: string): Promise<Res> => (await as(account)).agent.get(url).set('Accept', url.startsWith('/api/') ? 'application/json' : 'text/html');
  const post = async (account: string, url: string, body: Record<string, unknown>): Promise<Res> => {
    const s = await as(account);
    return s.agent.post(url).set('X-CSRF-Token', s.csrf).set('Accept', 'application/json').send(body);
  };
  const postForm = async (account: string, url: string, body: Record<string, string>): Promise<Res> => {
    const s = await as(account);
    return s.agent.post(url).type('form').send({ _csrf: s.csrf, ...body });
  };
  /** `account (roles; where they sit; record)` for row labels, from the fixtures. */
  const seat = new Map<string, string>();
  const who = (account: string, record: string) => `${account} (${seat.get(account) ?? '?'}; ${record} record)`;
  const count = async (table: string, where: Record<string, unknown> = {}) => Number((await t.db(table).where(where).count({ n: '*' }).first())?.n);

  async function runRows(rows: Row[]): Promise<void> {
    const wrong: string[] = [];
    for (const r of rows) {
      const res = await r.run();
      if (res.status !== r.want) wrong.push(`${r.label}: expected ${r.want}, got ${res.status} ${res.body?.detail ?? ''}`);
      else if (r.check) {
        const problem = await r.check(res);
        if (problem) wrong.push(`${r.label}: ${problem}`);
      }
    }
    expect(wrong, wrong.join('\n')).to.deep.equal([]);
  }

  type Case = [account: string, record: string, status: number];
  /** Rows reading one record (`status` per case) and, where `listed` is asked, its list (it shows the record iff the read is 200). */
  function readRows(cases: Case[], what: string, read: (account: string) => Promise<Res>, list: { what: string; get: (account: string) => Promise<Res>; shows: (res: Res) => boolean; when: (c: Case) => boolean }): Row[] {
    const rows: Row[] = [];
    for (const c of cases) {
      const [account, record, want] = c;
      rows.push({ label: `${what} as ${who(account, record)}`, run: () => read(account), want });
      if (!list.when(c)) continue;
      rows.push({
        label: `${list.what} as ${who(account, record)}`, run: () => list.get(account), want: 200,
        check: (res) => {
          const shown = list.shows(res);
          return shown === (want === 200) ? null : shown ? 'lists it' : 'does not list it';
        },
      });
    }
    return rows;
  }

  let entries: number[];
  let checkA1: number; // AG1's check: ag1.checker checks it; ag1.sup2 checks the checker's own entry
  let checkA2: number; // AG2's check: ag2.checker
  let invA1: number; // open investigation of AG1: ag1.checker (business), ag1.ethics, ag1.it
  let invDone: number; // concluded investigation of AG1 with its audit record

  async function check(unitId: number, checkerId: number): Promise<number> {
    const [id] = await t.db('checks').insert({
      unit_id: unitId, period: PERIOD, generation: 1, seed: 'ab'.repeat(32), population: 2, population_digest: 'cd'.repeat(32), sample_size: 2,
      rate_percent: 3, minimum: 10, status: 'open', checker_id: checkerId, created_at: AT + 86_400_000 * 20,
    });
    return Number(id);
  }
  async function auditRecord(signer: string, kind = 'internal-audit', unitId = tree.AG1): Promise<number> {
    const [id] = await t.db('audit_records').insert({
      unit_id: unitId, kind, title: '稽核紀錄', period: '2025-H1', summary: '查核項目 8 項', findings: '無', conclusion: '符合規定',
      source_type: kind, source_id: null, signed_by: ids[signer], signed_at: AT, created_by: ids[signer], created_at: AT,
    });
    return Number(id);
  }

  before(async () => {
    t = await migratedDb({ LOGIN_RATE_PER_MINUTE: '1000' });
    tree = await seedTree(t.db);
    app = appFor(t);
    Object.assign(ids, await seedAccountPeople(t.db, tree), await seedReachPeople(t.db, tree));
    const SIDE: Record<string, string> = { plan: 'planning department', ag1: 'own agency', u1: 'own agency, a unit below', u1a: 'own agency, a unit below', ag2: 'other agency' };
    for (const account of Object.keys(ids)) {
      const roles = await t.db('user_roles').where({ user_id: ids[account] }).orderBy('role').pluck('role');
      seat.set(account, `${roles.join('+')}; ${SIDE[account.split('.')[0]]}`);
    }
    entries = (await recordTestEntries(t.db, t.cfg, [
      { userId: ids['ag1.clerk'], account: 'ag1.clerk', unitId: tree.AG1, queriedAt: AT },
      { userId: ids['ag1.checker'], account: 'ag1.checker', unitId: tree.AG1, queriedAt: AT + 60_000 },
      { userId: ids['ag2.clerk'], account: 'ag2.clerk', unitId: tree.AG2, queriedAt: AT + 120_000, scope: '2-4' },
    ])).map((e) => e.id);
    checkA1 = await check(tree.AG1, ids['ag1.checker']);
    checkA2 = await check(tree.AG2, ids['ag2.checker']);
    await t.db('check_items').insert([
      { check_id: checkA1, entry_id: entries[0], basis: 'random', flags: '', checker_id: ids['ag1.checker'], verdict: 'explanation-needed', note: '請說明查詢必要性', explanation_requested_at: AT + 86_400_000 * 21 },
      { check_id: checkA1, entry_id: entries[1], basis: 'random', flags: '', checker_id: ids['ag1.sup2'] },
      { check_id: checkA2, entry_id: entries[2], basis: 'random', flags: '', checker_id: ids['ag2.checker'] },
    ]);
    const item = await t.db('check_items').where({ check_id: checkA1, entry_id: entries[0] }).first('id');
    const [inv] = await t.db('investigations').insert({ unit_id: tree.AG1, check_id: checkA1, check_item_id: item.id, entry_id: entries[0], title: '查核不當：第 1 筆', status: 'open', opened_by: ids['ag1.checker'], opened_at: AT });
    invA1 = Number(inv);
    await t.db('investigation_participants').insert([
      { investigation_id: invA1, user_id: ids['ag1.checker'], side: 'business', added_by: ids['ag1.checker'], added_at: AT },
      { investigation_id: invA1, user_id: ids['ag1.ethics'], side: 'ethics', added_by: ids['ag1.checker'], added_at: AT },
      { investigation_id: invA1, user_id: ids['ag1.it'], side: 'it', added_by: ids['ag1.checker'], added_at: AT },
    ]);
    const [done] = await t.db('investigations').insert({ unit_id: tree.AG1, title: '已結案調查', status: 'concluded', opened_by: ids['ag1.ethics'], opened_at: AT, concluded_by: ids['ag1.ethics'], concluded_at: AT });
    invDone = Number(done);
    const [rec] = await t.db('audit_records').insert({
      unit_id: tree.AG1, kind: 'investigation', title: '已結案調查', period: PERIOD, summary: '調查經過', conclusion: '屬誤查', source_type: 'investigation', source_id: invDone,
      signed_by: ids['ag1.ethics'], signed_at: AT, created_by: ids['ag1.ethics'], created_at: AT,
    });
    await t.db('investigations').where({ id: invDone }).update({ audit_record_id: Number(rec) });
    await t.db('investigation_participants').insert({ investigation_id: invDone, user_id: ids['ag1.ethics'], side: 'ethics', added_by: ids['ag1.ethics'], added_at: AT });
  });
  after(() => t?.drop());

  describe('the monthly check and its 查詢紀錄單', () => {
    const ON_A1: Array<[account: string, record: string, reads: boolean]> = [
      ['ag1.checker', 'own: the check\'s checker', true],
      ['ag1.sup2', 'own: checks one item', true],
      ['ag1.sup', 'other', true],
      ['ag1.auditor', 'other', true],
      ['ag1.ethics', 'other', true],
      ['u1.auditor', 'other', true],
      ['plan.admin', 'other', true],
      ['plan.auditor', 'other', true],
      ['plan.ethics', 'other', true],
      ['ag1.clerk', 'other (an entry of theirs is sampled)', false],
      ['ag1.it', 'other', false],
      ['ag1.admin', 'other', false],
      ['u1.checker', 'other', false],
      ['u1.sup', 'other', false],
      ['plan.it', 'other', false],
      ['plan.sup', 'other', false],
      ['ag2.checker', 'other (checks AG2)', false],
      ['ag2.auditor', 'other', false],
      ['ag2.ethics', 'other', false],
      ['ag2.sup', 'other', false],
    ];
    const label = ([a, record]: (typeof ON_A1)[number], what: string) => `${what} as ${who(a, record)}`;

    it('detail (API and page) and the sheet (printable and xlsx): readers 200, everyone else 404 as for no such check', async () => {
      const rows: Row[] = [];
      for (const r of ON_A1) {
        const [account, , reads] = r;
        rows.push({ label: label(r, 'GET /api/v1/checks/:id'), run: () => get(account, `/api/v1/checks/${checkA1}`), want: reads ? 200 : 404 });
        rows.push({ label: label(r, 'GET /checks/:id/sheet'), run: () => get(account, `/checks/${checkA1}/sheet`), want: reads ? 200 : 404 });
        rows.push({ label: label(r, 'GET /checks/:id/sheet.xlsx'), run: async () => getFile((await as(account)).agent, `/checks/${checkA1}/sheet.xlsx`), want: reads ? 200 : 404 });
        // The agency admin assigns checkers: the page shows the check's header and the form, never its entries.
        const admin = account === 'ag1.admin';
        rows.push({
          label: label(r, 'GET /checks/:id'), run: () => get(account, `/checks/${checkA1}`), want: reads || admin ? 200 : 404,
          check: (res) => (admin && /ag1\.clerk|sheet\.xlsx|抽查項目（/.test(res.text ?? '') ? 'the admin\'s page shows the sample or the sheet' : null),
        });
      }
      // A reader of one agency's check reads no other agency's: the checker of AG1 on AG2's check.
      rows.push({ label: 'GET /api/v1/checks/:id of AG2 as ag1.checker (checker; other agency; other record)', run: () => get('ag1.checker', `/api/v1/checks/${checkA2}`), want: 404 });
      rows.push({ label: 'GET /checks/:id/sheet.xlsx of AG2 as ag1.auditor (auditor; other agency; other record)', run: async () => getFile((await as('ag1.auditor')).agent, `/checks/${checkA2}/sheet.xlsx`), want: 404 });
      rows.push({ label: 'GET /api/v1/checks/:id of AG2 as plan.auditor (planning auditor; county)', run: () => get('plan.auditor', `/api/v1/checks/${checkA2}`), want: 200 });
      // A missing check answers the same as a hidden one.
      rows.push({ label: 'GET /api/v1/checks/:id of no check as ag1.clerk', run: () => get('ag1.clerk', '/api/v1/checks/987654'), want: 404 });
      await runRows(rows);
    });

    it('lists (API and page) hold only the checks the caller may read; clerks and IT are refused the list', async () => {
      const rows: Row[] = [];
      for (const r of ON_A1) {
        const [account, , reads] = r;
        const listRole = !['ag1.clerk', 'ag1.it', 'plan.it'].includes(account); // the list is refused to clerks and IT by role
        rows.push({
          label: label(r, 'GET /api/v1/checks?month'), run: () => get(account, `/api/v1/checks?month=${PERIOD}`), want: listRole ? 200 : 403,
          check: (res) => {
            const listed = (res.body?.items ?? []).some((c: any) => c.id === checkA1);
            return listed === reads ? null : listed ? 'lists the check' : 'does not list the check';
          },
        });
        if (listRole) {
          rows.push({
            label: label(r, 'GET /checks?month'), run: () => get(account, `/checks?month=${PERIOD}`), want: 200,
            check: (res) => {
              const listed = (res.text ?? '').includes(`href="/checks/${checkA1}"`);
              return listed === reads || account === 'ag1.admin' ? null : listed ? 'links the check' : 'does not link the check';
            },
          });
        }
      }
      await runRows(rows);
    });

    it('a clerk answers 請說明 only on their own entries; anyone else is told there is no such item', async () => {
      const url = `/api/v1/checks/${checkA1}/items/${entries[0]}/explanation`;
      const rows: Row[] = [
        { label: 'explanation by u1.clerk (clerk; own agency; other record)', run: () => post('u1.clerk', url, { explanation: '不是我' }), want: 404 },
        { label: 'explanation by ag2.clerk (clerk; other agency; other record)', run: () => post('ag2.clerk', url, { explanation: '不是我' }), want: 404 },
        { label: 'explanation by ag1.clerk on an item not asked of them (own agency; other record)', run: () => post('ag1.clerk', `/api/v1/checks/${checkA1}/items/${entries[1]}/explanation`, { explanation: '不是我' }), want: 404 },
        { label: 'explanation by ag1.clerk (clerk; own agency; own record)', run: () => post('ag1.clerk', url, { explanation: '辦理個案訪視' }), want: 200 },
        {
          label: 'GET /explanations as ag1.clerk (own record)', run: () => get('ag1.clerk', '/explanations'), want: 200,
          check: (res) => ((res.text ?? '').includes(`/explanations/${checkA1}/${entries[0]}`) ? null : 'the clerk\'s own item is missing'),
        },
        {
          label: 'GET /api/v1/explanations as u1.clerk (other record)', run: () => get('u1.clerk', '/api/v1/explanations'), want: 200,
          check: (res) => (res.body.total === 0 ? null : 'lists another clerk\'s item'),
        },
      ];
      await runRows(rows);
      const item = await t.db('check_items').where({ check_id: checkA1, entry_id: entries[0] }).first('explanation', 'explained_by');
      expect(item).to.deep.include({ explanation: '辦理個案訪視' });
      expect(Number(item.explained_by)).to.equal(ids['ag1.clerk']);
    });
  });

  describe('investigations', () => {
    it('read: participants, and the agency\'s overseers within reach; nobody else is told it exists', async () => {
      const cases: Case[] = [
        ['ag1.ethics', 'own: takes part', 200],
        ['ag1.it', 'own: takes part', 200],
        ['ag1.checker', 'own: takes part', 200],
        ['ag1.sup', 'other', 200],
        ['ag1.admin', 'other', 200],
        ['ag1.auditor', 'other', 200],
        ['u1.auditor', 'other', 200],
        ['plan.admin', 'other', 200],
        ['plan.auditor', 'other', 200],
        ['plan.sup', 'other', 404],
        ['plan.it', 'other', 404],
        ['ag2.auditor', 'other', 404],
        ['ag2.sup', 'other', 404],
        ['ag2.ethics', 'other', 404],
        ['ag1.clerk', 'other', 403],
      ];
      await runRows(readRows(cases, 'GET /api/v1/investigations/:id', (a) => get(a, `/api/v1/investigations/${invA1}`), {
        what: 'GET /api/v1/investigations', get: (a) => get(a, '/api/v1/investigations'), shows: (res) => res.body.items.some((v: any) => v.id === invA1), when: (c) => c[2] !== 403,
      }));
    });

    it('add a participant: only from the agency itself, the planning department, and ethics and IT with reach; a refusal names account and changes nothing', async () => {
      const url = `/api/v1/investigations/${invA1}/participants`;
      const parts = () => count('investigation_participants', { investigation_id: invA1 });
      const refused = (res: Res) => (res.body?.errors?.some((e: any) => e.field === 'account') ? null : 'the error does not name account');
      const before = await parts();
      await runRows([
        { label: 'ag1.ethics (participant) adds ag2.ethics (another agency\'s ethics) as ethics', run: () => post('ag1.ethics', url, { account: 'ag2.ethics', side: 'ethics' }), want: 400, check: refused },
        { label: 'ag1.ethics (participant) adds ag2.it (another agency\'s IT) as IT', run: () => post('ag1.ethics', url, { account: 'ag2.it', side: 'it' }), want: 400, check: refused },
        { label: 'ag1.checker (participant) adds ag2.sup (another agency) as business', run: () => post('ag1.checker', url, { account: 'ag2.sup', side: 'business' }), want: 400, check: refused },
        { label: 'ag1.checker (participant) adds plan.sup (planning department) as business', run: () => post('ag1.checker', url, { account: 'plan.sup', side: 'business' }), want: 400, check: refused },
        { label: 'ag1.ethics (participant) adds u1.auditor (not ethics) as ethics', run: () => post('ag1.ethics', url, { account: 'u1.auditor', side: 'ethics' }), want: 400, check: refused },
        { label: 'ag2.ethics (other agency; not a participant) adds ag2.it', run: () => post('ag2.ethics', url, { account: 'ag2.it', side: 'it' }), want: 404 },
        { label: 'ag1.sup (overseer; not a participant) adds u1.sup', run: () => post('ag1.sup', url, { account: 'u1.sup', side: 'business' }), want: 403 },
      ]);
      expect(await parts(), 'refused additions change nothing').to.equal(before);
      await runRows([
        { label: 'ag1.ethics (participant) adds plan.ethics (county ethics) as ethics', run: () => post('ag1.ethics', url, { account: 'plan.ethics', side: 'ethics' }), want: 201 },
        { label: 'ag1.ethics (participant) adds plan.it (the county\'s IT unit) as IT', run: () => post('ag1.ethics', url, { account: 'plan.it', side: 'it' }), want: 201 },
        { label: 'ag1.checker (participant) adds u1.sup (a unit of the agency) as business', run: () => post('ag1.checker', url, { account: 'u1.sup', side: 'business' }), want: 201 },
      ]);
      expect(await parts()).to.equal(before + 3);
      // The county ethics officer added with reach then reads the investigation.
      expect((await get('plan.ethics', `/api/v1/investigations/${invA1}`)).status).to.equal(200);
    });
  });

  describe('audit record corrections', () => {
    it('only the signer, or an auditor or ethics officer with reach over the audited agency; others 403, or 404 outside reach; nothing written', async () => {
      const cases: Array<[account: string, record: string, signer: string, status: number]> = [
        ['ag1.auditor', 'own: signed it', 'ag1.auditor', 201],
        ['ag1.checker', 'own: signed it', 'ag1.checker', 201],
        ['u1.auditor', 'other', 'ag1.auditor', 201],
        ['ag1.ethics', 'other', 'ag1.auditor', 201],
        ['plan.auditor', 'other', 'ag1.auditor', 201],
        ['plan.ethics', 'other', 'ag1.auditor', 201],
        ['ag1.sup', 'other', 'ag1.auditor', 403],
        ['ag1.checker', 'other', 'ag1.auditor', 403],
        ['ag1.it', 'other', 'ag1.auditor', 403],
        ['ag1.clerk', 'other', 'ag1.auditor', 403],
        ['plan.admin', 'other', 'ag1.auditor', 403],
        ['ag2.auditor', 'other', 'ag1.auditor', 404],
        ['ag2.ethics', 'other', 'ag1.auditor', 404],
      ];
      const rows: Row[] = [];
      for (const [account, record, signer, want] of cases) {
        rows.push({
          label: `POST /api/v1/audit-records/:id/corrections as ${who(account, record)}`,
          run: async () => {
            const id = await auditRecord(signer);
            const before = await count('audit_records');
            const res = await post(account, `/api/v1/audit-records/${id}/corrections`, { conclusion: '更正：另議處' });
            const added = (await count('audit_records')) - before;
            if (added !== (res.status === 201 ? 1 : 0)) return { status: -1, body: { detail: `${added} records written` } };
            return res;
          },
          want,
        });
      }
      // The investigation page's correction form follows the same rule.
      const page = (account: string) => async () => {
        const before = await count('audit_records');
        const res = await postForm(account, `/investigations/${invDone}/record-corrections`, { conclusion: '更正：另議處' });
        if ((await count('audit_records')) - before !== (res.status === 303 ? 1 : 0)) return { status: -1 };
        return res;
      };
      rows.push({ label: 'POST /investigations/:id/record-corrections as ag1.sup (supervisor; own agency; other record)', run: page('ag1.sup'), want: 403 });
      rows.push({ label: 'POST /investigations/:id/record-corrections as ag2.auditor (auditor; other agency; other record)', run: page('ag2.auditor'), want: 404 });
      rows.push({ label: 'POST /investigations/:id/record-corrections as ag1.auditor (auditor; own agency; other record)', run: page('ag1.auditor'), want: 303 });
      await runRows(rows);
    });
  });

  describe('internal audits', () => {
    let audit: number;
    before(async () => {
      const [id] = await t.db('internal_audits').insert({
        unit_id: tree.AG1, period: '2025-H1', status: 'signed', auditor_id: ids['ag1.auditor'], checklist: '[]', evidence_at: AT, findings: '無', conclusion: '符合',
        opened_by: ids['ag1.auditor'], opened_at: AT, signed_by: ids['ag1.auditor'], signed_at: AT, keep_until: '2030-10-15',
      });
      audit = Number(id);
    });

    it('read: auditors, ethics and IT of the agency wherever they sit in it, its admin, the county offices; not another agency nor planning IT', async () => {
      const cases: Case[] = [
        ['ag1.auditor', 'own: audited it', 200],
        ['u1.auditor', 'other', 200],
        ['ag1.ethics', 'other', 200],
        ['ag1.admin', 'other', 200],
        ['plan.admin', 'other', 200],
        ['plan.auditor', 'other', 200],
        ['plan.ethics', 'other', 200],
        ['plan.it', 'other', 403],
        ['u1.admin', 'other', 403],
        ['ag2.auditor', 'other', 403],
        ['ag1.clerk', 'other', 403],
      ];
      await runRows(readRows(cases, 'GET /audits/:id', (a) => get(a, `/audits/${audit}`), {
        what: 'GET /audits', get: (a) => get(a, '/audits'), shows: (res) => (res.text ?? '').includes(`href="/audits/${audit}"`), when: (c) => c[2] === 200 || c[0] === 'ag2.auditor' || c[0] === 'plan.it',
      }));
    });
  });

  describe('account requests granting the auditor or ethics role', () => {
    const newRequest = (unit: string, roles: string[], account: string) => ({ kind: 'new', unit, reason: '新進人員', roles, permissions: [], person: { account, name: '新進', rank: 'staff', authSource: 'local' } });

    it('only an agency admin or the planning department; a subordinate unit\'s layer is refused naming roles, and nothing is filed or created', async () => {
      const named = (res: Res) => (res.body?.errors?.some((e: any) => e.field === 'roles') ? null : 'the error does not name roles');
      const filed = async (account: string, body: Record<string, unknown>): Promise<Res> => {
        const before = await count('account_requests');
        const res = await post(account, '/api/v1/account-requests', body);
        if ((await count('account_requests')) - before !== (res.status === 201 ? 1 : 0)) return { status: -1, body: { detail: 'rows written' } };
        return res;
      };
      await runRows([
        { label: 'u1.admin (subordinate unit admin; own unit) files a new auditor', run: () => filed('u1.admin', newRequest('AG1-U1', ['auditor'], 'r.u1aud')), want: 400, check: named },
        { label: 'u1.admin (subordinate unit admin; own unit) files a new ethics officer', run: () => filed('u1.admin', newRequest('AG1-U1', ['ethics'], 'r.u1eth')), want: 400, check: named },
        { label: 'ag1.admin (agency admin) files an auditor in a unit below', run: () => filed('ag1.admin', newRequest('AG1-U1', ['clerk', 'auditor'], 'r.u1aud2')), want: 400, check: named },
        { label: 'u1.admin (subordinate unit admin; own record) adds ethics to a clerk', run: () => filed('u1.admin', { kind: 'change', userId: ids['u1.clerk'], roles: ['clerk', 'ethics'], permissions: [], reason: '兼辦政風' }), want: 400, check: named },
        { label: 'ag2.admin (other agency) files an auditor in AG1', run: () => filed('ag2.admin', newRequest('AG1', ['auditor'], 'r.ag2x')), want: 403 },
        { label: 'ag1.admin (agency admin; own agency) files an auditor', run: () => filed('ag1.admin', newRequest('AG1', ['auditor'], 'r.ag1aud')), want: 201 },
        { label: 'plan.admin (planning department) files a county ethics officer', run: () => filed('plan.admin', newRequest('PLAN', ['ethics'], 'r.planeth')), want: 201 },
        { label: 'u1.admin (subordinate unit admin) files a clerk', run: () => filed('u1.admin', newRequest('AG1-U1', ['clerk'], 'r.u1clerk')), want: 201 },
      ]);
    });

    it('an approved request granting auditor in a subordinate unit is not carried out: 403 naming roles, no account', async () => {
      const payload = { account: 'r.u1exec', name: '新進', rank: 'staff', authSource: 'local', roles: ['auditor'], permissions: [] };
      const [rid] = await t.db('account_requests').insert({
        kind: 'new', status: 'approved', unit_id: tree.AG1U1, target_user_id: null, payload: JSON.stringify(payload), reason: '舊申請', requested_by: ids['u1.admin'], requested_at: AT,
        decided_by: ids['u1.sup'], decided_at: AT,
      });
      const res = await post('u1.admin', `/api/v1/account-requests/${rid}/execute`, {});
      expect(res.status, res.body?.detail).to.equal(403);
      expect(res.body.errors.map((e: any) => e.field)).to.include('roles');
      expect(await t.db('users').where({ account: 'r.u1exec' }).first('id')).to.equal(undefined);
      expect((await t.db('account_requests').where({ id: rid }).first('status')).status).to.equal('approved');
    });
  });
});
