// Forms narrowed to what the user may do (issue 17): unit choosers list only the units in reach, the
// permission grid only the agency's authorised scopes with names, request pages name scopes and
// operation codes, an entry's 案號 cannot be another of the clerk's forms', length limits are told
// and enforced by the server naming the field, and a sign-in that proved a one-time password goes
// straight to choosing a new one.
import { expect } from 'chai';
import request from 'supertest';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, csrfFromHtml, signIn, type Signed } from '../support/app.ts';
import { makeApprovedRequest, makeUser, PASSWORD, seedAccountPeople, seedTree, type Tree } from '../support/fixtures.ts';

const optionValues = (html: string, selectName: string): string[] => {
  const m = new RegExp(`<select[^>]*name="${selectName}"[^>]*>([\\s\\S]*?)</select>`).exec(html);
  if (!m) throw new Error(`no select ${selectName}`);
  return [...m[1].matchAll(/<option value="([^"]*)"/g)].map((x) => x[1]).filter((v) => v !== '');
};

describe(`forms narrowed to what the user may do (${ENGINE})`, function () {
  this.timeout(120_000);
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  let people: Record<string, number>;
  const s: Record<string, Signed> = {};
  const as = async (account: string) => (s[account] ??= await signIn(app, account));

  before(async () => {
    t = await migratedDb({ LOGIN_RATE_PER_MINUTE: '1000' });
    tree = await seedTree(t.db);
    people = await seedAccountPeople(t.db, tree);
    app = appFor(t);
  });
  after(() => t.drop());

  describe('unit choosers list the units in reach, and the server refuses others', () => {
    it('the account request form offers an agency admin its agency and what lies under it; a unit admin its own subtree; the planning admin the county', async () => {
      const ag1 = await (await as('ag1.admin')).agent.get('/accounts/requests/new');
      expect(ag1.status).to.equal(200);
      expect(optionValues(ag1.text, 'unit')).to.have.members(['AG1', 'AG1-U1', 'AG1-U1-A']);
      const u1 = await (await as('u1.admin')).agent.get('/accounts/requests/new');
      expect(optionValues(u1.text, 'unit')).to.have.members(['AG1-U1', 'AG1-U1-A']);
      const plan = await (await as('plan.admin')).agent.get('/accounts/requests/new');
      expect(optionValues(plan.text, 'unit')).to.include.members(['PLAN', 'AG1', 'AG1-U1', 'AG1-U1-A', 'AG2', 'AG2-U1']);
    });

    it('a request for a unit outside reach is refused and stores nothing', async () => {
      const a = await as('ag1.admin');
      const before = Number((await t.db('account_requests').count({ n: '*' }))[0].n);
      const res = await a.agent.post('/api/v1/account-requests').set('X-CSRF-Token', a.csrf)
        .send({ kind: 'new', reason: '新進人員', unit: 'AG2', person: { account: 'ag2.someone', name: '某人', rank: 'staff' }, roles: ['clerk'] });
      expect(res.status).to.be.oneOf([403, 404]);
      expect(Number((await t.db('account_requests').count({ n: '*' }))[0].n)).to.equal(before);
    });

    it('the new-unit form offers an agency admin only parents in its own subtree', async () => {
      const res = await (await as('ag1.admin')).agent.get('/accounts/units');
      expect(optionValues(res.text, 'parent')).to.have.members(['AG1', 'AG1-U1', 'AG1-U1-A']);
    });

    it('the query log unit filter offers a clerk only their own unit, a county-wide auditor every unit', async () => {
      await makeUser(t.db, { account: 'u1.clerk.f', unitId: tree.AG1U1, roles: ['clerk'], permissions: [['2-1', 'IN01']] });
      const clerk = await (await as('u1.clerk.f')).agent.get('/query-logs');
      expect(optionValues(clerk.text, 'unit')).to.deep.equal(['AG1-U1']);
      const auditor = await (await as('plan.auditor')).agent.get('/query-logs');
      expect(optionValues(auditor.text, 'unit')).to.have.members(['PLAN', 'AG1', 'AG1-U1', 'AG1-U1-A', 'AG2', 'AG2-U1']);
    });
  });

  describe('permissions are shown by name, within what the agency is authorised for', () => {
    it('the grid lists only the scopes authorised to the admin\'s agency, with scope titles and operation-code names', async () => {
      const res = await (await as('ag1.admin')).agent.get('/accounts/requests/new');
      const grid = /<table class="perm-grid">([\s\S]*?)<\/table>/.exec(res.text)![1];
      const rows = [...grid.matchAll(/<tr data-scope="([^"]+)"/g)].map((m) => m[1]);
      expect(rows).to.have.members(['2-1', '2-8']); // AG1's; 2-4 is AG2's
      const in01 = await t.db('op_codes').where({ code: 'IN01' }).first('name');
      const s21 = await t.db('scopes').where({ code: '2-1' }).first('title', 'clause');
      expect(grid).to.contain(in01.name).and.contain(s21.title);
      expect(grid).to.contain(`aria-label="${s21.clause} ${s21.title}：IN01 ${in01.name}"`);
    });

    it('a request page names the scope and the operation code of each permission', async () => {
      const a = await as('ag1.admin');
      const filed = await a.agent.post('/api/v1/account-requests').set('X-CSRF-Token', a.csrf)
        .send({ kind: 'new', reason: '新進人員辦理補助業務', unit: 'AG1', person: { account: 'ag1.named', name: '王小明', rank: 'staff' }, roles: ['clerk'], permissions: [{ scope: '2-1', opCode: 'IN01' }] });
      expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
      const page = await a.agent.get(`/accounts/requests/${filed.body.id}`);
      const in01 = await t.db('op_codes').where({ code: 'IN01' }).first('name');
      const s21 = await t.db('scopes').where({ code: '2-1' }).first('title', 'clause');
      expect(page.text).to.contain(`${s21.clause} ${s21.title}／IN01 ${in01.name}`);
      expect(page.text).to.not.contain('2-1/IN01');
    });
  });

  describe('an entry under a request form carries that form\'s 案號', () => {
    let clerk: Signed;
    let form4: number;
    let form5: number;
    const count = async () => Number((await t.db('query_logs').count({ n: '*' }))[0].n);
    const entry = (over: Record<string, unknown>) => ({ reason: '個案訪視前確認投保狀態', opCode: 'IN01', scope: '2-1', subject: { type: 'national-id', value: 'A123456789' }, ...over });
    before(async () => {
      const id = await makeUser(t.db, { account: 'ag1.clerk.cases', unitId: tree.AG1, roles: ['clerk'], permissions: [['2-1', 'IN01']] });
      form4 = await makeApprovedRequest(t.db, { userId: id, unitId: tree.AG1, caseNo: 'AG1-1140004' });
      form5 = await makeApprovedRequest(t.db, { userId: id, unitId: tree.AG1, caseNo: 'AG1-1140005' });
      clerk = await as('ag1.clerk.cases');
    });

    it('the API refuses form 5 with form 4\'s case number, naming caseNo, and stores nothing', async () => {
      const before = await count();
      const res = await clerk.agent.post('/api/v1/query-logs').set('X-CSRF-Token', clerk.csrf).send(entry({ queryRequestId: form5, caseNo: 'AG1-1140004' }));
      expect(res.status, JSON.stringify(res.body)).to.equal(400);
      expect(res.body.errors.map((e: any) => e.field)).to.deep.equal(['caseNo']);
      expect(res.body.errors[0].message).to.contain(`第 ${form4} 號`).and.contain('AG1-1140005');
      expect(await count()).to.equal(before);
    });

    it('the entry page re-shows the form with the message beside 案號; the form\'s own case number is accepted', async () => {
      const page = await clerk.agent.get('/query-logs/new');
      const csrf = csrfFromHtml(page.text);
      const before = await count();
      const bad = await clerk.agent.post('/query-logs/new').type('form')
        .send({ _csrf: csrf, queryRequestId: String(form5), caseNo: 'AG1-1140004', scope: '2-1', opCode: 'IN01', reason: '個案訪視前確認投保狀態', subjectType: 'national-id', subjectValue: 'A123456789' });
      expect(bad.status).to.equal(400);
      expect(/id="f-caseNo-error">([^<]+)</.exec(bad.text)?.[1]).to.contain('AG1-1140005');
      expect(await count()).to.equal(before);
      const ok = await clerk.agent.post('/api/v1/query-logs').set('X-CSRF-Token', clerk.csrf).send(entry({ queryRequestId: form5, caseNo: 'AG1-1140005' }));
      expect(ok.status, JSON.stringify(ok.body)).to.equal(201);
      const row = await t.db('query_logs').where({ id: ok.body.id }).first('case_no', 'query_request_id');
      expect(row.case_no).to.equal('AG1-1140005');
      expect(Number(row.query_request_id)).to.equal(form5);
    });
  });

  describe('length limits are told, not cut', () => {
    it('a field with a limit says 「最多 N 字」 and carries no maxlength that would cut a paste', async () => {
      const clerk = await as('ag1.clerk.cases');
      const page = await clerk.agent.get('/query-logs/new');
      expect(page.text).to.match(/<input id="f-caseNo"[^>]*data-maxlength="64"/);
      expect(page.text).to.match(/id="f-caseNo-limit">最多 64 字</);
      expect(page.text).to.match(/id="f-reason-limit">最多 500 字</);
      expect(/<input id="f-(caseNo|reason|subjectValue)"[^>]*\smaxlength=/.test(page.text)).to.equal(false);
    });

    it('the server refuses a reason over 500 characters, naming the field and its limit, and stores nothing', async () => {
      const clerk = await as('ag1.clerk.cases');
      const form = await t.db('query_requests').where({ case_no: 'AG1-1140005' }).first('id');
      const page = await clerk.agent.get('/query-logs/new');
      const before = Number((await t.db('query_logs').count({ n: '*' }))[0].n);
      const res = await clerk.agent.post('/query-logs/new').type('form')
        .send({ _csrf: csrfFromHtml(page.text), queryRequestId: String(form.id), caseNo: 'AG1-1140005', scope: '2-1', opCode: 'IN01', reason: '確認投保狀態'.repeat(84), subjectType: 'national-id', subjectValue: 'A123456789' });
      expect(res.status).to.equal(400);
      expect(/id="f-reason-error">([^<]+)</.exec(res.text)?.[1]).to.contain('最多 500 字');
      expect(Number((await t.db('query_logs').count({ n: '*' }))[0].n)).to.equal(before);
    });
  });

  describe('a sign-in that proved a one-time password goes straight to choosing a new one', () => {
    const NEW = 'Fresh-Passw0rd-2027';
    const loginForm = async (agent: ReturnType<typeof request.agent>, account: string, password = PASSWORD) => {
      const csrf = csrfFromHtml((await agent.get('/login')).text);
      return agent.post('/login').type('form').send({ _csrf: csrf, account, password });
    };

    it('the password page asks only for the new password, within the same session, and the change is made', async () => {
      await makeUser(t.db, { account: 'otp.user', unitId: tree.AG1, roles: ['clerk'], mustChange: true });
      const agent = request.agent(app);
      const login = await loginForm(agent, 'otp.user');
      expect(login.status).to.equal(303);
      expect(login.headers.location).to.match(/^\/password/);
      const page = await agent.get(login.headers.location);
      expect(page.text).to.not.contain('name="current"');
      expect(page.text).to.contain('直接設定新密碼');
      // Without the CSRF token nothing changes.
      const forged = await agent.post('/password').type('form').send({ account: 'otp.user', next: NEW, confirm: NEW });
      expect(forged.status).to.equal(403);
      const before = (await t.db('users').where({ account: 'otp.user' }).first('password_hash')).password_hash;
      const done = await agent.post('/password').type('form').send({ _csrf: csrfFromHtml(page.text), account: 'otp.user', next: NEW, confirm: NEW });
      expect(done.status).to.equal(303);
      expect(done.headers.location).to.equal('/login');
      const after = await t.db('users').where({ account: 'otp.user' }).first('password_hash', 'must_change_password');
      expect(after.password_hash).to.not.equal(before);
      expect(!!after.must_change_password).to.equal(false);
      expect((await request(app).post('/api/v1/auth/login').send({ account: 'otp.user', password: NEW })).status).to.equal(204);
      // One use: the same session is asked for the current password again.
      const again = await agent.get('/password?account=otp.user');
      expect(again.text).to.contain('name="current"');
    });

    it('the proof is for that account only, and only for a short while; another session still types the current password', async () => {
      await makeUser(t.db, { account: 'otp.two', unitId: tree.AG1, roles: ['clerk'], mustChange: true });
      await makeUser(t.db, { account: 'otp.other', unitId: tree.AG1, roles: ['clerk'], mustChange: true });
      const agent = request.agent(app);
      const login = await loginForm(agent, 'otp.two');
      expect(login.headers.location).to.match(/^\/password/);
      // Another account named in the same session: the current password is required.
      const other = await agent.get('/password?account=otp.other');
      expect(other.text).to.contain('name="current"');
      const refused = await agent.post('/password').type('form').send({ _csrf: csrfFromHtml(other.text), account: 'otp.other', next: NEW, confirm: NEW });
      expect(refused.status).to.equal(400);
      expect(refused.text).to.contain('id="current-error"');
      // A different session (no sign-in) is asked for it too.
      const stranger = request.agent(app);
      const sp = await stranger.get('/password?account=otp.two');
      expect(sp.text).to.contain('name="current"');
      const no = await stranger.post('/password').type('form').send({ _csrf: csrfFromHtml(sp.text), account: 'otp.two', next: NEW, confirm: NEW });
      expect(no.status).to.equal(400);
      // The proof ages out: ten minutes later the current password is asked again.
      const rows = await t.db('sessions').select('sid', 'sess');
      for (const r of rows) {
        const sess = JSON.parse(r.sess);
        if (sess.passwordProof?.account === 'otp.two') {
          sess.passwordProof.at -= 11 * 60_000;
          await t.db('sessions').where({ sid: r.sid }).update({ sess: JSON.stringify(sess) });
        }
      }
      const aged = await agent.get('/password?account=otp.two');
      expect(aged.text).to.contain('name="current"');
      const late = await agent.post('/password').type('form').send({ _csrf: csrfFromHtml(aged.text), account: 'otp.two', next: NEW, confirm: NEW });
      expect(late.status).to.equal(400);
      expect((await t.db('users').where({ account: 'otp.two' }).first('must_change_password')).must_change_password ? 1 : 0).to.equal(1);
    });
  });
});
