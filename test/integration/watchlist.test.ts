// The ethics unit's watch list (issue 18): identifiers kept as HMAC only, added and removed with a
// reason (recorded), seen only by ethics; a query of a listed subject, and a clerk's query of their
// own record, mail ethics (real SMTP server) and the listed one is a risk flag in the monthly sample.
import { expect } from 'chai';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, signIn } from '../support/app.ts';
import { makeUser, nationalId, recordTestEntries, seedTree, type Tree } from '../support/fixtures.ts';
import { startSmtp, type SmtpSink } from '../support/smtp.ts';
import { runJob } from '../../jobs/runner.ts';
import { monthlySamplingJob } from '../../server/checks/index.ts';
import { maskSubject, subjectHmac } from '../../server/queries/subject.ts';
import { deliverOutbox, queueEntryAlerts, transportFor } from '../../server/mail/service.ts';
import type { Config } from '../../server/config.ts';

const WATCHED = nationalId(4242);
const OWN = nationalId(777);

describe(`watch list (${ENGINE})`, function () {
  this.timeout(120_000);
  let t: TestDb;
  let tree: Tree;
  let app: ReturnType<typeof appFor>;
  let smtp: SmtpSink;
  let cfg: Config;
  let clerk = 0;

  before(async () => {
    smtp = await startSmtp();
    t = await migratedDb();
    cfg = { ...t.cfg, SMTP_URL: smtp.url, MAIL_FROM: 'nhi-audit@county.example' };
    tree = await seedTree(t.db);
    app = appFor(t);
    clerk = await makeUser(t.db, { account: 'wl.clerk', unitId: tree.AG1, roles: ['clerk'] });
    await t.db('users').where({ id: clerk }).update({ person_hmac: subjectHmac(t.cfg.SUBJECT_HMAC_KEY, { type: 'national-id', value: OWN }) });
    for (const [account, unitId] of [['wl.ethics', tree.AG1], ['wl.ethics2', tree.AG2]] as const) {
      const id = await makeUser(t.db, { account, unitId, roles: ['ethics'] });
      await t.db('users').where({ id }).update({ email: `${account}@county.example` });
    }
  });
  after(async () => {
    await smtp?.stop();
    await t?.drop();
  });

  it('lets ethics add a subject with a reason, storing only its HMAC; others get 403', async () => {
    const e = await signIn(app, 'wl.ethics');
    const c = await signIn(app, 'wl.clerk');
    expect((await c.agent.get('/api/v1/watch-list')).status).to.equal(403);
    expect((await c.agent.post('/api/v1/watch-list').set('X-CSRF-Token', c.csrf).send({ subject: { type: 'national-id', value: WATCHED }, reason: '新聞關注人物' })).status).to.equal(403);
    const bad = await e.agent.post('/api/v1/watch-list').set('X-CSRF-Token', e.csrf).send({ subject: { type: 'national-id', value: 'A123456788' }, reason: '新聞關注人物' });
    expect(bad.status).to.equal(400);
    expect(JSON.stringify(bad.body)).to.include('subject');
    const long = await e.agent.post('/api/v1/watch-list').set('X-CSRF-Token', e.csrf).send({ subject: { type: 'name-birthdate', value: '王'.repeat(201) }, reason: '新聞關注人物' });
    expect(long.status).to.equal(400);
    expect(JSON.stringify(long.body)).to.include('subject.value').and.include('最多 200 字');
    const noReason = await e.agent.post('/api/v1/watch-list').set('X-CSRF-Token', e.csrf).send({ subject: { type: 'national-id', value: WATCHED }, reason: ' ' });
    expect(noReason.status).to.equal(400);
    expect(JSON.stringify(noReason.body)).to.include('reason');
    expect((await e.agent.post('/api/v1/watch-list').send({ subject: { type: 'national-id', value: WATCHED }, reason: '新聞關注人物' })).status, 'no CSRF token').to.equal(403);
    const ok = await e.agent.post('/api/v1/watch-list').set('X-CSRF-Token', e.csrf).send({ subject: { type: 'national-id', value: WATCHED }, reason: '新聞關注人物' });
    expect(ok.status).to.equal(201);
    expect((await e.agent.post('/api/v1/watch-list').set('X-CSRF-Token', e.csrf).send({ subject: { type: 'national-id', value: WATCHED }, reason: '重複加入' })).status).to.equal(409);
    const row = await t.db('watch_list').where({ id: ok.body.id }).first();
    expect(row.subject_hmac).to.equal(subjectHmac(t.cfg.SUBJECT_HMAC_KEY, { type: 'national-id', value: WATCHED }));
    const everything = JSON.stringify([await t.db('watch_list'), await t.db('system_events')]);
    // The identifier and its mask: a bare run of its digits is no test, since hashes and tokens are
    // random hex and would sooner or later hold them by chance.
    expect(everything).to.not.include(WATCHED).and.not.include(maskSubject({ type: 'national-id', value: WATCHED }));
    const list = await e.agent.get('/api/v1/watch-list');
    expect(list.body.items[0]).to.include({ subjectType: 'national-id', status: 'active', addedBy: 'wl.ethics', reason: '新聞關注人物' });
    expect(JSON.stringify(list.body)).to.not.include(row.subject_hmac);
    expect(await t.db('system_events').where({ action: 'watch-list.add' }).count({ n: '*' }).first().then((r: any) => Number(r.n))).to.equal(1);
  });

  it('mails ethics within reach on a watched subject and on a self-lookup, without the identifier', async () => {
    expect(await queueEntryAlerts(t.db, cfg)).to.equal(0); // the first scan starts at the head
    await recordTestEntries(t.db, t.cfg, [
      { userId: clerk, account: 'wl.clerk', unitId: tree.AG1, subject: { type: 'national-id', value: WATCHED }, queriedAt: Date.parse('2026-10-05T02:00:00Z') },
      { userId: clerk, account: 'wl.clerk', unitId: tree.AG1, subject: { type: 'national-id', value: OWN }, queriedAt: Date.parse('2026-10-06T02:00:00Z') },
      { userId: clerk, account: 'wl.clerk', unitId: tree.AG1, queriedAt: Date.parse('2026-10-07T02:00:00Z') },
    ]);
    expect(await queueEntryAlerts(t.db, cfg)).to.equal(2);
    expect(await queueEntryAlerts(t.db, cfg), 'a second scan adds nothing').to.equal(0);
    const tr = transportFor(cfg);
    await deliverOutbox(t.db, cfg, tr);
    tr.close();
    const got = await smtp.messages();
    expect(got.map((m) => [m.envelopeTo.join(','), m.subject]).sort()).to.deep.equal([
      ['wl.ethics@county.example', '【健保查詢稽核】安全警示：查詢人員查詢本人資料'],
      ['wl.ethics@county.example', '【健保查詢稽核】安全警示：查詢政風關注名單所列對象'],
    ]);
    // Read as a person reads it (decoded subject and body), and raw for anything left undecoded.
    for (const m of got) {
      const read = [m.subject, m.text, m.html || ''].join('\n');
      for (const id of [WATCHED, OWN]) {
        const mask = maskSubject({ type: 'national-id', value: id });
        expect(read).to.not.include(id).and.not.include(mask).and.not.include(mask.slice(-3).padStart(7, '*'));
        expect(m.raw).to.not.include(id).and.not.include(mask);
      }
    }
  });

  it('flags a query of a listed subject in the monthly sample', async () => {
    const out = await runJob({ cfg: t.cfg, db: t.db }, monthlySamplingJob, { period: '2026-10' });
    expect(out.status).to.equal('ran');
    const entry = await t.db('query_logs').where({ subject_hmac: subjectHmac(t.cfg.SUBJECT_HMAC_KEY, { type: 'national-id', value: WATCHED }) }).first('id');
    const item = await t.db('check_items').where({ entry_id: entry.id }).first('basis', 'flags');
    expect(item.flags.split(',')).to.include('watch-list');
  });

  it('removes an entry with a reason, keeping it as history', async () => {
    const e = await signIn(app, 'wl.ethics');
    const id = (await t.db('watch_list').first('id')).id;
    const noReason = await e.agent.post(`/api/v1/watch-list/${id}/remove`).set('X-CSRF-Token', e.csrf).send({});
    expect(noReason.status).to.equal(400);
    expect((await e.agent.post(`/api/v1/watch-list/${id}/remove`).set('X-CSRF-Token', e.csrf).send({ reason: '事件已結束' })).status).to.equal(204);
    expect((await e.agent.post(`/api/v1/watch-list/${id}/remove`).set('X-CSRF-Token', e.csrf).send({ reason: '事件已結束' })).status).to.equal(409);
    expect((await e.agent.post('/api/v1/watch-list/999999/remove').set('X-CSRF-Token', e.csrf).send({ reason: '事件已結束' })).status).to.equal(404);
    const list = (await e.agent.get('/api/v1/watch-list')).body.items;
    expect(list[0]).to.include({ status: 'removed', removedBy: 'wl.ethics', removeReason: '事件已結束' });
    expect(await t.db('system_events').where({ action: 'watch-list.remove' }).count({ n: '*' }).first().then((r: any) => Number(r.n))).to.equal(1);
  });
});
