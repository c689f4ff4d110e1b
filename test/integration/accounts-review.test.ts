// Account review (clause 3(二)2): findings on a prepared data set, decisions by the responsible
// admin kept as a record, and the monthly job's run lock.
import { expect } from 'chai';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, signIn, type Signed, csrfFromHtml } from '../support/app.ts';
import { makeUser, seedAccountPeople, seedTree, type Tree } from '../support/fixtures.ts';
import { runJob } from '../../jobs/runner.ts';
import { accountReviewJob } from '../../server/accounts/review.ts';
import { subjectHmac } from '../../server/queries/subject.ts';
import { localMonth } from '../../server/time.ts';

const DAY = 86_400_000;

describe(`accounts: account review (${ENGINE})`, () => {
  let t: TestDb;
  let tree: Tree;
  let ids: Record<string, number>;
  let app: ReturnType<typeof appFor>;
  let reviewId: number;
  const post = (s: Signed, path: string, body: unknown) => s.agent.post(path).set('X-CSRF-Token', s.csrf).send(body as object);
  const loginAt = async (userId: number, account: string, at: number, ip: string) =>
    t.db('system_events').insert({ at, actor_id: userId, actor_account: account, action: 'login', outcome: 'ok', target_type: 'user', target_id: String(userId), ip });

  before(async () => {
    t = await migratedDb({ LOGIN_RATE_PER_MINUTE: '1000' });
    tree = await seedTree(t.db);
    ids = await seedAccountPeople(t.db, tree);
    app = appFor(t);
    const now = Date.now();
    const recent = now - 2 * DAY;
    // Everybody in the base set signed in recently during office hours from their own address.
    const office = Date.parse(new Date(recent).toISOString().slice(0, 10) + 'T02:00:00Z'); // 10:00 Taipei
    const weekday = new Date(office).getUTCDay();
    const officeDay = office - (weekday === 0 ? 2 : weekday === 6 ? 1 : 0) * DAY;
    let n = 1;
    for (const [account, id] of Object.entries(ids)) {
      await t.db('users').where({ id }).update({ last_login_at: recent });
      await loginAt(id, account, officeDay, `10.9.0.${n++}`);
    }
    const mk = async (account: string, patch: Record<string, unknown> = {}) => {
      const id = await makeUser(t.db, { account, unitId: tree.AG1, roles: ['clerk'] });
      await t.db('users').where({ id }).update({ last_login_at: recent, ...patch });
      return id;
    };
    ids['r.idle'] = await mk('r.idle', { last_login_at: now - 100 * DAY, created_at: now - 200 * DAY });
    ids['r.never'] = await mk('r.never', { status: 'pending', password_hash: null, activation_hash: 'x', activation_expires_at: now - DAY, last_login_at: null });
    ids['r.pending.ok'] = await mk('r.pending.ok', { status: 'pending', password_hash: null, activation_hash: 'x', activation_expires_at: now + DAY, last_login_at: null });
    const hmac = subjectHmac(t.cfg.SUBJECT_HMAC_KEY, { type: 'national-id', value: 'A123456789' });
    ids['r.dup1'] = await mk('r.dup1', { person_hmac: hmac });
    ids['r.dup2'] = await makeUser(t.db, { account: 'r.dup2', unitId: tree.AG1U1, roles: ['clerk'] });
    await t.db('users').where({ id: ids['r.dup2'] }).update({ person_hmac: hmac, last_login_at: recent });
    ids['r.expired'] = await mk('r.expired', { password_changed_at: now - 95 * DAY });
    ids['r.overdue'] = await mk('r.overdue', { disable_on: '2020-01-01' });
    ids['r.night'] = await mk('r.night');
    await loginAt(ids['r.night'], 'r.night', Date.parse(new Date(officeDay).toISOString().slice(0, 10) + 'T14:30:00Z'), '10.8.0.1'); // 22:30 Taipei
    ids['r.share1'] = await mk('r.share1');
    ids['r.share2'] = await mk('r.share2');
    await loginAt(ids['r.share1'], 'r.share1', officeDay + 60_000, '10.7.7.7');
    await loginAt(ids['r.share2'], 'r.share2', officeDay + 120_000, '10.7.7.7');
    ids['r.conc'] = await mk('r.conc');
    await t.db('system_events').insert({ at: recent, actor_id: ids['r.conc'], actor_account: 'r.conc', action: 'concurrent-session', outcome: 'denied', ip: '10.6.6.6' });
    ids['r.gone'] = await mk('r.gone', { status: 'disabled', last_login_at: now - 300 * DAY });
    // Old sign-ins outside the 30-day window do not count.
    await loginAt(ids['r.idle'], 'r.idle', now - 100 * DAY, '10.7.7.7');
  });
  after(() => t.drop());

  it('finds idle, never-activated, duplicate, expired, overdue, after-hours, shared-address and concurrent accounts — and nothing on clean ones', async () => {
    const run = await runJob({ db: t.db, cfg: t.cfg }, accountReviewJob, {});
    expect(run.status).to.equal('ran');
    reviewId = (run as any).result.reviewId;
    const items = await t.db('review_items as i').join('users as u', 'u.id', 'i.user_id').where('i.review_id', reviewId).select('u.account', 'i.finding', 'i.detail', 'i.status', 'i.unit_id');
    const by = (finding: string) => items.filter((i: any) => i.finding === finding).map((i: any) => i.account).sort();
    expect(by('idle')).to.deep.equal(['r.idle']);
    expect(by('never-activated')).to.deep.equal(['r.never']);
    expect(by('duplicate-person')).to.deep.equal(['r.dup1', 'r.dup2']);
    expect(by('password-expired')).to.deep.equal(['r.expired']);
    expect(by('disable-overdue')).to.deep.equal(['r.overdue']);
    expect(by('after-hours-login')).to.deep.equal(['r.night']);
    expect(by('shared-address')).to.deep.equal(['r.share1', 'r.share2']);
    expect(by('concurrent-session')).to.deep.equal(['r.conc']);
    expect(by('directory-missing')).to.deep.equal([]);
    const flagged = new Set(items.map((i: any) => i.account));
    for (const clean of Object.keys(ids).filter((a) => !a.startsWith('r.'))) expect(flagged.has(clean), clean).to.equal(false);
    expect(flagged.has('r.gone')).to.equal(false);
    expect(flagged.has('r.pending.ok')).to.equal(false);
    expect(items.every((i: any) => i.status === 'open')).to.equal(true);
    const dup = items.find((i: any) => i.account === 'r.dup2');
    expect(dup.unit_id).to.equal(tree.AG1U1);
    expect(JSON.parse(dup.detail).accounts).to.deep.equal(['r.dup1', 'r.dup2']);
    const review = await t.db('account_reviews').where({ id: reviewId }).first();
    expect(review.findings).to.equal(items.length);
    expect(review.period).to.equal(localMonth(Date.now()));
  });

  it('the responsible admin decides: keep with a reason, or disable; each decision is recorded and cannot be made twice', async () => {
    const items = await t.db('review_items as i').join('users as u', 'u.id', 'i.user_id').where('i.review_id', reviewId).select('i.id', 'u.account');
    const item = (account: string) => items.find((i: any) => i.account === account)!.id;
    const ag1 = await signIn(app, 'ag1.admin');
    const list = await ag1.agent.get('/api/v1/review-items?status=open');
    expect(list.status).to.equal(200);
    expect(list.body.items.find((i: any) => i.user.account === 'r.idle').canDecide).to.equal(true);
    // r.dup2 sits in AG1-U1: its own admin decides, not the agency admin.
    expect(list.body.items.find((i: any) => i.user.account === 'r.dup2').canDecide).to.equal(false);
    const notMine = await post(ag1, `/api/v1/review-items/${item('r.dup2')}/decision`, { decision: 'keep', reason: '同一人兼辦' });
    expect(notMine.status).to.equal(403);
    const noReason = await post(ag1, `/api/v1/review-items/${item('r.idle')}/decision`, { decision: 'keep', reason: '' });
    expect(noReason.status).to.equal(400);
    expect(noReason.body.errors[0].field).to.equal('reason');
    // The page re-shows a refused decision in its row: what was typed, and the message beside the field.
    for (const back of ['/accounts/reviews', `/accounts/reviews/${reviewId}`]) {
      const page = await ag1.agent.get(back);
      const csrf = csrfFromHtml(page.text);
      const refused = await ag1.agent.post(`/accounts/review-items/${item('r.idle')}/decision`).type('form').send({ _csrf: csrf, back, decision: 'keep', reason: ' 留' });
      expect(refused.status).to.equal(400);
      expect(refused.text).to.contain('請填寫理由').and.contain('value=" 留"').and.contain('aria-invalid="true"');
      expect(refused.text).to.contain(back === '/accounts/reviews' ? '帳號清查' : `帳號清查 #${reviewId}`);
      expect((await t.db('review_items').where({ id: item('r.idle') }).first()).status).to.equal('open');
    }
    expect((await post(ag1, `/api/v1/review-items/${item('r.idle')}/decision`, { decision: 'keep', reason: '留職停薪，明年復職' })).status).to.equal(204);
    expect((await post(ag1, `/api/v1/review-items/${item('r.overdue')}/decision`, { decision: 'disable', reason: '已調離' })).status).to.equal(204);
    const twice = await post(ag1, `/api/v1/review-items/${item('r.overdue')}/decision`, { decision: 'keep', reason: '改變心意' });
    expect(twice.status).to.equal(409);
    expect(twice.body.type).to.match(/already-decided$/);
    const u1 = await signIn(app, 'u1.admin');
    expect((await post(u1, `/api/v1/review-items/${item('r.dup2')}/decision`, { decision: 'disable', reason: '一人一帳號' })).status).to.equal(204);

    const kept = await t.db('review_items').where({ id: item('r.idle') }).first();
    expect(kept).to.include({ status: 'kept', decided_by: ids['ag1.admin'], decision_reason: '留職停薪，明年復職' });
    expect((await t.db('users').where({ id: ids['r.idle'] }).first()).status).to.equal('active');
    const off = await t.db('users').where({ id: ids['r.overdue'] }).first();
    expect(off.status).to.equal('disabled');
    expect(off.disabled_reason).to.contain('已調離');
    expect((await t.db('users').where({ id: ids['r.dup2'] }).first()).status).to.equal('disabled');
    const ev = await t.db('system_events').where({ action: 'review-decision' }).select();
    expect(ev).to.have.length(3);
    expect(ev.map((e: any) => JSON.parse(e.detail).decision).sort()).to.deep.equal(['disable', 'disable', 'keep']);
    const auditor = await signIn(app, 'ag1.auditor');
    const detail = await auditor.agent.get(`/api/v1/account-reviews/${reviewId}`);
    expect(detail.status).to.equal(200);
    expect(detail.body.items.find((i: any) => i.user.account === 'r.idle').decisionReason).to.equal('留職停薪，明年復職');
    expect(detail.body.items.every((i: any) => !i.canDecide)).to.equal(true);
  });

  it('the monthly run happens once per period; an on-demand run keeps the earlier one as history', async () => {
    const again = await runJob({ db: t.db, cfg: t.cfg }, accountReviewJob, {});
    expect(again.status).to.equal('already-done');
    const admin = await signIn(app, 'plan.admin');
    const res = await post(admin, '/api/v1/account-reviews', {});
    expect(res.status).to.equal(201);
    expect(res.body.reviewId).to.be.greaterThan(reviewId);
    const runs = await admin.agent.get('/api/v1/account-reviews');
    expect(runs.body.total).to.equal(2);
    expect(runs.body.items[0].trigger).to.equal('manual');
    // Decided and disabled accounts are not found again.
    const items = await t.db('review_items as i').join('users as u', 'u.id', 'i.user_id').where('i.review_id', res.body.reviewId).pluck('u.account');
    expect(items).not.to.include('r.overdue');
    expect(items).to.include('r.idle');
    const page = await admin.agent.get(`/accounts/reviews/${res.body.reviewId}`);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('閒置帳號');
  });
});
