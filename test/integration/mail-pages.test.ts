// The pages of issue 18: the ethics unit's watch-list page (list, add and remove with a reason,
// Traditional Chinese, CSRF, a refused form re-shown with field messages and never with the
// identifier, a menu entry for ethics only); the reminder preference on 我的帳號; accounts that
// mail cannot reach on the admin's account review (page and API).
import { expect } from 'chai';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, csrfFromHtml, signIn } from '../support/app.ts';
import { makeUser, nationalId, seedTree, type Tree } from '../support/fixtures.ts';
import { maskSubject } from '../../server/queries/subject.ts';

const ID = nationalId(9191);
const BAD_ID = 'A123456788'; // wrong check digit
const MASK = maskSubject({ type: 'national-id', value: ID });

describe(`mail pages: watch list, preference, accounts without e-mail (${ENGINE})`, function () {
  this.timeout(120_000);
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;

  before(async () => {
    t = await migratedDb();
    tree = await seedTree(t.db);
    app = appFor({ ...t, cfg: { ...t.cfg, SMTP_URL: 'smtp://127.0.0.1:2525' } });
    await makeUser(t.db, { account: 'mp.ethics', unitId: tree.AG1, roles: ['ethics'] });
    await makeUser(t.db, { account: 'mp.clerk', unitId: tree.AG1, roles: ['clerk'] });
    await makeUser(t.db, { account: 'mp.admin', unitId: tree.AG1, roles: ['admin'] });
    await makeUser(t.db, { account: 'mp.admin2', unitId: tree.AG2, roles: ['admin'] });
    await makeUser(t.db, { account: 'mp.nomail', unitId: tree.AG1U1, roles: ['clerk'] });
    await makeUser(t.db, { account: 'mp.badmail', unitId: tree.AG1, roles: ['clerk'] });
    await makeUser(t.db, { account: 'mp.ag2clerk', unitId: tree.AG2, roles: ['clerk'] });
    for (const account of ['mp.ethics', 'mp.clerk', 'mp.admin', 'mp.admin2']) await t.db('users').where({ account }).update({ email: `${account}@county.example` });
    await t.db('users').where({ account: 'mp.badmail' }).update({ email: 'not an address' });
    await t.db('users').whereIn('account', ['mp.nomail', 'mp.ag2clerk']).update({ email: null });
  });
  after(async () => { await t?.drop(); });

  it('shows the watch-list page and its menu entry to ethics only', async () => {
    const e = await signIn(app, 'mp.ethics');
    const page = await e.agent.get('/watch-list');
    expect(page.status).to.equal(200);
    expect(page.text).to.include('政風關注名單').and.include('加入名單').and.include('name="_csrf"');
    expect(page.text).to.include('href="/watch-list"');
    const c = await signIn(app, 'mp.clerk');
    expect((await c.agent.get('/watch-list')).status).to.equal(403);
    expect((await c.agent.get('/')).text).to.not.include('href="/watch-list"');
    expect((await c.agent.post('/watch-list').type('form').send({ _csrf: c.csrf, subjectType: 'national-id', subjectValue: ID, reason: '新聞關注人物' })).status).to.equal(403);
  });

  it('re-shows a refused add with field messages and never the identifier; adds nothing', async () => {
    const e = await signIn(app, 'mp.ethics');
    const csrf = csrfFromHtml((await e.agent.get('/watch-list')).text);
    const bad = await e.agent.post('/watch-list').type('form').send({ _csrf: csrf, subjectType: 'national-id', subjectValue: BAD_ID, reason: '新聞關注人物' });
    expect(bad.status).to.equal(400);
    expect(bad.text).to.include('class="error"').and.include('新聞關注人物').and.not.include(BAD_ID);
    const noReason = await e.agent.post('/watch-list').type('form').send({ _csrf: csrf, subjectType: 'national-id', subjectValue: ID, reason: '' });
    expect(noReason.status).to.equal(400);
    expect(noReason.text).to.include('請填寫理由').and.not.include(ID).and.not.include(MASK);
    const other = await e.agent.post('/watch-list').type('form').send({ _csrf: csrf, subjectType: 'other', subjectValue: ID, reason: '新聞關注人物' });
    expect(other.status).to.equal(400);
    expect(other.text).to.not.include(ID);
    expect((await e.agent.post('/watch-list').type('form').send({ subjectType: 'national-id', subjectValue: ID, reason: '新聞關注人物' })).status, 'no CSRF token').to.equal(403);
    expect(await t.db('watch_list').count({ n: '*' }).first().then((r: any) => Number(r.n))).to.equal(0);
  });

  it('adds and removes with a reason from the page; the list shows no identifier, mask or HMAC', async () => {
    const e = await signIn(app, 'mp.ethics');
    let csrf = csrfFromHtml((await e.agent.get('/watch-list')).text);
    const ok = await e.agent.post('/watch-list').type('form').send({ _csrf: csrf, subjectType: 'national-id', subjectValue: ID, reason: '縣府自家員工' });
    expect(ok.status).to.equal(303);
    expect((await e.agent.get('/watch-list')).text).to.include('已加入關注名單');
    const dup = await e.agent.post('/watch-list').type('form').send({ _csrf: csrf, subjectType: 'national-id', subjectValue: ID, reason: '再次加入' });
    expect(dup.status).to.equal(409);
    expect(dup.text).to.include('此對象已在關注名單中').and.not.include(ID);
    const row = await t.db('watch_list').first();
    const list = await e.agent.get('/watch-list');
    expect(list.text).to.include('縣府自家員工').and.include('身分證統一編號').and.include('列管中');
    expect(list.text).to.not.include(ID).and.not.include(MASK).and.not.include(row.subject_hmac);
    csrf = csrfFromHtml(list.text);
    const noReason = await e.agent.post(`/watch-list/${row.id}/remove`).type('form').send({ _csrf: csrf, reason: 'x' });
    expect(noReason.status).to.equal(400);
    expect(noReason.text).to.include(`f-reason-remove-${row.id}-error`);
    expect((await t.db('watch_list').first()).status).to.equal('active');
    expect((await e.agent.post(`/watch-list/${row.id}/remove`).type('form').send({ _csrf: csrf, reason: '事件已結束' })).status).to.equal(303);
    const after = await e.agent.get('/watch-list');
    expect(after.text).to.include('已移除').and.include('事件已結束');
    expect((await e.agent.post('/watch-list/999999/remove').type('form').send({ _csrf: csrf, reason: '事件已結束' })).status).to.equal(404);
    expect(await t.db('system_events').whereIn('action', ['watch-list.add', 'watch-list.remove']).count({ n: '*' }).first().then((r: any) => Number(r.n))).to.equal(2);
  });

  it('sets the reminder preference from 我的帳號; a bad value changes nothing; alerts are said to be always on', async () => {
    const c = await signIn(app, 'mp.clerk');
    const me = await c.agent.get('/accounts/me');
    expect(me.text).to.include('待辦提醒寄送方式').and.include('無法關閉').and.include('value="immediate" checked');
    const csrf = csrfFromHtml(me.text);
    expect((await c.agent.post('/accounts/me/mail-preferences').type('form').send({ reminders: 'digest' })).status, 'no CSRF token').to.equal(403);
    expect((await c.agent.post('/accounts/me/mail-preferences').type('form').send({ _csrf: csrf, reminders: 'off' })).status).to.equal(303);
    expect(await t.db('mail_preferences').count({ n: '*' }).first().then((r: any) => Number(r.n))).to.equal(0);
    expect((await c.agent.get('/accounts/me')).text).to.include('提醒方式：請選擇');
    expect((await c.agent.post('/accounts/me/mail-preferences').type('form').send({ _csrf: csrf, reminders: 'digest' })).status).to.equal(303);
    expect((await c.agent.get('/accounts/me')).text).to.include('value="digest" checked');
    expect((await c.agent.get('/api/v1/me/mail-preferences')).body.reminders).to.equal('digest');
    const n = await signIn(app, 'mp.nomail');
    expect((await n.agent.get('/accounts/me')).text).to.include('未登錄有效的電子郵件信箱');
  });

  it("lists accounts mail cannot reach on the admin's account review, within reach only", async () => {
    const a = await signIn(app, 'mp.admin');
    const api = await a.agent.get('/api/v1/account-reviews');
    expect(api.status).to.equal(200);
    const shown = api.body.withoutEmail.map((u: any) => [u.account, u.email]).sort();
    expect(shown).to.deep.equal([['mp.badmail', 'invalid'], ['mp.nomail', 'missing']]);
    const page = await a.agent.get('/accounts/reviews');
    expect(page.text).to.include('無電子郵件信箱之帳號（2）').and.include('mp.nomail').and.include('格式不正確').and.not.include('mp.ag2clerk');
    const a2 = await signIn(app, 'mp.admin2');
    expect((await a2.agent.get('/api/v1/account-reviews')).body.withoutEmail.map((u: any) => u.account)).to.deep.equal(['mp.ag2clerk']);
  });
});
