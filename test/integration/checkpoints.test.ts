// Signed checkpoints and witnesses (issue 15): someone with full write access to the database but
// not the signing key cannot edit, delete, insert, reorder or re-attribute an entry, rewrite the
// whole chain, forge a checkpoint or a purge, without verify-log failing for a verifier who holds
// the public key and the witness files. A clean log with signed checkpoints verifies; the key
// rotates by a statement both keys sign; production refuses to start without a key.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { cli } from '../support/cli.ts';
import { appFor, signIn } from '../support/app.ts';
import ExcelJS from 'exceljs';
import { makeUser, recordTestEntries, seedTree } from '../support/fixtures.ts';
import { makeKeys, type Keys } from '../support/keys.ts';
import { chainHash, chainHead, GENESIS } from '../../server/queries/chain.ts';
import { EVENT_GENESIS, eventHash, verifyEvents } from '../../server/events/chain.ts';
import { recordEvent } from '../../server/events/service.ts';
import { headPayload, keyIdOf, recordCheckpoint, signHead, verifyLog, type CheckpointSettings, type LogVerifyResult } from '../../server/queries/checkpoints.ts';
import { checkpointJob } from '../../server/queries/index.ts';
import { sheetHeader } from '../../reports/monthly-sheet.ts';
import { runJob } from '../../jobs/runner.ts';
import { startServer } from '../../server/main.ts';
import { parseConfig } from '../../server/config.ts';
import { localMonth } from '../../server/time.ts';

const YEAR = 365 * 86_400_000;

interface SignedLog { t: TestDb; k: Keys; cfg: CheckpointSettings; env: Record<string, string>; ids: number[]; uid: number; unitId: number }

/** A log of n entries signed at its head (a checkpoint in the database and the witness). */
async function signedLog(n = 20, keys = makeKeys()): Promise<SignedLog> {
  const t = await migratedDb();
  const tree = await seedTree(t.db);
  const uid = await makeUser(t.db, { account: 'clerk.a', unitId: tree.AG1, roles: ['clerk'] });
  const start = Date.now() - n * 60_000;
  const done = await recordTestEntries(t.db, t.cfg, Array.from({ length: n }, (_, i) => ({ userId: uid, account: 'clerk.a', unitId: tree.AG1, queriedAt: start + i * 60_000, caseNo: `AG1-${1000 + i}` })));
  const cfg = { CHECKPOINT_KEY_FILE: keys.privateFile, WITNESS_DIR: keys.witness };
  await recordCheckpoint(t.db, cfg, 'manual');
  return { t, k: keys, cfg, env: { ...t.env, WITNESS_DIR: keys.witness }, ids: done.map((d) => d.id), uid, unitId: tree.AG1 };
}

/** What an outside verifier runs: the public key and the witness, no private key. */
const outside = (s: SignedLog, extra: { heads?: Array<{ seq: number; hash: string }> } = {}) => verifyLog(s.t.db, {}, { publicKeyFile: s.k.publicFile, witness: [s.k.witness], ...extra });

/** The attacker's tool: recomputes every prev_hash and hash in seq order and moves the head. */
async function rechain(t: TestDb): Promise<void> {
  const rows = await t.db('query_logs').orderBy('seq').select();
  let prev = GENESIS;
  for (const r of rows) {
    const hash = chainHash(prev, { ...r, seq: Number(r.seq) });
    await t.db('query_logs').where({ id: r.id }).update({ prev_hash: prev, hash });
    prev = hash;
  }
  await t.db('log_chain_head').where({ id: 1 }).update({ seq: rows.length ? Number(rows[rows.length - 1].seq) : 0, hash: prev });
}

/** Renumbers seq 1..n in the current seq order (after a delete or an insert), in two steps for the unique index. */
async function renumber(t: TestDb): Promise<void> {
  const rows = await t.db('query_logs').orderBy('seq').select('id');
  for (const [i, r] of rows.entries()) await t.db('query_logs').where({ id: r.id }).update({ seq: 100_000 + i });
  for (const [i, r] of rows.entries()) await t.db('query_logs').where({ id: r.id }).update({ seq: i + 1 });
}

function expectBroken(r: LogVerifyResult, pattern: RegExp): void {
  expect(r.ok, JSON.stringify(r.breaks.slice(0, 5))).to.equal(false);
  expect(r.breaks.map((b) => b.reason).join('\n')).to.match(pattern);
}

