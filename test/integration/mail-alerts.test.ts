// Alerts to the ethics unit (政風) raised in the transaction of their cause (issue 18): a chain
// break found by the daily verify-log job or the verify-log command mails the county-wide ethics
// staff (the planning department's) once; unlogged queries found by a reconciliation run mail the
// ethics staff whose reach covers the agency. Real SMTP server; no identifier, name or mask in mail.
// Also: a malformed SMTP_URL stops the server's start, naming the key.
import { expect } from 'chai';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, signIn } from '../support/app.ts';
import { makeUser, nationalId, recordTestEntries, seedTree, type Tree } from '../support/fixtures.ts';
import { startSmtp, type SmtpSink } from '../support/smtp.ts';
import { cli } from '../support/cli.ts';
import { runJob } from '../../jobs/runner.ts';
import { verifyLogJob } from '../../server/queries/index.ts';
import { runReconciliation } from '../../server/reconcile/results.ts';
import { encryptSubject, maskSubject, subjectHmac } from '../../server/queries/subject.ts';
import { deliverOutbox, transportFor } from '../../server/mail/service.ts';
import type { Config } from '../../server/config.ts';

const SUBJECT = nationalId(31337);
const PERSON = '陳大文';

describe(`mail: ethics alerts for a chain break and unlogged queries; a malformed SMTP_URL (${ENGINE})`, function () {
  this.timeout(180_000);
  let t: TestDb;
  let tree: Tree;
  let smtp: SmtpSink;
  let cfg: Config;
  let clerk = 0;
  const deliver = async () => {
    const tr = transportFor(cfg);
    try { return await deliverOutbox(t.db, cfg, tr); } finally { tr.close(); }
  };
  const to = (m: { envelopeTo: string[] }) => m.envelopeTo.join(',');

  before(async () => {
    smtp = await startSmtp();
    t = await migratedDb();
    cfg = { ...t.cfg, SMTP_URL: smtp.url, MAIL_FROM: 'nhi-audit@county.example', PUBLIC_URL: 'https://audit.county.example' };
    tree = await seedTree(t.db);
    clerk = await makeUser(t.db, { account: 'ma.clerk', unitId: tree.AG1, roles: ['clerk'], name: PERSON });
    for (const [account, unitId] of [['ma.ethics.plan', tree.PLAN], ['ma.ethics.ag1', tree.AG1], ['ma.ethics.ag2', tree.AG2]] as const) {
      const id = await makeUser(t.db, { account, unitId, roles: ['ethics'] });
      await t.db('users').where({ id }).update({ email: `${account}@county.example` });
    }
  });
  after(async () => {
    await smtp?.stop();
    await t?.drop();
  });

  it('refuses to start the server on a malformed SMTP_URL, naming the key, and starts none of it', async () => {
    const r = await cli(['serve'], { ...t.env, PORT: '0', SMTP_URL: 'smtp://relay\r\n.example' });
    expect(r.code).to.not.equal(0);
    expect(r.stdout + r.stderr).to.include('SMTP_URL');
  });

  it('mails unlogged queries found by reconciliation to the ethics staff within reach, once per finding', async () => {
    const when = Date.parse('2026-03-10T02:00:00Z');
    await recordTestEntries(t.db, t.cfg, [{ userId: clerk, account: 'ma.clerk', unitId: tree.AG1, queriedAt: when }]);
    const [src] = await t.db('reconcile_sources').insert({ code: 'NHI', name: '健保來源', kind: 'records', complete: false, unit_id: null, created_by: null, created_at: when });
    await t.db('source_account_links').insert({ source_id: src, user_id: clerk, source_account: 'NHI-1', created_at: when });
    const [mapping] = await t.db('reconcile_mappings').insert({ source_id: src, version: 1, columns: '{}', encoding: 'utf-8', date_style: 'ad', header_row: 1, created_at: when });
    const [imp] = await t.db('reconcile_imports').insert({ source_id: src, mapping_id: mapping, unit_id: tree.AG1, period: '2026-03', file_name: 'a.csv', file_sha256: '1'.padStart(64, '0'), row_count: 1, imported_by: null, via: 'cli', imported_at: when });
    const s = { type: 'national-id' as const, value: SUBJECT };
    await t.db('source_records').insert({
      import_id: imp, row_no: 2, source_account: 'NHI-1', user_id: clerk, occurred_at: when + 5 * 86_400_000, subject_type: s.type, subject_hmac: subjectHmac(t.cfg.SUBJECT_HMAC_KEY, s),
      subject_cipher: encryptSubject(t.cfg.subjectEncKey, s.value, 'test'), subject_mask: maskSubject(s), op_code: 'IN01', count: null,
    });
    const agency = await t.db('units').where({ id: tree.AG1 }).first();
    const run = await runReconciliation(t.db, cfg, { agency, period: '2026-03', trigger: 'manual' });
    expect(run.figures.unlogged).to.equal(1);
    await runReconciliation(t.db, cfg, { agency, period: '2026-03', trigger: 'manual' });
    // Without SMTP_URL nothing is queued (in-app only).
    await runReconciliation(t.db, t.cfg, { agency, period: '2026-03', trigger: 'manual' });
    expect(await deliver()).to.include({ sent: 2, failed: 0 });
    const got = (await smtp.messages()).filter((m) => m.subject!.includes('未登錄'));
    expect(got.map(to).sort()).to.deep.equal(['ma.ethics.ag1@county.example', 'ma.ethics.plan@county.example']);
    expect(got[0].subject).to.equal('【健保查詢稽核】安全警示：對帳發現未登錄之查詢（民國 115 年 3 月，1 筆）');
    expect(got[0].text).to.include(`https://audit.county.example/reconciliations/${run.runId}`).and.include('社會處');
    for (const m of got) expect(m.raw).to.not.include(SUBJECT).and.not.include(maskSubject(s)).and.not.include(PERSON);
  });

  it('mails a chain break found by the daily job to the county-wide ethics staff only, and a manual run the same day adds nothing', async () => {
    const ids = (await recordTestEntries(t.db, t.cfg, [0, 1, 2].map((i) => ({ userId: clerk, account: 'ma.clerk', unitId: tree.AG1, subject: { type: 'national-id' as const, value: nationalId(500 + i) } })))).map((x) => x.id);
    await t.db('query_logs').where({ id: ids[1] }).update({ reason: '改寫後的事由內容' });
    const job = await runJob({ cfg, db: t.db }, verifyLogJob, {});
    expect(job.status).to.equal('failed');
    const rows = await t.db('mail_outbox').where({ kind: 'alert' }).andWhere('dedupe_key', 'like', 'chain-break:%');
    expect(rows).to.have.length(1);
    const r = await cli(['verify-log'], { ...t.env, SMTP_URL: smtp.url, MAIL_FROM: 'nhi-audit@county.example' });
    expect(r.code).to.equal(1);
    expect(await t.db('mail_outbox').where('dedupe_key', 'like', 'chain-break:%').count({ n: '*' }).first().then((x: any) => Number(x.n)), 'same break, same day').to.equal(1);
    await deliver();
    const got = (await smtp.messages()).filter((m) => m.subject!.includes('雜湊鏈'));
    expect(got.map(to)).to.deep.equal(['ma.ethics.plan@county.example']);
    expect(got[0].text).to.include('https://audit.county.example/integrity').and.include('（全縣）');
    for (const m of got) expect(m.raw).to.not.include('改寫後的事由內容').and.not.include(PERSON);
  });

  it('shows both alerts on the alerts page within reach, once each, mail or none', async () => {
    const app = appFor(t);
    const seen = async (account: string) => (await (await signIn(app, account)).agent.get('/api/v1/alerts')).body.items.map((a: any) => a.what).sort();
    const UNLOGGED = '對帳發現未登錄之查詢';
    const BREAK = '查詢日誌或系統事件之雜湊鏈驗證失敗（疑遭竄改）';
    // Three reconciliation runs (one without SMTP) and two verify runs raised one event each.
    expect(await seen('ma.ethics.plan')).to.deep.equal([UNLOGGED, BREAK].sort());
    expect(await seen('ma.ethics.ag1')).to.deep.equal([UNLOGGED]);
    expect(await seen('ma.ethics.ag2')).to.deep.equal([]);
    const page = await (await signIn(app, 'ma.ethics.ag1')).agent.get('/alerts');
    expect(page.status).to.equal(200);
    expect(page.text).to.include(UNLOGGED);
  });
});
