// Mail (issue 18) against a real SMTP server in its own process: reminders and escalation reach
// the right people with the right subject and no subject identifier; nothing can be injected into
// a header; two delivery processes on one database send each message exactly once; a server that
// was down loses nothing; alerts reach the ethics unit within its reach.
import { expect } from 'chai';
import { ENGINE, migratedDb, testConfig, type TestDb } from '../support/db.ts';
import { makeUser, recordTestEntries, seedAccountPeople, seedTree, type Tree } from '../support/fixtures.ts';
import { startSmtp, type SmtpSink } from '../support/smtp.ts';
import { cli } from '../support/cli.ts';
import { setClock } from '../../server/time.ts';
import { parseConfig, ConfigError, type Config } from '../../server/config.ts';
import { deliverOutbox, enqueue, queueAlerts, queueSignInNotices, runReminders, transportFor } from '../../server/mail/service.ts';
import { recordEvent, SYSTEM_ACTOR } from '../../server/events/service.ts';

const JAN = Date.parse('2026-01-20T04:00:00Z'); // 民國 115 年 1 月 20 日 in Taipei
const DAY = 86_400_000;

describe(`mail: outbox, reminders, escalation, alerts (${ENGINE})`, function () {
  this.timeout(180_000);
  let t: TestDb;
  let tree: Tree;
  let ids: Record<string, number>;
  let smtp: SmtpSink;
  let cfg: Config;
  let plainIds: string[] = [];
  const mails = () => smtp.messages();
  const to = (m: { envelopeTo: string[] }) => m.envelopeTo.join(',');
  const deliver = async () => {
    const tr = transportFor(cfg);
    try { return await deliverOutbox(t.db, cfg, tr); } finally { tr.close(); }
  };

  before(async () => {
    smtp = await startSmtp();
    t = await migratedDb();
    cfg = { ...t.cfg, SMTP_URL: smtp.url, MAIL_FROM: 'nhi-audit@county.example', PUBLIC_URL: 'https://audit.county.example', MAIL_REMINDER_DAYS: 3, MAIL_MAX_ATTEMPTS: 5 };
    tree = await seedTree(t.db);
    ids = await seedAccountPeople(t.db, tree);
    for (const account of Object.keys(ids)) await t.db('users').where({ account }).update({ email: `${account}@county.example` });
    setClock(() => JAN);
    const subjects = [1, 2, 3].map((n) => `A1${String(2345670 + n).padStart(7, '0')}`);
    const e = await recordTestEntries(t.db, t.cfg, [0, 1, 2].map((n) => ({ userId: ids['ag1.clerk'], account: 'ag1.clerk', unitId: tree.AG1, queriedAt: Date.parse('2025-11-03T02:00:00Z') + n * DAY })));
    plainIds = subjects;
    const [c] = await t.db('checks').insert({
      unit_id: tree.AG1, period: '2025-11', generation: 1, seed: 'ab'.repeat(32), population: 3, population_digest: 'cd'.repeat(32), sample_size: 3,
      rate_percent: 3, minimum: 10, status: 'open', checker_id: ids['ag1.checker'], created_at: JAN - 40 * DAY,
    });
    for (const x of e) await t.db('check_items').insert({ check_id: Number(c), entry_id: Number(x.id), basis: 'random', flags: '', checker_id: ids['ag1.checker'], verdict: 'proper' });
  });
  after(async () => {
    setClock(null);
    await smtp?.stop();
    await t?.drop();
  });

  it('stops the start on a malformed SMTP_URL, naming the key', () => {
    for (const bad of ['not a url', 'http://relay.example', 'smtp://', 'smtp://relay\r\n.example']) {
      expect(() => parseConfig({ NODE_ENV: 'test', SMTP_URL: bad }), bad).to.throw(ConfigError, /SMTP_URL/);
    }
    expect(() => parseConfig({ NODE_ENV: 'test', MAIL_FROM: 'a@b.example\r\nBcc: x@y.example' })).to.throw(ConfigError, /MAIL_FROM/);
    expect(parseConfig({ NODE_ENV: 'test', SMTP_URL: 'smtp://user:pw@relay.county.example:25' }).SMTP_URL).to.equal('smtp://user:pw@relay.county.example:25');
  });

  it('queues nothing without SMTP_URL (in-app only)', async () => {
    await enqueue(t.db, testConfig(t.env), [{ kind: 'reminder', dedupeKey: 'x:1', recipientId: ids['ag1.clerk'], message: { subject: 's', body: 'b' } }]);
    expect(Number((await t.db('mail_outbox').count({ n: '*' }).first())!.n)).to.equal(0);
  });

  it('reminds the checker of an overdue sign-off and escalates to the unit head and the agency admin, once', async () => {
    const r = await runReminders(t.db, cfg, JAN);
    expect(r.escalations).to.be.greaterThan(0);
    expect(await deliver()).to.include({ sent: r.reminders + r.escalations, failed: 0 });
    const got = await mails();
    const mine = got.filter((m) => to(m) === 'ag1.checker@county.example');
    expect(mine.map((m) => m.subject)).to.deep.equal(['【健保查詢稽核】已逾期：簽核民國 114 年 11 月查核']);
    expect(mine[0].text).to.include('期限：民國 114 年 12 月 31 日').and.include('https://audit.county.example/checks/');
    expect(mine[0].from!.value[0].address).to.equal('nhi-audit@county.example');
    const esc = got.filter((m) => m.subject!.startsWith('【健保查詢稽核】逾期通知：社會處 簽核民國 114 年 11 月查核')).map(to).sort();
    expect(esc).to.deep.equal(['ag1.admin@county.example', 'ag1.sup2@county.example', 'ag1.sup@county.example'].sort());
    // The filing of 2025 is due on 31 January: within three days? No (20 January) — so no filing mail yet.
    expect(got.some((m) => m.subject!.includes('報府'))).to.equal(false);
    // A second run the same day adds nothing.
    const before = Number((await t.db('mail_outbox').count({ n: '*' }).first())!.n);
    await runReminders(t.db, cfg, JAN);
    expect(Number((await t.db('mail_outbox').count({ n: '*' }).first())!.n)).to.equal(before);
  });

  it('sends a digest instead to those who chose it, and escalates an overdue filing to the planning department', async () => {
    await t.db('mail_preferences').insert({ user_id: ids['ag1.admin'], reminders: 'digest', updated_at: JAN });
    const FEB = Date.parse('2026-02-03T04:00:00Z');
    await runReminders(t.db, cfg, FEB);
    await deliver();
    const got = await mails();
    const digest = got.filter((m) => to(m) === 'ag1.admin@county.example' && m.subject!.includes('今日待辦彙整'));
    expect(digest).to.have.length(1);
    expect(digest[0].text).to.include('114 年度報府備查');
    expect(got.filter((m) => m.subject!.startsWith('【健保查詢稽核】已逾期：114 年度報府備查')).map(to), 'digest chosen: no single reminder').to.not.include('ag1.admin@county.example');
    const plan = got.filter((m) => m.subject!.includes('逾期通知：社會處 114 年度報府備查')).map(to);
    expect(plan).to.include('plan.admin@county.example');
    expect(plan).to.not.include('ag1.sup@county.example');
  });

  it('never carries a subject identifier, mask or the name of the person queried', async () => {
    const rows = await t.db('query_logs').select('subject_mask');
    const got = await mails();
    expect(got.length).to.be.greaterThan(3);
    for (const m of got) {
      for (const needle of [...plainIds, ...rows.map((r: any) => r.subject_mask)]) expect(m.raw, needle).to.not.include(needle);
      expect(m.raw).to.not.match(/[A-Z][12]\d{8}/);
    }
  });

  it('lets no name, address or text field inject a header', async () => {
    const evil = await makeUser(t.db, { account: 'evil.clerk', unitId: tree.AG1, roles: ['clerk'], name: '王小明\r\nBcc: spy@evil.example' });
    await t.db('users').where({ id: evil }).update({ email: 'evil.clerk@county.example\r\nBcc: spy@evil.example' });
    await t.db('units').where({ id: tree.AG1 }).update({ name: '社會處\r\nBcc: spy@evil.example\r\nSubject: 假' });
    await enqueue(t.db, cfg, [
      { kind: 'reminder', dedupeKey: 'inj:1', recipientId: evil, message: { subject: 'x', body: 'y' } },
      { kind: 'reminder', dedupeKey: 'inj:2', recipientId: ids['ag1.clerk'], message: { subject: '說明\r\nBcc: spy@evil.example\nX-Evil: 1', body: '內容\r\n.\r\nMAIL FROM:<spy@evil.example>' } },
    ]);
    expect((await t.db('mail_outbox').where({ dedupe_key: 'inj:1' }).first()).status).to.equal('no-address');
    // An overdue duty of the clerk with the hostile name: escalated with the name in the body only.
    await t.db('users').where({ id: evil }).update({ password_changed_at: JAN - 100 * DAY });
    await runReminders(t.db, cfg, JAN + 2 * DAY);
    await deliver();
    const got = await mails();
    for (const m of got) {
      expect(m.envelopeTo.join(',')).to.not.include('evil.example');
      expect(m.headers.has('bcc')).to.equal(false);
      expect(m.headers.has('x-evil')).to.equal(false);
      const head = m.raw.slice(0, m.raw.indexOf('\r\n\r\n'));
      expect(head).to.not.match(/^(Bcc|X-Evil):/im);
    }
    const injected = got.find((m) => to(m) === 'ag1.clerk@county.example' && m.subject!.startsWith('說明'))!;
    expect(injected.subject).to.equal('說明 Bcc: spy@evil.example X-Evil: 1');
    await t.db('units').where({ id: tree.AG1 }).update({ name: '社會處' });
  });

  it('sends each message exactly once with two delivery processes on one database', async () => {
    const n = 60;
    await enqueue(t.db, cfg, Array.from({ length: n }, (_, i) => ({ kind: 'reminder', dedupeKey: `twice:${i}`, recipientId: ids['ag2.clerk'], message: { subject: `兩個程序 ${i}`, body: `第 ${i} 封` } })));
    const env = { ...t.env, SMTP_URL: smtp.url, MAIL_FROM: 'nhi-audit@county.example' };
    const [a, b] = await Promise.all([cli(['mail', 'deliver'], env), cli(['mail', 'deliver'], env)]);
    expect(a.code, a.stderr).to.equal(0);
    expect(b.code, b.stderr).to.equal(0);
    const sent = [a, b].map((r) => JSON.parse(r.stdout.trim().split('\n').pop()!).sent as number);
    expect(sent[0] + sent[1]).to.equal(n);
    const got = (await mails()).filter((m) => m.subject!.startsWith('兩個程序'));
    expect(got).to.have.length(n);
    expect(new Set(got.map((m) => m.subject)).size).to.equal(n);
    expect(await t.db('mail_outbox').where('dedupe_key', 'like', 'twice:%').whereNot('status', 'sent').count({ n: '*' }).first().then((r: any) => Number(r.n))).to.equal(0);
  });

  it('keeps messages while the server is down and delivers them after its back-off', async () => {
    setClock(() => JAN); // the clock is reset after each test (test/support/hooks.ts)
    await smtp.stop();
    await enqueue(t.db, cfg, [0, 1, 2].map((i) => ({ kind: 'reminder', dedupeKey: `down:${i}`, recipientId: ids['ag2.admin'], message: { subject: `伺服器停機 ${i}`, body: '稍後送達' } })));
    expect(await deliver()).to.include({ sent: 0, retried: 3 });
    const rows = await t.db('mail_outbox').where('dedupe_key', 'like', 'down:%');
    expect(rows.map((r: any) => [r.status, Number(r.attempts)])).to.deep.equal([['pending', 1], ['pending', 1], ['pending', 1]]);
    expect(rows.every((r: any) => r.last_error && Number(r.next_attempt_at) > JAN)).to.equal(true);
    await smtp.restart();
    expect(await deliver(), 'still in back-off').to.include({ sent: 0 });
    setClock(() => JAN + 10 * 60_000);
    try {
      expect(await deliver()).to.include({ sent: 3 });
    } finally {
      setClock(() => JAN);
    }
    expect((await mails()).filter((m) => m.subject!.startsWith('伺服器停機'))).to.have.length(3);
  });

  it('mails an alert to the ethics staff whose reach covers it, once', async () => {
    await recordEvent(t.db, SYSTEM_ACTOR, { action: 'lockout', targetType: 'user', targetId: ids['ag2.clerk'], unitId: tree.AG2, detail: {} });
    await makeUser(t.db, { account: 'ag2.ethics', unitId: tree.AG2, roles: ['ethics'] });
    await t.db('users').where({ account: 'ag2.ethics' }).update({ email: 'ag2.ethics@county.example' });
    expect(await queueAlerts(t.db, cfg)).to.be.greaterThan(0);
    await queueAlerts(t.db, cfg);
    await deliver();
    const got = (await mails()).filter((m) => m.subject === '【健保查詢稽核】安全警示：帳號因登入失敗而鎖定');
    expect(got.map(to).sort()).to.deep.equal(['ag2.ethics@county.example']);
    expect(got[0].text).to.include('https://audit.county.example/alerts');
  });
});

