// The app cannot edit its own history (issue 15): on MariaDB the app runs under an account made
// from `doctor --grants-sql`, which records, signs and verifies but may not UPDATE or DELETE
// query_logs (MariaDB itself refuses); `doctor` says so (exit 0) and warns under root (exit 1);
// the retention purge and rotate-subject-key fail under that account alone and work under
// DATABASE_ADMIN_URL. On SQLite, `doctor` says grants do not apply.
import { expect } from 'chai';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ENGINE, listTables, migratedDb, testConfig, type TestDb } from '../support/db.ts';
import { cli } from '../support/cli.ts';
import { appFor, signIn } from '../support/app.ts';
import { makeApprovedRequest, makeUser, recordTestEntries, seedTree } from '../support/fixtures.ts';
import { createDb } from '../../server/db.ts';
import { verifyChain } from '../../server/queries/chain.ts';
import { generateNationalId } from '../../server/queries/subject.ts';

const YEAR = 365 * 86_400_000;

/** A checkpoint key file and an existing witness directory: what a healthy configuration has. */
function keyDir(): { dir: string; env: Record<string, string> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-grants-'));
  const file = path.join(dir, 'checkpoint.pem');
  fs.writeFileSync(file, crypto.generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
  fs.mkdirSync(path.join(dir, 'witness'));
  return { dir, env: { CHECKPOINT_KEY_FILE: file, WITNESS_DIR: path.join(dir, 'witness') } };
}

// Accounts and grants exist only on MariaDB: this suite runs in the MariaDB pass, the next in the SQLite one.
const mariadbPass = ENGINE === 'mysql' ? describe : (_title: string, _fn: (this: Mocha.Suite) => void) => undefined;
const sqlitePass = ENGINE === 'sqlite' ? describe : (_title: string, _fn: (this: Mocha.Suite) => void) => undefined;

mariadbPass('the app cannot edit its own history: narrow MariaDB grants (mysql)', function () {
  this.timeout(300_000);
  let t: TestDb;
  let narrow: TestDb;
  let keys: ReturnType<typeof keyDir>;
  let rootEnv: Record<string, string>;
  let narrowEnv: Record<string, string>;
  let grants: string[];
  let ids: { clerk: number; unit: number; form: number };
  const user = `nhi_app_${crypto.randomBytes(4).toString('hex')}`;
  const password = crypto.randomBytes(12).toString('hex');
  const old = 6;
  const denied = async (p: PromiseLike<unknown>): Promise<string> => {
    try {
      await p;
    } catch (e) {
      return String((e as { code?: string }).code);
    }
    return 'allowed';
  };

  before(async () => {
    t = await migratedDb();
    keys = keyDir();
    const tree = await seedTree(t.db);
    const clerk = await makeUser(t.db, { account: 'clerk.a', unitId: tree.AG1, roles: ['clerk'], permissions: [['2-1', 'IN01']] });
    ids = { clerk, unit: tree.AG1, form: await makeApprovedRequest(t.db, { userId: clerk, unitId: tree.AG1, scope: '2-1' }) };
    // Entries past retention.
    await recordTestEntries(t.db, t.cfg, Array.from({ length: old }, (_, i) => ({ userId: clerk, account: 'clerk.a', unitId: tree.AG1, queriedAt: Date.now() - 6 * YEAR + i * 86_400_000 })));
    rootEnv = { ...t.env, ...keys.env };
    await t.db.raw(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
    const g = await cli(['doctor', '--grants-sql', `${user}@%`], rootEnv);
    expect(g.code, g.stderr).to.equal(0);
    grants = g.stdout.split('\n').filter((l) => l.startsWith('GRANT '));
    for (const statement of grants) await t.db.raw(statement);
    const u = new URL(t.env.DATABASE_URL);
    u.username = user;
    u.password = password;
    narrowEnv = { DB_CLIENT: 'mysql', DATABASE_URL: u.toString(), ...keys.env };
    const cfg = testConfig(narrowEnv);
    const db = createDb(cfg);
    narrow = { cfg, db, env: narrowEnv, drop: () => db.destroy() };
  });
  after(async () => {
    await narrow?.db.destroy();
    await t?.db.raw(`DROP USER IF EXISTS '${user}'@'%'`);
    await t?.drop();
    if (keys) fs.rmSync(keys.dir, { recursive: true, force: true });
  });

  it('--grants-sql grants every table, query_logs only SELECT and INSERT', async () => {
    const tables = await listTables(t);
    const on = (table: string) => grants.filter((g) => g.includes(`.\`${table}\` TO '${user}'@'%'`));
    for (const table of tables) expect(on(table), table).to.have.length(1);
    expect(grants).to.have.length(tables.length);
    expect(on('query_logs')[0]).to.match(/^GRANT SELECT, INSERT ON /);
    expect(on('log_chain_head')[0]).to.match(/^GRANT SELECT, INSERT, UPDATE, DELETE ON /);
    expect(on('knex_migrations')[0]).to.match(/^GRANT SELECT ON /);
  });

  it('under the narrow account the app records entries (201), signs a checkpoint, and the chain verifies', async () => {
    const clerk = await signIn(appFor(narrow), 'clerk.a');
    const body = (n: number) => ({ caseNo: `AG1-11300${n}`, reason: '個案訪視前確認投保狀態', opCode: 'IN01', scope: '2-1', queryRequestId: ids.form, subject: { type: 'national-id', value: generateNationalId() } });
    const one = await clerk.agent.post('/api/v1/query-logs').set('X-CSRF-Token', clerk.csrf).send(body(1));
    expect(one.status, JSON.stringify(one.body)).to.equal(201);
    const batch = await clerk.agent.post('/api/v1/query-logs').set('X-CSRF-Token', clerk.csrf).send({ entries: [body(2), body(3)] });
    expect(batch.status, JSON.stringify(batch.body)).to.equal(201);
    const v = await verifyChain(narrow.db);
    expect(v.ok).to.equal(true);
    expect(v.ok && v.count).to.equal(old + 3);
    const cp = await cli(['checkpoint', 'now'], narrowEnv);
    expect(cp.code, cp.stdout + cp.stderr).to.equal(0);
    const r = await cli(['verify-log', '--witness', keys.env.WITNESS_DIR], narrowEnv);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
  });

  it('MariaDB refuses a direct UPDATE or DELETE of query_logs under the narrow account', async () => {
    const first = await t.db('query_logs').orderBy('seq').first('id', 'reason');
    expect(await denied(narrow.db('query_logs').where({ id: first.id }).update({ reason: '改寫後的事由內容' }))).to.equal('ER_TABLEACCESS_DENIED_ERROR');
    expect(await denied(narrow.db('query_logs').where({ id: first.id }).del())).to.equal('ER_TABLEACCESS_DENIED_ERROR');
    expect(await denied(narrow.db.raw('DELETE FROM query_logs'))).to.equal('ER_TABLEACCESS_DENIED_ERROR');
    expect(await t.db('query_logs').where({ id: first.id }).first('reason')).to.deep.equal({ reason: first.reason });
    expect((await verifyChain(t.db)).ok).to.equal(true);
  });

  it('doctor: exit 0 under the narrow account with DATABASE_ADMIN_URL; under root (or without an admin account) a warning and exit 1', async () => {
    const ok = await cli(['doctor'], { ...narrowEnv, DATABASE_ADMIN_URL: t.env.DATABASE_URL });
    expect(ok.code, ok.stdout + ok.stderr).to.equal(0);
    expect(ok.stdout).to.contain(`account: ${user}@%`).and.contain('query_logs: this account may only read and append').and.contain('checkpoints: signed');
    expect(ok.stdout).not.to.contain('WARNING');
    expect(ok.stdout, 'no password hash printed').not.to.match(/\*[0-9A-F]{40}/);
    expect(ok.stdout.trim().split('\n').pop()).to.equal('healthy');
    const root = await cli(['doctor'], rootEnv);
    expect(root.code, root.stdout + root.stderr).to.equal(1);
    expect(root.stdout).to.match(/^WARNING: account root@\S+ can UPDATE and DELETE query_logs \(GRANT ALL PRIVILEGES ON \*\.\*/m);
    const noAdmin = await cli(['doctor'], narrowEnv);
    expect(noAdmin.code, noAdmin.stdout + noAdmin.stderr).to.equal(1);
    expect(noAdmin.stdout).to.match(/^WARNING: DATABASE_ADMIN_URL is not set/m);
  });

  it('retention prepares a destruction list under the narrow account; the approved destruction fails under it alone and is carried out under DATABASE_ADMIN_URL; the log still verifies', async () => {
    const prepared = await cli(['job', 'run', 'retention'], narrowEnv);
    expect(prepared.code, prepared.stdout + prepared.stderr).to.equal(0);
    const list = await t.db('destructions').first();
    expect(Number(list.entry_count)).to.equal(old);
    // Two different people approve (recorded as the approval route would).
    const planner = await makeUser(t.db, { account: 'plan.admin', unitId: (await t.db('units').where({ kind: 'planning' }).first()).id, roles: ['planning_admin'] });
    const ethics = await makeUser(t.db, { account: 'ethics.county', unitId: (await t.db('units').where({ kind: 'planning' }).first()).id, roles: ['ethics'] });
    await t.db('destruction_approvals').insert([
      { destruction_id: list.id, duty: 'planning', user_id: planner, account: 'plan.admin', approved_at: Date.now() },
      { destruction_id: list.id, duty: 'ethics', user_id: ethics, account: 'ethics.county', approved_at: Date.now() },
    ]);
    const refused = await cli(['job', 'run', 'retention', '--force'], narrowEnv);
    expect(refused.code, refused.stdout + refused.stderr).to.equal(1);
    expect(refused.stderr).to.match(/UPDATE command denied/);
    expect(Number((await t.db('query_logs').whereNotNull('destruction_id').count({ n: '*' }).first())!.n)).to.equal(0);
    const done = await cli(['job', 'run', 'retention', '--force'], { ...narrowEnv, DATABASE_ADMIN_URL: t.env.DATABASE_URL });
    expect(done.code, done.stdout + done.stderr).to.equal(0);
    expect(JSON.parse(done.stdout.trim().split('\n').pop()!).executed[0]).to.include({ executed: true, count: old });
    expect(Number((await t.db('query_logs').whereNotNull('destruction_id').count({ n: '*' }).first())!.n)).to.equal(old);
    const r = await cli(['verify-log', '--witness', keys.env.WITNESS_DIR], narrowEnv);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
  });

  it('rotate-subject-key fails under the narrow account alone and rotates under DATABASE_ADMIN_URL', async () => {
    const rotate = { SUBJECT_ENC_KEY: crypto.randomBytes(32).toString('base64'), SUBJECT_ENC_KEY_PREVIOUS: t.cfg.subjectEncKey.toString('base64') };
    const refused = await cli(['rotate-subject-key'], { ...narrowEnv, ...rotate });
    expect(refused.code, refused.stdout + refused.stderr).to.equal(1);
    expect(refused.stderr).to.match(/UPDATE command denied/);
    const done = await cli(['rotate-subject-key'], { ...narrowEnv, ...rotate, DATABASE_ADMIN_URL: t.env.DATABASE_URL });
    expect(done.code, done.stdout + done.stderr).to.equal(0);
    expect(done.stdout).to.contain('re-encrypted 3 query log subjects');
    const r = await cli(['verify-log', '--witness', keys.env.WITNESS_DIR], { ...narrowEnv, SUBJECT_ENC_KEY: rotate.SUBJECT_ENC_KEY });
    expect(r.code, r.stdout + r.stderr).to.equal(0);
  });
});

sqlitePass('doctor on SQLite (sqlite)', function () {
  this.timeout(120_000);
  it('says grants do not apply; exit 0 with a key and a witness directory, 1 with a warning for each missing; no --grants-sql', async () => {
    const t = await migratedDb();
    const keys = keyDir();
    try {
      const ok = await cli(['doctor'], { ...t.env, ...keys.env });
      expect(ok.code, ok.stdout + ok.stderr).to.equal(0);
      expect(ok.stdout).to.contain('database: SQLite').and.contain('grants: do not apply to SQLite').and.contain('checkpoints: signed');
      const bare = await cli(['doctor'], { ...t.env, CHECKPOINT_KEY_FILE: '', WITNESS_DIR: path.join(keys.dir, 'absent') });
      expect(bare.code, bare.stdout + bare.stderr).to.equal(1);
      expect(bare.stdout).to.match(/^WARNING: checkpoints are UNSIGNED/m).and.match(/^WARNING: witness directory .*absent \(WITNESS_DIR\) does not exist/m);
      const sql = await cli(['doctor', '--grants-sql', 'nhi@%'], t.env);
      expect(sql.code).to.equal(2);
      expect(sql.stderr).to.contain('grants do not apply to SQLite');
    } finally {
      await t.drop();
      fs.rmSync(keys.dir, { recursive: true, force: true });
    }
  });
});