describe(`signed checkpoints and witnesses (${ENGINE})`, function () {
  // Generous under a loaded machine: each case creates a database, some run the command line.
  this.timeout(180_000);
  const made: Keys[] = [];
  after(() => made.forEach((k) => fs.rmSync(k.dir, { recursive: true, force: true })));
  const keys = (name?: string) => {
    const k = makeKeys(name);
    made.push(k);
    return k;
  };

  it('a clean log with signed checkpoints verifies from outside; public-key, now, the hourly job and printed heads work', async () => {
    const s = await signedLog(12, keys());
    const env = { ...s.env, CHECKPOINT_KEY_FILE: s.k.privateFile };
    const pub = await cli(['checkpoint', 'public-key'], env);
    expect(pub.code, pub.stderr).to.equal(0);
    expect(pub.stdout.trim()).to.equal(s.k.publicPem.trim());
    await recordTestEntries(s.t.db, s.t.cfg, [{ userId: s.uid, account: 'clerk.a', unitId: s.unitId }]);
    const now = await cli(['checkpoint', 'now'], env);
    expect(now.code, now.stderr).to.equal(0);
    expect(now.stdout).to.match(/checkpoint signed: seq 13, 13 entries/);
    // The hourly job signs only when entries were added since the last checkpoint.
    const idle = await runJob({ cfg: { ...s.t.cfg, ...s.cfg }, db: s.t.db }, checkpointJob, {});
    expect(idle.status).to.equal('ran');
    if (idle.status === 'ran') expect((idle.result as any).skipped).to.equal('no new entries');
    await recordTestEntries(s.t.db, s.t.cfg, [{ userId: s.uid, account: 'clerk.a', unitId: s.unitId }]);
    const hourly = await runJob({ cfg: { ...s.t.cfg, ...s.cfg }, db: s.t.db }, checkpointJob, { period: '2026-01-01T09', force: true });
    expect(hourly.status, JSON.stringify(hourly)).to.equal('ran');
    if (hourly.status === 'ran') expect(hourly.result).to.include({ signed: true, seq: 14 });
    // A monthly sheet's printed head is recorded and signed, once however often it is printed.
    const h = await sheetHeader(s.t.db, 'AG1', localMonth(Date.now()), s.cfg);
    await sheetHeader(s.t.db, 'AG1', localMonth(Date.now()), s.cfg);
    expect(h.head).to.deep.equal(await chainHead(s.t.db));
    expect(await s.t.db('signed_checkpoints').where({ kind: 'print' }).select('seq')).to.have.length(0); // the hourly checkpoint already covers seq 14
    await recordTestEntries(s.t.db, s.t.cfg, [{ userId: s.uid, account: 'clerk.a', unitId: s.unitId }]);
    await sheetHeader(s.t.db, 'AG1', localMonth(Date.now()), s.cfg);
    await sheetHeader(s.t.db, 'AG1', localMonth(Date.now()), s.cfg);
    const prints = await s.t.db('signed_checkpoints').where({ kind: 'print' }).select('seq', 'signature');
    expect(prints.map((p) => Number(p.seq))).to.deep.equal([15]);
    expect(prints[0].signature).to.be.a('string');
    const lines = fs.readdirSync(s.k.witness).flatMap((f) => fs.readFileSync(path.join(s.k.witness, f), 'utf8').trim().split('\n'));
    expect(lines).to.have.length(4); // manual (12), now (13), hourly (14), print (15)
    const head = await chainHead(s.t.db);
    const v = await cli(['verify-log', '--public-key', s.k.publicFile, '--witness', s.k.witness, '--head', `13:${(await s.t.db('query_logs').where({ seq: 13 }).first('hash')).hash}`, '--head', `${head.seq}:${head.hash}`], s.t.env);
    expect(v.code, v.stdout + v.stderr).to.equal(0);
    expect(v.stdout).to.contain('checkpoints: 4 verified with key');
    expect(v.stdout).to.contain('witness: 4 lines in 1 files verified');
    expect(v.stdout).to.contain('printed heads: 2 verified');
    expect(v.stdout.trim().split('\n').pop()).to.equal(head.hash);
    await s.t.drop();
  });

  it('without any key the checkpoints are unsigned: verify-log says so and passes; /healthz says so with 200', async () => {
    const t = await migratedDb();
    const tree = await seedTree(t.db);
    const uid = await makeUser(t.db, { account: 'clerk.a', unitId: tree.AG1, roles: ['clerk'] });
    await recordTestEntries(t.db, t.cfg, [{ userId: uid, account: 'clerk.a', unitId: tree.AG1 }]);
    const r = await cli(['checkpoint', 'now'], t.env);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.contain('UNSIGNED');
    const v = await cli(['verify-log'], t.env);
    expect(v.code, v.stdout).to.equal(0);
    expect(v.stdout).to.contain('unsigned: not verified');
    expect((await cli(['checkpoint', 'public-key'], t.env)).code).to.equal(2);
    const health = await request(appFor(t)).get('/healthz');
    expect(health.status).to.equal(200);
    expect(health.body).to.include({ checkpoints: 'unsigned' });
    // The start says so too.
    const written: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stdout.write;
    let running;
    try {
      running = await startServer({ ...t.cfg, HOST: '127.0.0.1' }, { port: 0 });
    } finally {
      process.stdout.write = write;
    }
    await running.stop();
    expect(written.join('')).to.contain('checkpoints: unsigned');
    // With a key given from outside, the same unsigned checkpoint is a break.
    const k = keys();
    expectBroken(await verifyLog(t.db, {}, { publicKeyFile: k.publicFile }), /unsigned: a checkpoint must be signed/);
    await t.drop();
  });

  const attacks: Array<[string, (s: SignedLog) => Promise<void>, RegExp]> = [
    ['an edited entry', async (s) => void (await s.t.db('query_logs').where({ id: s.ids[5] }).update({ reason: '改寫後的事由內容' })), /content does not match its hash/],
    ['a deleted entry', async (s) => void (await s.t.db('query_logs').where({ id: s.ids[7] }).del()), /missing before it/],
    ['an inserted entry', async (s) => {
      const copy = await s.t.db('query_logs').where({ id: s.ids[19] }).first();
      delete copy.id;
      await s.t.db('query_logs').insert({ ...copy, seq: 21, prev_hash: copy.hash, case_no: 'FAKE-1' });
    }, /inserted outside the log/],
    ['two entries reordered', async (s) => {
      await s.t.db('query_logs').where({ id: s.ids[3] }).update({ seq: -1 });
      await s.t.db('query_logs').where({ id: s.ids[4] }).update({ seq: 4 });
      await s.t.db('query_logs').where({ id: s.ids[3] }).update({ seq: 5 });
    }, /prev_hash does not match/],
    ['a full rewrite with recomputed hashes (an edit)', async (s) => {
      await s.t.db('query_logs').where({ id: s.ids[5] }).update({ reason: '改寫後的事由內容' });
      await rechain(s.t);
    }, /does not pass through checkpoint #1 \(seq 20\)/],
    ['a full rewrite after a delete, the database checkpoints removed too (the witness catches it)', async (s) => {
      await s.t.db('query_logs').where({ id: s.ids[7] }).del();
      await renumber(s.t);
      await rechain(s.t);
      await s.t.db('signed_checkpoints').del();
    }, /does not pass through witness witness-\d{4}-\d{2}\.jsonl line 1 \(seq 20\): the log ends at seq 19/],
    ['a full rewrite after an insert', async (s) => {
      const copy = await s.t.db('query_logs').where({ id: s.ids[4] }).first();
      delete copy.id;
      await s.t.db('query_logs').insert({ ...copy, seq: 100_000, case_no: 'FAKE-2' });
      // The new row sorts last: move it to seq 6 and renumber.
      const rows = await s.t.db('query_logs').orderBy('seq').select('id', 'seq');
      const fake = rows.pop()!;
      rows.splice(5, 0, fake);
      for (const [i, r] of rows.entries()) await s.t.db('query_logs').where({ id: r.id }).update({ seq: 200_000 + i });
      for (const [i, r] of rows.entries()) await s.t.db('query_logs').where({ id: r.id }).update({ seq: i + 1 });
      await rechain(s.t);
    }, /does not pass through .*\(seq 20\)/],
    ['a full rewrite after reordering', async (s) => {
      await s.t.db('query_logs').where({ id: s.ids[3] }).update({ seq: -1 });
      await s.t.db('query_logs').where({ id: s.ids[4] }).update({ seq: 4 });
      await s.t.db('query_logs').where({ id: s.ids[3] }).update({ seq: 5 });
      await rechain(s.t);
    }, /its id comes after id/],
    ['two whole rows swapped between ids (seq and hashes included)', async (s) => {
      const a = await s.t.db('query_logs').where({ id: s.ids[3] }).first();
      const b = await s.t.db('query_logs').where({ id: s.ids[4] }).first();
      const body = (r: any) => { const { id, ...rest } = r; void id; return rest; };
      await s.t.db('query_logs').where({ id: a.id }).update({ ...body(b), seq: -1 });
      await s.t.db('query_logs').where({ id: b.id }).update(body(a));
      await s.t.db('query_logs').where({ id: a.id }).update({ seq: b.seq });
    }, /its id comes after id \d+ in seq order/],
    ['a forged checkpoint without a signature, after a rewrite', async (s) => {
      await s.t.db('query_logs').where({ id: s.ids[5] }).update({ reason: '改寫後的事由內容' });
      await rechain(s.t);
      const h = await chainHead(s.t.db);
      const at = Date.now();
      await s.t.db('signed_checkpoints').del();
      await s.t.db('signed_checkpoints').insert({ kind: 'manual', seq: h.seq, hash: h.hash, entry_count: h.seq, signed_at: at, payload: headPayload({ kind: 'manual', seq: h.seq, hash: h.hash, count: h.seq, at }), key_id: null, signature: null });
    }, /is unsigned: a checkpoint must be signed/],
    ['a forged checkpoint with a bad signature', async (s) => {
      const h = await chainHead(s.t.db);
      const at = Date.now();
      const payload = headPayload({ kind: 'manual', seq: h.seq, hash: h.hash, count: h.seq, at });
      const row = await s.t.db('signed_checkpoints').first('key_id', 'signature');
      await s.t.db('signed_checkpoints').insert({ kind: 'manual', seq: h.seq, hash: h.hash, entry_count: h.seq, signed_at: at, payload, key_id: row.key_id, signature: row.signature });
    }, /has a bad signature/],
    ['a forged checkpoint signed by another key', async (s) => {
      const other = crypto.generateKeyPairSync('ed25519');
      const h = await chainHead(s.t.db);
      const at = Date.now();
      const payload = headPayload({ kind: 'manual', seq: h.seq, hash: h.hash, count: h.seq, at });
      await s.t.db('signed_checkpoints').insert({ kind: 'manual', seq: h.seq, hash: h.hash, entry_count: h.seq, signed_at: at, payload, key_id: keyIdOf(other.publicKey), signature: crypto.sign(null, Buffer.from(payload), other.privateKey).toString('base64') });
    }, /signed by a key that is not trusted/],
    ['a checkpoint row altered (its columns differ from what was signed)', async (s) => void (await s.t.db('signed_checkpoints').update({ seq: 3 })), /columns differ from what was signed/],
    ['a witness line altered', async (s) => {
      const f = path.join(s.k.witness, fs.readdirSync(s.k.witness)[0]);
      const line = JSON.parse(fs.readFileSync(f, 'utf8').trim());
      line.payload = line.payload.replace('"seq":20', '"seq":19');
      fs.writeFileSync(f, JSON.stringify(line) + '\n');
    }, /has a bad signature/],
  ];
  for (const [name, tamper, why] of attacks) {
    it(`detects ${name} with the public key and the witness`, async () => {
      const s = await signedLog(20, keys());
      expect((await outside(s)).ok, 'clean before the attack').to.equal(true);
      await tamper(s);
      expectBroken(await outside(s), why);
      await s.t.drop();
    });
  }

  it('the command line reports every break, the first named first, and exits 1', async () => {
    const s = await signedLog(20, keys());
    await s.t.db('query_logs').where({ id: s.ids[5] }).update({ reason: '改寫一' });
    await s.t.db('query_logs').where({ id: s.ids[12] }).update({ reason: '改寫二' });
    await rechain(s.t);
    const r = await cli(['verify-log', '--public-key', s.k.publicFile, '--witness', s.k.witness, '--head', `20:${'a'.repeat(64)}`], s.t.env);
    expect(r.code, r.stdout).to.equal(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).to.equal(`query log BROKEN: first bad entry id ${s.ids[19]} (seq 20): the chain does not pass through checkpoint #1 (seq 20): the entry at seq 20 has another hash (the log was rewritten after it)`);
    expect(r.stdout).to.contain('witness-').and.contain('the printed head 20:aaaaaaaaaaaa');
    expect(lines.pop()).to.match(/^3 breaks in all/);
    // A malformed --head is a usage error.
    expect((await cli(['verify-log', '--head', '20:xyz'], s.t.env)).code).to.equal(2);
    await s.t.drop();
  });

  it('a retention checkpoint slipped in by hand with the rows below it deleted does not verify (destruction by approval: destruction.test.ts)', async () => {
    const k = keys();
    const t = await migratedDb();
    const tree = await seedTree(t.db);
    const uid = await makeUser(t.db, { account: 'clerk.a', unitId: tree.AG1, roles: ['clerk'] });
    const now = Date.now();
    await recordTestEntries(t.db, t.cfg, Array.from({ length: 6 }, (_, i) => ({ userId: uid, account: 'clerk.a', unitId: tree.AG1, queriedAt: now - 6 * YEAR + i * 86_400_000 })));
    const keep = await recordTestEntries(t.db, t.cfg, Array.from({ length: 6 }, (_, i) => ({ userId: uid, account: 'clerk.a', unitId: tree.AG1, queriedAt: now - YEAR + i * 86_400_000 })));
    const cfg = { CHECKPOINT_KEY_FILE: k.privateFile, WITNESS_DIR: k.witness };
    await recordCheckpoint(t.db, cfg, 'manual');
    const good = await verifyLog(t.db, {}, { publicKeyFile: k.publicFile, witness: [k.witness] });
    expect(good.ok, JSON.stringify(good.breaks)).to.equal(true);
    // The review's attack: a retention checkpoint inserted by hand, everything below it deleted.
    const at = keep[2];
    await t.db('log_checkpoints').insert({ seq: 9, hash: at.hash, purged_before: now, purged_count: 3, created_at: now });
    await t.db('query_logs').where('seq', '<=', 9).del();
    expectBroken(await verifyLog(t.db, {}, { publicKeyFile: k.publicFile, witness: [k.witness] }), /retention checkpoint at seq 9 has no signed checkpoint/);
    await t.drop();
  });

  it('key rotation: a statement both keys sign; old and new checkpoints verify with either key; the old key signs nothing after', async () => {
    const oldK = keys('old');
    const newK = keys('new');
    const s = await signedLog(5, oldK);
    const r = await cli(['checkpoint', 'rotate', '--new-key', newK.privateFile], { ...s.env, CHECKPOINT_KEY_FILE: oldK.privateFile });
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    const newCfg = { CHECKPOINT_KEY_FILE: newK.privateFile, WITNESS_DIR: oldK.witness };
    await recordTestEntries(s.t.db, s.t.cfg, [{ userId: s.uid, account: 'clerk.a', unitId: s.unitId }]);
    await recordCheckpoint(s.t.db, newCfg, 'manual');
    for (const pub of [oldK.publicFile, newK.publicFile]) {
      const v = await verifyLog(s.t.db, {}, { publicKeyFile: pub, witness: [oldK.witness] });
      expect(v.ok, `${pub}: ${JSON.stringify(v.breaks)}`).to.equal(true);
      expect(v.checkpoints.total).to.equal(2);
      expect(v.witness.lines).to.equal(3); // two checkpoints and the rotation
    }
    // A key that was never linked by a statement both keys signed is not trusted.
    const stranger = keys('stranger');
    expectBroken(await verifyLog(s.t.db, {}, { publicKeyFile: stranger.publicFile }), /not trusted/);
    // The old key, rotated out, signs a checkpoint dated after its rotation: a break.
    await new Promise((res) => setTimeout(res, 5));
    await recordCheckpoint(s.t.db, { CHECKPOINT_KEY_FILE: oldK.privateFile, WITNESS_DIR: oldK.witness }, 'manual');
    expectBroken(await verifyLog(s.t.db, {}, { publicKeyFile: newK.publicFile }), /after that key was rotated out/);
    await s.t.drop();
  });

  it('production refuses to start without CHECKPOINT_KEY_FILE, naming it, before touching the database', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-prod-cp-'));
    const cfg = parseConfig({
      NODE_ENV: 'production', DB_CLIENT: 'sqlite', DATABASE_URL: path.join(dir, 'prod.sqlite'), JOBS_ENABLED: 'false', LOG_LEVEL: 'silent',
      SESSION_SECRET: crypto.randomBytes(36).toString('base64'), SUBJECT_ENC_KEY: crypto.randomBytes(32).toString('base64'), SUBJECT_HMAC_KEY: crypto.randomBytes(36).toString('base64'),
    });
    let err: Error | null = null;
    try { await startServer(cfg, { port: 0 }); } catch (e) { err = e as Error; }
    expect(err?.message).to.match(/CHECKPOINT_KEY_FILE.*required in production/);
    // A key file that is not an Ed25519 private key stops the start too.
    const rsa = path.join(dir, 'rsa.pem');
    fs.writeFileSync(rsa, crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    err = null;
    try { await startServer({ ...cfg, CHECKPOINT_KEY_FILE: rsa }, { port: 0 }); } catch (e) { err = e as Error; }
    expect(err?.message).to.match(/CHECKPOINT_KEY_FILE.*Ed25519/);
    expect(fs.existsSync(path.join(dir, 'prod.sqlite')), 'no database was touched').to.equal(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the system events are signed with every checkpoint: a rewrite of the events with recomputed hashes fails verify-log', async () => {
    const k = keys();
    const t = await migratedDb();
    const cfg = { CHECKPOINT_KEY_FILE: k.privateFile, WITNESS_DIR: k.witness };
    for (let i = 0; i < 4; i++) await recordEvent(t.db, { id: null, account: 'admin.a' }, { action: 'role.grant', detail: { role: 'clerk', n: i } });
    const cp = await recordCheckpoint(t.db, cfg, 'manual');
    expect(JSON.parse((await t.db('signed_checkpoints').where({ id: cp.id }).first()).payload).events.seq).to.equal(4);
    const ok = await verifyLog(t.db, {}, { publicKeyFile: k.publicFile, witness: [k.witness] });
    expect(ok.ok, JSON.stringify(ok.breaks)).to.equal(true);
    // The attacker edits an event and recomputes every event hash and the head: the event chain alone verifies.
    await t.db('system_events').where({ seq: 2 }).update({ detail: JSON.stringify({ role: 'planning_admin', n: 1 }) });
    let prev = EVENT_GENESIS;
    for (const r of await t.db('system_events').orderBy('seq').select()) {
      const hash = eventHash(prev, { ...r, seq: Number(r.seq) });
      await t.db('system_events').where({ id: r.id }).update({ prev_hash: prev, hash });
      prev = hash;
    }
    await t.db('event_chain_head').where({ id: 1 }).update({ hash: prev });
    expect((await verifyEvents(t.db)).ok).to.equal(true);
    expectBroken(await verifyLog(t.db, {}, { publicKeyFile: k.publicFile, witness: [k.witness] }), /event chain does not pass through checkpoint #1 \(event seq 4\): the event there has another hash/);
    await t.drop();
  });

  it('signHead records a printed historic head once and it verifies', async () => {
    const s = await signedLog(8, keys());
    const row = await s.t.db('query_logs').where({ seq: 4 }).first('seq', 'hash');
    await signHead(s.t.db, s.cfg, { seq: 4, hash: row.hash });
    await signHead(s.t.db, s.cfg, { seq: 4, hash: row.hash });
    expect(await s.t.db('signed_checkpoints').where({ seq: 4 }).select('id')).to.have.length(1);
    expect((await outside(s)).ok).to.equal(true);
    await s.t.drop();
  });
  it('publishes the public key on the dashboard, on the monthly sheet and on the annual filing\'s cover', async () => {
    const s = await signedLog(3);
    const spki = crypto.createPublicKey(s.k.publicPem).export({ type: 'spki', format: 'der' }).toString('base64');
    const app = appFor({ ...s.t, cfg: { ...s.t.cfg, ...s.cfg } } as TestDb);
    const plan = (await s.t.db('units').where({ kind: 'planning' }).first('id')).id;
    await makeUser(s.t.db, { account: 'plan.admin', unitId: plan, roles: ['planning_admin'] });
    const page = await (await signIn(app, 'plan.admin')).agent.get('/dashboard');
    expect(page.status).to.equal(200);
    expect(page.text).to.contain(spki).and.contain(keyIdOf(crypto.createPublicKey(s.k.publicPem)));
    // Without a key the page says the checkpoints are unsigned.
    const bare = await (await signIn(appFor(s.t), 'plan.admin')).agent.get('/dashboard');
    expect(bare.text).to.contain('檢查點未簽章').and.not.contain(spki);
    expect((await sheetHeader(s.t.db, 'AG1', localMonth(Date.now()), s.cfg)).publicKey?.spki).to.equal(spki);
    const out = path.join(s.k.dir, 'annual.xlsx');
    const r = await cli(['report', 'annual', '--year', String(new Date().getUTCFullYear() - 1), '--unit', 'AG1', '--out', out], { ...s.env, CHECKPOINT_KEY_FILE: s.k.privateFile });
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(out);
    const cover = wb.worksheets[0];
    let shown = '';
    cover.eachRow((row) => { if (String(row.getCell(1).value ?? '').startsWith('檢查點簽章公鑰')) shown = String(row.getCell(2).value ?? ''); });
    expect(shown).to.equal(spki);
    await s.t.drop();
  });
});
