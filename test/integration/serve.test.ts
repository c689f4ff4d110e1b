// The real process: `serve` migrates, listens, answers, and shuts down cleanly on SIGTERM.
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { ENGINE, freshDb, type TestDb } from '../support/db.ts';
import { BIN } from '../support/cli.ts';

describe(`serve process (${ENGINE})`, () => {
  let t: TestDb;
  before(async () => {
    t = await freshDb();
  });
  after(() => t.drop());

  it('migrates a new database, answers on its port, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [BIN, 'serve'], { env: { ...process.env, ...t.env, PORT: '0', NODE_ENV: 'test', LOG_LEVEL: 'silent', JOBS_ENABLED: 'false' } });
    let out = '';
    child.stderr.on('data', (d) => (out += d));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listen line: ${out}`)), 20_000);
      child.stdout.on('data', (d) => {
        out += d;
        const m = /listening on http:\/\/localhost:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    });
    expect(out).to.contain('bootstrap-admin');
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).to.equal(200);
    const login = await fetch(`http://127.0.0.1:${port}/login`);
    expect(await login.text()).to.contain('登入');
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).to.equal(0);
    expect(await t.db.schema.hasTable('query_logs')).to.equal(true);
  });
});
