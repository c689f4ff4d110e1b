// Nothing acknowledged is lost (DESIGN "Data that must never be wrong"; rule clause 6):
// - crash: the real server, several concurrent clerks recording, SIGKILL mid-load, restart; every
//   entry answered 201 is present with its hash, batches are all or nothing, the chain verifies;
// - backup and restore drill: a hot backup taken while entries are being recorded
//   (mariadb-dump --single-transaction, or SQLite's VACUUM INTO) restores into a new database on
//   which `verify-log` passes (docs/operations.md).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { expect } from 'chai';
import knexFactory from 'knex';
import { ENGINE, MYSQL_URL, freshDb, type TestDb } from '../support/db.ts';
import { cli } from '../support/cli.ts';
import { Recorder, checkNothingLost, seedDemo, startLoad, startServerProcess, type ServerProcess } from '../support/server-process.ts';

const PASSWORD = 'Reliab1lity-Passw0rd';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a program, feeding stdin from a file and/or writing stdout to one. */
function run(cmd: string, args: string[], opts: { stdinFile?: string; stdoutFile?: string } = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const inFd = opts.stdinFile ? fs.openSync(opts.stdinFile, 'r') : null;
    const outFd = opts.stdoutFile ? fs.openSync(opts.stdoutFile, 'w') : null;
    const child = spawn(cmd, args, { stdio: [inFd ?? 'ignore', outFd ?? 'ignore', 'pipe'] });
    child.on('spawn', () => [inFd, outFd].forEach((fd) => fd !== null && fs.closeSync(fd)));
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe(`reliability: crash and backup (${ENGINE}, real server process)`, function () {
  this.timeout(600_000);
  let t: TestDb;
  let env: Record<string, string>;
  let clerks: string[];
  let server: ServerProcess | undefined;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-reliab-'));

  before(async () => {
    t = await freshDb();
    env = { ...t.env, LOGIN_RATE_PER_MINUTE: '1000' };
    const accounts = await seedDemo(env, PASSWORD);
    clerks = accounts.filter((a) => a.roles.includes('clerk')).map((a) => a.account);
    expect(clerks.length).to.be.at.least(6);
  });
  after(async () => {
    await server?.kill('SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
    await t?.drop();
  });

  it('keeps every entry answered 201 when the server is killed (SIGKILL) mid-load, and the chain verifies after restart', async () => {
    server = await startServerProcess({ env });
    const recorders = await Promise.all(clerks.slice(0, 8).map((a, i) => new Recorder(server!.base, `crash${i}`).prepare(a, PASSWORD)));
    const load = startLoad(recorders);
    // Let the load build up, then pull the plug in the middle of it.
    const deadline = Date.now() + 20_000;
    while (load.acks.length < 80 && Date.now() < deadline) await sleep(20);
    await server.kill('SIGKILL');
    await sleep(300);
    await load.stop();
    expect(load.acks.length, 'entries acknowledged before the crash').to.be.at.least(40);
    expect([...load.statuses.keys()].filter((s) => s !== 201 && s !== 0), `answers other than 201 or a dropped connection: ${JSON.stringify([...load.statuses])}`).to.deep.equal([]);

    server = await startServerProcess({ env });
    await checkNothingLost(t.db, load);
    const verify = await cli(['verify-log'], env);
    expect(verify.code, verify.stdout + verify.stderr).to.equal(0);

    // The restarted server takes new entries; the sessions kept in the database survive the crash.
    for (const rec of recorders) rec.base = server.base;
    const again = await recorders[0].record();
    expect(again.status, again.text).to.equal(201);
    await server.kill('SIGTERM');
    expect((await server.wait()).code, 'graceful stop').to.equal(0);
    server = undefined;
  });

  it('restores a hot backup taken under load into a new database where verify-log passes', async () => {
    server = await startServerProcess({ env });
    const recorders = await Promise.all(clerks.slice(0, 4).map((a, i) => new Recorder(server!.base, `backup${i}`).prepare(a, PASSWORD)));
    const load = startLoad(recorders);
    while (load.acks.length < 20) await sleep(20);

    let copyEnv: Record<string, string>;
    let dropCopy: () => Promise<void>;
    if (ENGINE === 'mysql') {
      // docs/operations.md: mariadb-dump --single-transaction gives a consistent snapshot without locking writers.
      const src = new URL(t.env.DATABASE_URL);
      const copyName = `nhi_restore_${crypto.randomBytes(4).toString('hex')}`;
      const conn = ['-h', src.hostname, '-P', src.port || '3306', '-u', decodeURIComponent(src.username || 'root'), ...(src.password ? [`-p${decodeURIComponent(src.password)}`] : [])];
      const dumpFile = path.join(tmp, 'backup.sql');
      const dump = await run('mariadb-dump', [...conn, '--single-transaction', '--quick', '--hex-blob', '--routines', '--triggers', '--default-character-set=utf8mb4', src.pathname.slice(1)], { stdoutFile: dumpFile });
      expect(dump.code, dump.stderr).to.equal(0);
      await load.stop();
      const admin = knexFactory({ client: 'mysql2', connection: MYSQL_URL, pool: { min: 0, max: 1 } });
      await admin.raw(`CREATE DATABASE \`${copyName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
      await admin.destroy();
      const restore = await run('mariadb', [...conn, '--default-character-set=utf8mb4', copyName], { stdinFile: dumpFile });
      expect(restore.code, restore.stderr).to.equal(0);
      const u = new URL(t.env.DATABASE_URL);
      u.pathname = `/${copyName}`;
      copyEnv = { DB_CLIENT: 'mysql', DATABASE_URL: u.toString() };
      dropCopy = async () => {
        const a = knexFactory({ client: 'mysql2', connection: MYSQL_URL, pool: { min: 0, max: 1 } });
        await a.raw(`DROP DATABASE IF EXISTS \`${copyName}\``);
        await a.destroy();
      };
    } else {
      // SQLite: VACUUM INTO writes a consistent copy while the server keeps writing.
      const copyFile = path.join(tmp, 'restored.sqlite');
      await t.db.raw('VACUUM INTO ?', [copyFile]);
      await load.stop();
      copyEnv = { DB_CLIENT: 'sqlite', DATABASE_URL: copyFile };
      dropCopy = async () => fs.rmSync(copyFile, { force: true });
    }
    try {
      const verify = await cli(['verify-log'], copyEnv);
      expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
      // The copy's head is a prefix of the live chain: the live entry at that seq has the same hash.
      const copy = knexFactory(copyEnv.DB_CLIENT === 'mysql'
        ? { client: 'mysql2', connection: copyEnv.DATABASE_URL, pool: { min: 0, max: 1 } }
        : { client: 'better-sqlite3', connection: { filename: copyEnv.DATABASE_URL }, useNullAsDefault: true });
      const head = await copy('log_chain_head').where({ id: 1 }).first('seq', 'hash');
      const [{ n }] = await copy('query_logs').count({ n: '*' });
      await copy.destroy();
      expect(Number(n)).to.be.greaterThan(1000);
      expect(verify.stdout).to.contain(head.hash);
      const live = await t.db('query_logs').where({ seq: head.seq }).first('hash');
      expect(live.hash).to.equal(head.hash);
    } finally {
      await dropCopy();
    }
    await checkNothingLost(t.db, load);
    await server.kill('SIGTERM');
    server = undefined;
  });
});
