// A private MariaDB server that a test starts, stops and restarts by itself: its own data
// directory, socket and port, so an outage can be simulated without touching the shared server
// on 3306. Stopped by its own PID only.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';

const which = (names: string[]): string | null => {
  for (const n of names) {
    for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']) {
      const p = path.join(dir, n);
      if (fs.existsSync(p)) return p;
    }
  }
  return null;
};

/** A free TCP port on 127.0.0.1 (taken and released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function mariadbAvailable(): boolean {
  return !!which(['mariadbd', 'mysqld']) && !!which(['mariadb-install-db', 'mysql_install_db']);
}

export class PrivateMariaDb {
  readonly dir: string;
  readonly datadir: string;
  readonly socket: string;
  port = 0;
  private child: ChildProcess | null = null;
  private logFile: string;

  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-mariadb-'));
    this.datadir = path.join(this.dir, 'data');
    this.socket = path.join(this.dir, 'mysqld.sock');
    this.logFile = path.join(this.dir, 'server.log');
  }

  /** mysql:// URL of a database on this server. */
  url(database = ''): string {
    return `mysql://root@127.0.0.1:${this.port}/${database}`;
  }

  /** Initialises the data directory (once) and starts the server; resolves when it answers. */
  async start(): Promise<void> {
    if (!fs.existsSync(path.join(this.datadir, 'mysql'))) {
      const install = which(['mariadb-install-db', 'mysql_install_db'])!;
      const args = ['--no-defaults', `--datadir=${this.datadir}`, '--auth-root-authentication-method=normal', '--skip-test-db'];
      if (process.getuid?.() === 0) args.push('--user=root');
      const r = spawnSync(install, args, { encoding: 'utf8', timeout: 60_000 });
      if (r.status !== 0) throw new Error(`${install} failed: ${r.stderr || r.stdout}`);
    }
    if (!this.port) this.port = await freePort();
    const bin = which(['mariadbd', 'mysqld'])!;
    const args = [
      '--no-defaults', `--datadir=${this.datadir}`, `--socket=${this.socket}`, `--port=${this.port}`, '--bind-address=127.0.0.1',
      `--pid-file=${path.join(this.dir, 'mysqld.pid')}`, '--skip-log-bin', '--innodb-buffer-pool-size=32M', '--max-connections=200',
      '--character-set-server=utf8mb4', '--collation-server=utf8mb4_bin', '--skip-name-resolve',
    ];
    if (process.getuid?.() === 0) args.push('--user=root');
    const log = fs.openSync(this.logFile, 'a');
    this.child = spawn(bin, args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const child = this.child;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`mariadbd exited ${child.exitCode}: ${this.tail()}`);
      try {
        const c = await mysql.createConnection({ host: '127.0.0.1', port: this.port, user: 'root', connectTimeout: 1000 });
        await c.query('select 1');
        await c.end();
        return;
      } catch {
        await sleep(150);
      }
    }
    throw new Error(`mariadbd did not answer within 30 s: ${this.tail()}`);
  }

  /** Runs SQL as root on this server. */
  async sql(statement: string): Promise<unknown> {
    const c = await mysql.createConnection({ host: '127.0.0.1', port: this.port, user: 'root' });
    try {
      const [rows] = await c.query(statement);
      return rows;
    } finally {
      await c.end();
    }
  }

  /** Stops the server by its PID: SIGTERM (clean shutdown) or SIGKILL (crash). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const timer = setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
    this.child = null;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  tail(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  }

  /** Stops the server and removes its directory. */
  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
