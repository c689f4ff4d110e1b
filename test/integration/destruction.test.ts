// Destruction by two-person approval (clause 4(二), 檔案法 §12; issue 15). Retention deletes
// nothing on its own: the job prepares a destruction list per agency; a planning-department admin
// and an ethics officer, two different people, approve it within 30 days; then the entries'
// personal fields are blanked, a signed destruction statement is witnessed, and verify-log passes
// for an outside verifier. Entries of a clerk under an open investigation are never listed. A
// destruction without approval, in any form, fails verify-log.
import fs from 'node:fs';
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import type { Express } from 'express';
import { ENGINE, migratedDb, testConfig, type TestDb } from '../support/db.ts';
import { appFor, csrfFromHtml, getFile, signIn } from '../support/app.ts';
import { cli } from '../support/cli.ts';
import { makeKeys, type Keys } from '../support/keys.ts';
import { makeUser, recordTestEntries, seedTree, type Tree } from '../support/fixtures.ts';
import { runJob } from '../../jobs/runner.ts';
import { retentionJob } from '../../server/destruction/index.ts';
import { prepareLists } from '../../server/destruction/service.ts';
import { segmentLine } from '../../server/queries/chain.ts';
import { rotateCheckpointKey, verifyLog, type LogVerifyResult } from '../../server/queries/checkpoints.ts';
import { setClock } from '../../server/time.ts';
import crypto from 'node:crypto';

const DAY = 86_400_000;
const YEAR = 365 * DAY;

interface World { t: TestDb; k: Keys; tree: Tree; app: Express; users: Record<string, number>; old: { AG1: number[]; AG2: number[]; held: number[] }; recent: number[] }

/**
 * Two agencies with entries past retention (interleaved in the chain) and recent ones; a planner
 * and an ethics officer in the planning department, a person holding both, an agency's own ethics
 * officer and admin.
 */
async function world(): Promise<World> {
  const k = makeKeys();
  fs.mkdirSync(k.witness);
  const t = await migratedDb({ CHECKPOINT_KEY_FILE: k.privateFile, WITNESS_DIR: k.witness });
  const tree = await seedTree(t.db);
  const users: Record<string, number> = {
    clerkA: await makeUser(t.db, { account: 'clerk.a', unitId: tree.AG1U1, roles: ['clerk'] }),
    clerkH: await makeUser(t.db, { account: 'clerk.h', unitId: tree.AG1, roles: ['clerk'] }),
    clerkB: await makeUser(t.db, { account: 'clerk.b', unitId: tree.AG2, roles: ['clerk'] }),
    planner: await makeUser(t.db, { account: 'plan.admin', unitId: tree.PLAN, roles: ['planning_admin'] }),
    ethics: await makeUser(t.db, { account: 'ethics.county', unitId: tree.PLAN, roles: ['ethics'] }),
    both: await makeUser(t.db, { account: 'plan.both', unitId: tree.PLAN, roles: ['planning_admin', 'ethics'] }),
    ethicsAG2: await makeUser(t.db, { account: 'ethics.ag2', unitId: tree.AG2, roles: ['ethics'] }),
    adminAG1: await makeUser(t.db, { account: 'admin.ag1', unitId: tree.AG1, roles: ['admin'] }),
  };
  const start = Date.now() - 6 * YEAR;
  const entry = (who: 'clerkA' | 'clerkB' | 'clerkH', at: number) => ({ userId: users[who], account: who === 'clerkA' ? 'clerk.a' : who === 'clerkB' ? 'clerk.b' : 'clerk.h', unitId: who === 'clerkA' ? tree.AG1U1 : who === 'clerkB' ? tree.AG2 : tree.AG1, queriedAt: at });
  const old = { AG1: [] as number[], AG2: [] as number[], held: [] as number[] };
  for (let i = 0; i < 5; i++) {
    old.AG1.push((await recordTestEntries(t.db, t.cfg, [entry('clerkA', start + i * DAY)]))[0].id);
    if (i < 3) old.AG2.push((await recordTestEntries(t.db, t.cfg, [entry('clerkB', start + i * DAY + 1000)]))[0].id);
    if (i < 2) old.held.push((await recordTestEntries(t.db, t.cfg, [entry('clerkH', start + i * DAY + 2000)]))[0].id);
  }
  const recent = (await recordTestEntries(t.db, t.cfg, [entry('clerkA', Date.now() - DAY), entry('clerkB', Date.now() - DAY), entry('clerkH', Date.now() - DAY)])).map((e) => e.id);
  return { t, k, tree, app: appFor(t), users, old, recent };
}