describe(`mail: sign-in notices and preferences (${ENGINE})`, function () {
  this.timeout(120_000);
  let t: TestDb;
  let smtp: SmtpSink;
  let cfg: Config;

  before(async () => {
    smtp = await startSmtp();
    t = await migratedDb();
    cfg = { ...t.cfg, SMTP_URL: smtp.url, MAIL_FROM: 'nhi-audit@county.example', LOCKOUT_THRESHOLD: 3 };
    const tree = await seedTree(t.db);
    const id = await makeUser(t.db, { account: 'sn.clerk', unitId: tree.AG1, roles: ['clerk'] });
    await t.db('users').where({ id }).update({ email: 'sn.clerk@county.example' });
  });
  after(async () => {
    await smtp?.stop();
    await t?.drop();
  });

  it('mails the owner on a sign-in from a new address and on a lockout, once each', async () => {
    const app = (await import('../support/app.ts')).appFor({ ...t, cfg });
    const request = (await import('supertest')).default;
    const login = (ip: string, password = 'Test-Passw0rd-2026') => request(app).post('/api/v1/auth/login').set('X-Forwarded-For', ip).send({ account: 'sn.clerk', password });
    expect(await queueSignInNotices(t.db, cfg)).to.equal(0); // the first scan starts at the head
    expect((await login('10.1.1.1')).status).to.equal(204); // the first address ever: recorded, no mail
    expect((await login('10.1.1.1')).status).to.equal(204);
    expect((await login('10.9.9.9')).status).to.equal(204); // new
    for (let i = 0; i < 3; i++) await login('10.6.6.6', 'wrong-Passw0rd-1');
    expect(await queueSignInNotices(t.db, cfg)).to.equal(2);
    expect(await queueSignInNotices(t.db, cfg)).to.equal(0);
    const tr = transportFor(cfg);
    await deliverOutbox(t.db, cfg, tr);
    tr.close();
    const got = await smtp.messages();
    expect(got.map((m) => [m.envelopeTo.join(','), m.subject]).sort()).to.deep.equal([
      ['sn.clerk@county.example', '【健保查詢稽核】帳號鎖定通知'],
      ['sn.clerk@county.example', '【健保查詢稽核】新位址登入通知'],
    ]);
    expect(got.find((m) => m.subject!.includes('新位址'))!.text).to.include('10.9.9.9');
  });

  it('keeps the reminder preference per person; a bad value is a 400 naming the field', async () => {
    const app = (await import('../support/app.ts')).appFor({ ...t, cfg });
    const s = await (await import('../support/app.ts')).signIn(app, 'sn.clerk');
    expect((await s.agent.get('/api/v1/me/mail-preferences')).body).to.include({ reminders: 'immediate', mail: true });
    const bad = await s.agent.put('/api/v1/me/mail-preferences').set('X-CSRF-Token', s.csrf).send({ reminders: 'off' });
    expect(bad.status).to.equal(400);
    expect(JSON.stringify(bad.body)).to.include('reminders');
    expect((await s.agent.put('/api/v1/me/mail-preferences').set('X-CSRF-Token', s.csrf).send({ reminders: 'digest' })).status).to.equal(200);
    expect((await s.agent.get('/api/v1/me/mail-preferences')).body.reminders).to.equal('digest');
    expect((await t.db('mail_preferences').first()).reminders).to.equal('digest');
  });
});