const outside = (w: World): Promise<LogVerifyResult> => verifyLog(w.t.db, {}, { publicKeyFile: w.k.publicFile, witness: [w.k.witness] });
const blanked = async (w: World, ids: number[]) => (await w.t.db('query_logs').whereIn('id', ids).whereNotNull('destruction_id').count({ n: '*' }).first())!.n;
const approveApi = async (w: World, account: string, id: number, duty: string) => {
  const s = await signIn(w.app, account);
  return s.agent.post(`/api/v1/destructions/${id}/approvals`).set('x-csrf-token', s.csrf).send({ duty });
};
const listOf = async (w: World, unitId: number) => w.t.db('destructions').where({ unit_id: unitId }).orderBy('id', 'desc').first();

function expectBroken(r: LogVerifyResult, pattern: RegExp): void {
  expect(r.ok, JSON.stringify(r.breaks.slice(0, 5))).to.equal(false);
  expect(r.breaks.map((b) => b.reason).join('\n')).to.match(pattern);
}

describe(`query log destruction by approval (${ENGINE})`, function () {
  this.timeout(300_000);
  const worlds: World[] = [];
  const make = async () => {
    const w = await world();
    worlds.push(w);
    return w;
  };
  afterEach(() => setClock(null));
  after(async () => {
    for (const w of worlds.splice(0)) {
      fs.rmSync(w.k.dir, { recursive: true, force: true });
      await w.t.drop();
    }
  });

  it('the retention job prepares one list per agency and changes no entry; a second run adds none', async () => {
    const w = await make();
    const r = await runJob({ cfg: w.t.cfg, db: w.t.db }, retentionJob, {});
    expect(r.status, JSON.stringify(r)).to.equal('ran');
    const lists = await w.t.db('destructions').orderBy('unit_id').select();
    expect(lists.map((l) => [Number(l.unit_id), Number(l.entry_count), l.status])).to.deep.equal([[w.tree.AG1, 7, 'prepared'], [w.tree.AG2, 3, 'prepared']]);
    // The list's facts: its span and the segment hash over exactly its entries.
    const rows = await w.t.db('query_logs').whereIn('id', [...w.old.AG1, ...w.old.held]).orderBy('seq').select('seq', 'prev_hash', 'hash');
    const ag1 = lists[0];
    expect([Number(ag1.first_seq), Number(ag1.last_seq)]).to.deep.equal([Number(rows[0].seq), Number(rows[rows.length - 1].seq)]);
    expect(ag1.segment_hash).to.equal(crypto.createHash('sha256').update(rows.map((x) => segmentLine(Number(x.seq), x.prev_hash, x.hash)).join('')).digest('hex'));
    // Nothing is deleted or blanked without approval.
    expect(Number((await w.t.db('query_logs').count({ n: '*' }).first())!.n)).to.equal(5 + 3 + 2 + 3);
    expect(Number(await blanked(w, [...w.old.AG1, ...w.old.AG2]))).to.equal(0);
    expect((await outside(w)).ok).to.equal(true);
    const again = await runJob({ cfg: w.t.cfg, db: w.t.db }, retentionJob, { force: true });
    expect(again.status).to.equal('ran');
    expect(Number((await w.t.db('destructions').count({ n: '*' }).first())!.n)).to.equal(2);
  });

  it('two different people approve; the entries are then blanked, signed and witnessed, and verify-log passes from outside', async () => {
    const w = await make();
    await prepareLists(w.t.db, w.t.cfg);
    const ag1 = await listOf(w, w.tree.AG1);
    const ag2 = await listOf(w, w.tree.AG2);
    // Reach and duty: another agency's ethics officer does not see the list; an agency admin sees it but cannot approve.
    expect((await approveApi(w, 'ethics.ag2', ag1.id, 'ethics')).status).to.equal(404);
    const ag2Ethics = await signIn(w.app, 'ethics.ag2');
    expect((await ag2Ethics.agent.get(`/api/v1/destructions/${ag1.id}`)).status).to.equal(404);
    expect((await ag2Ethics.agent.get('/api/v1/destructions')).body.items.map((i: any) => i.id)).to.deep.equal([ag2.id]);
    const admin = await signIn(w.app, 'admin.ag1');
    expect((await admin.agent.get(`/api/v1/destructions/${ag1.id}`)).status).to.equal(200);
    expect((await approveApi(w, 'admin.ag1', ag1.id, 'planning')).status).to.equal(403);
    expect((await approveApi(w, 'plan.admin', ag1.id, 'ethics')).status).to.equal(403);
    const bad = await approveApi(w, 'plan.admin', ag1.id, 'everyone');
    expect([bad.status, bad.body.errors?.[0]?.field]).to.deep.equal([400, 'duty']);
    // One person holding both duties approves only once.
    expect((await approveApi(w, 'plan.both', ag2.id, 'planning')).body).to.include({ ready: false, executed: false });
    const twice = await approveApi(w, 'plan.both', ag2.id, 'ethics');
    expect(twice.status).to.equal(409);
    expect(twice.body.detail).to.contain('不同人員');
    // The planner, then the ethics officer: carried out at once.
    const first = await approveApi(w, 'plan.admin', ag1.id, 'planning');
    expect(first.body).to.include({ ready: false, executed: false });
    expect(Number(await blanked(w, w.old.AG1))).to.equal(0);
    expect((await approveApi(w, 'plan.admin', ag1.id, 'planning')).status).to.equal(409);
    const second = await approveApi(w, 'ethics.county', ag1.id, 'ethics');
    expect(second.status, JSON.stringify(second.body)).to.equal(200);
    expect(second.body).to.include({ ready: true, executed: true });
    expect(second.body.list.status).to.equal('executed');
    const gone = await w.t.db('query_logs').whereIn('id', [...w.old.AG1, ...w.old.held]).select();
    expect(gone.every((r) => Number(r.destruction_id) === ag1.id && r.subject_hmac === '' && r.subject_cipher === '' && r.subject_mask === '' && r.case_no === '' && r.reason === '' && r.client_ip == null)).to.equal(true);
    // What stays is the list: clerk, time, operation code, links.
    expect(gone.every((r) => r.account && Number(r.queried_at) > 0 && r.op_code && r.hash)).to.equal(true);
    expect(Number(await blanked(w, [...w.old.AG2, ...w.recent]))).to.equal(0);
    // Signed and witnessed; verify-log passes from outside, and from the command line (ciphertexts and events too).
    const st = await w.t.db('signed_checkpoints').where({ kind: 'destruction' }).whereNull('seq').first();
    expect(st.signature).to.be.a('string');
    expect(JSON.parse(st.payload)).to.include({ destruction: ag1.id, count: 7, segment: ag1.segment_hash });
    expect(fs.readdirSync(w.k.witness).map((f) => fs.readFileSync(`${w.k.witness}/${f}`, 'utf8')).join('')).to.contain(st.signature);
    const v = await outside(w);
    expect(v.ok, JSON.stringify(v.breaks)).to.equal(true);
    const c = await cli(['verify-log', '--public-key', w.k.publicFile, '--witness', w.k.witness], w.t.env);
    expect(c.code, c.stdout + c.stderr).to.equal(0);
    const events = await w.t.db('system_events').whereIn('action', ['query-log.destruction-approve', 'query-log.destruction']).orderBy('id').pluck('action');
    expect(events).to.deep.equal(['query-log.destruction-approve', 'query-log.destruction-approve', 'query-log.destruction-approve', 'query-log.destruction']);
    // The list downloads as a workbook: one row per entry, read back.
    const file = await getFile((await signIn(w.app, 'ethics.county')).agent, `/destructions/${ag1.id}/file`);
    expect(file.status).to.equal(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(file.body);
    const sheet = wb.getWorksheet('銷毀目錄')!;
    expect(sheet.rowCount).to.equal(1 + 7);
    const seqs = gone.map((r) => Number(r.seq)).sort((a, b) => a - b);
    expect(sheet.getRow(2).getCell(2).value).to.equal(seqs[0]);
    expect(String(wb.getWorksheet('說明')!.getColumn(2).values.join('|'))).to.contain('已銷毀').and.contain(ag1.segment_hash);
  });

  it('an approval lapses after 30 days: the list waits until both are current', async () => {
    const w = await make();
    await prepareLists(w.t.db, w.t.cfg);
    const ag1 = await listOf(w, w.tree.AG1);
    expect((await approveApi(w, 'plan.admin', ag1.id, 'planning')).body.ready).to.equal(false);
    // Given 31 days ago.
    await w.t.db('destruction_approvals').update({ approved_at: Date.now() - 31 * DAY });
    const late = await approveApi(w, 'ethics.county', ag1.id, 'ethics');
    expect(late.body).to.include({ ready: false, executed: false });
    expect(late.body.list.approvals.map((a: any) => [a.duty, a.current])).to.deep.equal([['planning', false], ['ethics', true]]);
    expect(Number(await blanked(w, w.old.AG1))).to.equal(0);
    // The retention job does not carry it out either.
    await runJob({ cfg: w.t.cfg, db: w.t.db }, retentionJob, {});
    expect(Number(await blanked(w, w.old.AG1))).to.equal(0);
    const again = await approveApi(w, 'plan.admin', ag1.id, 'planning');
    expect(again.body).to.include({ ready: true, executed: true });
  });

  it('entries of a clerk under an open investigation are never listed; one opened after listing voids the list', async () => {
    const w = await make();
    const open = (entryId: number) => w.t.db('investigations').insert({ unit_id: w.tree.AG1, entry_id: entryId, title: '查詢異常', status: 'open', opened_at: Date.now() });
    // clerk.h's recent entry is under investigation: none of clerk.h's old entries are listed.
    await open(w.recent[2]);
    await prepareLists(w.t.db, w.t.cfg);
    const ag1 = await listOf(w, w.tree.AG1);
    expect(Number(ag1.entry_count)).to.equal(5);
    // An investigation of clerk.a opens after the list was prepared: approval does not destroy, the list is void.
    await open(w.recent[0]);
    await approveApi(w, 'plan.admin', ag1.id, 'planning');
    const r = await approveApi(w, 'ethics.county', ag1.id, 'ethics');
    expect(r.body).to.include({ ready: true, executed: false });
    expect(r.body.list.status).to.equal('void');
    expect(Number(await blanked(w, [...w.old.AG1, ...w.old.held]))).to.equal(0);
    // The next run lists nothing of AG1 (both clerks held); once concluded, everything again.
    await prepareLists(w.t.db, w.t.cfg);
    expect((await listOf(w, w.tree.AG1)).id).to.equal(ag1.id);
    await w.t.db('investigations').update({ status: 'concluded', concluded_at: Date.now() });
    await prepareLists(w.t.db, w.t.cfg);
    expect(Number((await listOf(w, w.tree.AG1)).entry_count)).to.equal(7);
    expect((await outside(w)).ok).to.equal(true);
  });

  it('a destruction without approval fails verify-log: rows deleted, rows blanked beyond a signed list, a forged list', async () => {
    const w = await make();
    await prepareLists(w.t.db, w.t.cfg);
    const ag1 = await listOf(w, w.tree.AG1);
    await approveApi(w, 'plan.admin', ag1.id, 'planning');
    expect((await approveApi(w, 'ethics.county', ag1.id, 'ethics')).body.executed).to.equal(true);
    expect((await outside(w)).ok).to.equal(true);
    const snapshot = await w.t.db('query_logs').whereIn('id', w.old.AG2).select();
    // 1. AG2's old rows blanked by hand under the genuine destruction's id: not what was approved.
    await w.t.db('query_logs').whereIn('id', w.old.AG2).update({ destruction_id: ag1.id, subject_hmac: '', subject_cipher: '', subject_mask: '', case_no: '', reason: '' });
    expectBroken(await outside(w), /not the 7 entries .* its signed list approved/);
    // 2. Under an id of their own, with a forged (unsigned) statement.
    await w.t.db('query_logs').whereIn('id', w.old.AG2).update({ destruction_id: 999 });
    await w.t.db('signed_checkpoints').insert({ kind: 'destruction', seq: null, hash: null, entry_count: 3, signed_at: Date.now(), payload: JSON.stringify({ type: 'nhi-audit.destruction.v1', destruction: 999, agency: 'AG2', cutoff: '2021-01-01', firstSeq: 2, lastSeq: 8, count: 3, segment: 'x', approvals: [], at: Date.now() }), key_id: null, signature: null });
    expectBroken(await outside(w), /destruction #999\) is unsigned/);
    // 3. Deleted outright.
    await w.t.db('signed_checkpoints').where({ kind: 'destruction', entry_count: 3 }).del();
    for (const r of snapshot) await w.t.db('query_logs').where({ id: r.id }).update(r);
    expect((await outside(w)).ok).to.equal(true);
    await w.t.db('query_logs').whereIn('id', w.old.AG2).del();
    expectBroken(await outside(w), /entries are missing before it/);
  });

  it('a genuine destruction still verifies after both keys rotate (checkpoint key and subject key)', async () => {
    const w = await make();
    await prepareLists(w.t.db, w.t.cfg);
    const ag2 = await listOf(w, w.tree.AG2);
    await approveApi(w, 'plan.admin', ag2.id, 'planning');
    expect((await approveApi(w, 'ethics.county', ag2.id, 'ethics')).body.executed).to.equal(true);
    const next = makeKeys('next');
    await rotateCheckpointKey(w.t.db, { CHECKPOINT_KEY_FILE: w.k.privateFile, WITNESS_DIR: w.k.witness }, next.privateFile);
    const rotate = { SUBJECT_ENC_KEY: crypto.randomBytes(32).toString('base64'), SUBJECT_ENC_KEY_PREVIOUS: w.t.cfg.subjectEncKey.toString('base64'), CHECKPOINT_KEY_FILE: next.privateFile };
    const rot = await cli(['rotate-subject-key'], { ...w.t.env, ...rotate });
    expect(rot.code, rot.stdout + rot.stderr).to.equal(0);
    await cli(['checkpoint', 'now'], { ...w.t.env, ...rotate });
    // The outside verifier holds the first public key; the rotation statement links the next one.
    const c = await cli(['verify-log', '--public-key', w.k.publicFile, '--witness', w.k.witness], { ...w.t.env, ...rotate });
    expect(c.code, c.stdout + c.stderr).to.equal(0);
    fs.rmSync(next.dir, { recursive: true, force: true });
  });

  it('retention follows the configured years, measured on the server clock', async () => {
    const t = await migratedDb();
    const tree = await seedTree(t.db);
    const uid = await makeUser(t.db, { account: 'clerk.a', unitId: tree.AG1, roles: ['clerk'] });
    await recordTestEntries(t.db, t.cfg, ['2020-06-14', '2020-06-16', '2021-06-16'].map((d) => ({ userId: uid, account: 'clerk.a', unitId: tree.AG1, queriedAt: Date.parse(`${d}T04:00:00Z`) })));
    setClock(() => Date.parse('2026-06-15T04:00:00Z'));
    const made = await prepareLists(t.db, { RETENTION_YEARS: 6 });
    expect(made.map((m) => m.count)).to.deep.equal([1]);
    expect((await t.db('destructions').first()).cutoff).to.equal('2020-06-15');
    setClock(null);
    expect(() => testConfig(t.env, { RETENTION_YEARS: '4' })).to.throw(/RETENTION_YEARS/);
    await t.drop();
  });

  it('pages: the list, the detail with its approval form, and approval through the form', async () => {
    const w = await make();
    await prepareLists(w.t.db, w.t.cfg);
    const ag1 = await listOf(w, w.tree.AG1);
    const s = await signIn(w.app, 'plan.admin');
    const index = await s.agent.get('/destructions');
    expect(index.status).to.equal(200);
    expect(index.text).to.contain(`第 ${ag1.id} 號`).and.contain('待您核准');
    const page = await s.agent.get(`/destructions/${ag1.id}`);
    expect(page.text).to.contain('以計畫處管理者身分核准').and.contain(ag1.segment_hash);
    const post = await s.agent.post(`/destructions/${ag1.id}/approvals`).type('form').send({ _csrf: csrfFromHtml(page.text), duty: 'planning' });
    expect(post.status).to.equal(303);
    const after = await s.agent.get(`/destructions/${ag1.id}`);
    expect(after.text).to.contain('已核准，尚待另一身分核准').and.not.contain('以計畫處管理者身分核准');
    // Without a CSRF token nothing changes.
    const e = await signIn(w.app, 'ethics.county');
    expect((await e.agent.post(`/destructions/${ag1.id}/approvals`).type('form').send({ duty: 'ethics' })).status).to.equal(403);
    expect(Number((await w.t.db('destruction_approvals').count({ n: '*' }).first())!.n)).to.equal(1);
  });
});
