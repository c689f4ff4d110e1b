// The real server as a child process (`node bin/nhi-audit.js serve`), and a small HTTP client
// that signs in like a browser script (cookie + X-CSRF-Token). Used by the crash, outage and
// two-instance tests and by the soak.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Knex } from 'knex';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(root, 'bin', 'nhi-audit.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ServerOptions {
  env: Record<string, string>;
  /** Wait until /healthz answers 200 (default true). */
  waitHealthy?: boolean;
  timeoutMs?: number;
}

export class ServerProcess {
  child: ChildProcess;
  port = 0;
  stdout = '';
  stderr = '';
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(opts: ServerOptions) {
    this.child = spawn(process.execPath, [BIN, 'serve'], {
      cwd: root,
      env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', JOBS_ENABLED: '0', PORT: '0', HOST: '127.0.0.1', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d) => (this.stdout += d));
    this.child.stderr!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves once the process prints its port (and /healthz answers 200 unless told not to wait). */
  async ready(waitHealthy = true, timeoutMs = 60_000): Promise<this> {
    const deadline = Date.now() + timeoutMs;
    while (!this.port) {
      if (!this.alive) throw new Error(`server exited before listening: ${this.stderr || this.stdout}`);
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(this.stdout);
      if (m) this.port = Number(m[1]);
      else if (Date.now() > deadline) throw new Error(`server did not listen within ${timeoutMs} ms: ${this.stderr}`);
      else await sleep(50);
    }
    while (waitHealthy) {
      const r = await fetch(`${this.base}/healthz`).catch(() => null);
      if (r?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`/healthz did not answer 200 within ${timeoutMs} ms`);
      await sleep(100);
    }
    return this;
  }

  /** Waits for the process to end by itself (e.g. refused configuration). */
  wait(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exited;
  }

  /** Ends the process by its PID: SIGKILL simulates a crash, SIGTERM a graceful stop. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.alive) this.child.kill(signal);
    const timer = setTimeout(() => this.alive && this.child.kill('SIGKILL'), 20_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export async function startServerProcess(opts: ServerOptions): Promise<ServerProcess> {
  const p = new ServerProcess(opts);
  try {
    return await p.ready(opts.waitHealthy ?? true, opts.timeoutMs);
  } catch (e) {
    await p.kill();
    throw e;
  }
}

/** A signed-in HTTP client: session cookie and CSRF token, like the app's own scripts. */
export class Client {
  cookie = '';
  csrf = '';
  me: { account: string; roles: string[]; unit: unknown; permissions: Array<{ scope: string; opCode: string }> } | null = null;
  agent: http.Agent;
  constructor(public base: string, opts: { keepAlive?: boolean } = {}) {
    this.agent = new http.Agent({ keepAlive: !!opts.keepAlive, maxSockets: opts.keepAlive ? 1 : Infinity });
  }

  /**
   * One HTTP request over node:http. A fresh connection each time by default, so that a dropped
   * connection is the server's doing and not a client keep-alive race; `keepAlive` reuses one.
   */
  request(method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; text: string; headers: Headers }> {
    const h: Record<string, string> = { accept: 'application/json', ...headers };
    if (this.cookie) h.cookie = this.cookie;
    if (this.csrf && method !== 'GET') h['x-csrf-token'] = this.csrf;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      h['content-type'] ??= 'application/json';
      h['content-length'] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      const req = http.request(this.base + p, { method, headers: h, agent: this.agent, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) for (const x of Array.isArray(v) ? v : v === undefined ? [] : [v]) headers.append(k, x);
          for (const c of res.headers['set-cookie'] ?? []) if (c.startsWith('nhi.sid=')) this.cookie = c.split(';')[0];
          let parsed: any = null;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            parsed = null;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text, headers });
        });
      });
      req.on('timeout', () => req.destroy(new Error('timed out after 30 s')));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** POST /api/v1/auth/login, then GET /api/v1/me for the CSRF token and permissions. */
  async signIn(account: string, password: string): Promise<this> {
    const r = await this.request('POST', '/api/v1/auth/login', { account, password });
    if (r.status !== 204) throw new Error(`sign-in of ${account} answered ${r.status}: ${r.text}`);
    const me = await this.request('GET', '/api/v1/me');
    if (me.status !== 200) throw new Error(`GET /api/v1/me answered ${me.status}`);
    this.me = me.body;
    this.csrf = me.body.csrfToken;
    return this;
  }
}

/** A valid Taiwan national ID for a number (checksum computed), for generated load. */
export function nationalId(n: number): string {
  const letters = 'ABCDEFGHJKLMNPQRSTUVXYWZIO';
  const letterIdx = n % 26;
  const code = 10 + letterIdx;
  const digits = [1 + (Math.floor(n / 26) % 2), ...String(Math.floor(n / 52) % 10_000_000).padStart(7, '0').split('').map(Number)];
  const weights = [8, 7, 6, 5, 4, 3, 2, 1];
  let sum = Math.floor(code / 10) + (code % 10) * 9;
  digits.forEach((d, i) => (sum += d * weights[i]));
  const check = (10 - (sum % 10)) % 10;
  return letters[letterIdx] + digits.join('') + check;
}

export interface Ack { id: number; hash: string; caseNo: string }

/**
 * A clerk recording query-log entries through the contract: an approved open query request of
 * their own and one of their permissions with its scope.
 */
export class Recorder extends Client {
  requestId: number | null = null;
  scope = '';
  opCode = '';
  n = 0;
  constructor(base: string, public tag: string, opts: { keepAlive?: boolean } = {}) {
    super(base, opts);
  }

  async prepare(account: string, password: string): Promise<this> {
    await this.signIn(account, password);
    const forms = await this.request('GET', '/api/v1/query-requests?mine=1&open=1');
    const open = (forms.body?.items ?? []).filter((f: any) => f.open || f.status === 'approved');
    const perms = this.me!.permissions;
    const form = open.find((f: any) => perms.some((p) => p.scope === f.scope)) ?? null;
    const perm = (form ? perms.find((p) => p.scope === form.scope) : perms[0]) ?? null;
    if (!perm) throw new Error(`${account} has no permission to record with`);
    this.requestId = form ? Number(form.id) : null;
    this.scope = perm.scope;
    this.opCode = perm.opCode;
    return this;
  }

  entry(i = this.n++, subjectNo = i): Record<string, unknown> {
    return {
      caseNo: `${this.tag}-${i}`, reason: `可靠度測試 ${this.tag} 第 ${i} 筆`, opCode: this.opCode, scope: this.scope,
      queryRequestId: this.requestId, subject: { type: 'national-id', value: nationalId(subjectNo) },
    };
  }

  /** Records one entry; resolves with the answer (status, body) whatever it is. */
  record(i?: number) {
    const body = this.entry(i);
    return this.request('POST', '/api/v1/query-logs', body).then((r) => ({ ...r, caseNo: body.caseNo as string }));
  }

  /** Records a batch of `size` entries sharing one case-number prefix. */
  recordBatch(size: number) {
    const base = this.n;
    const entries = Array.from({ length: size }, (_, k) => ({ ...this.entry(base + k), caseNo: `${this.tag}-b${base}-${k}` }));
    this.n += size;
    return this.request('POST', '/api/v1/query-logs', { entries }).then((r) => ({ ...r, prefix: `${this.tag}-b${base}-`, size }));
  }
}

/** Seeds the demo county through the real command line; returns its accounts. */
export async function seedDemo(env: Record<string, string>, password: string): Promise<Array<{ account: string; roles: string[]; unit: string }>> {
  const { cli } = await import('./cli.ts');
  const r = await cli(['seed-demo', '--password', password, '--json'], env);
  if (r.code !== 0) throw new Error(`seed-demo exited ${r.code}: ${r.stderr}`);
  const line = r.stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  return JSON.parse(line!).accounts;
}

export interface Load {
  acks: Ack[];
  batches: Array<{ prefix: string; size: number; acked: boolean }>;
  statuses: Map<number, number>;
  /** The first answer (or error) seen for each status other than 201, for messages. */
  samples: Map<number, string>;
  stop(): Promise<void>;
}

/** Each recorder records in a loop (every fourth call a batch of 3) until stopped or the server is gone. */
export function startLoad(recorders: Recorder[]): Load {
  const acks: Ack[] = [];
  const batches: Load['batches'] = [];
  const statuses = new Map<number, number>();
  const samples = new Map<number, string>();
  const note = (status: number, text: string) => {
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    if (status !== 201 && !samples.has(status)) samples.set(status, text.slice(0, 300));
  };
  let stopped = false;
  const loops = recorders.map(async (rec) => {
    for (let k = 0; !stopped; k++) {
      try {
        if (k % 4 === 3) {
          const r = await rec.recordBatch(3);
          note(r.status, r.text);
          const acked = r.status === 201;
          batches.push({ prefix: r.prefix, size: r.size, acked });
          if (acked) r.body.entries.forEach((e: { id: number; hash: string }, j: number) => acks.push({ id: e.id, hash: e.hash, caseNo: `${r.prefix}${j}` }));
        } else {
          const r = await rec.record();
          note(r.status, r.text);
          if (r.status === 201) acks.push({ id: r.body.id, hash: r.body.hash, caseNo: r.caseNo });
          else await sleep(50);
        }
      } catch (e) {
        note(0, String((e as { cause?: Error }).cause?.message ?? e)); // connection refused / reset
        await sleep(50);
      }
    }
  });
  return { acks, batches, statuses, samples, stop: async () => void ((stopped = true), await Promise.all(loops)) };
}

/** Every acknowledged entry is present with the hash it was acknowledged with; batches are all or nothing. */
export async function checkNothingLost(db: Knex, load: Pick<Load, 'acks' | 'batches'>): Promise<void> {
  const ids = load.acks.map((a) => a.id);
  const rows: any[] = [];
  for (let i = 0; i < ids.length; i += 400) rows.push(...(await db('query_logs').whereIn('id', ids.slice(i, i + 400)).select('id', 'hash', 'case_no')));
  const byId = new Map(rows.map((r) => [Number(r.id), r]));
  const missing = load.acks.filter((a) => !byId.has(a.id));
  expect(missing.map((a) => a.id), 'acknowledged entries missing after the restart').to.deep.equal([]);
  const wrong = load.acks.filter((a) => byId.get(a.id).hash !== a.hash || byId.get(a.id).case_no !== a.caseNo);
  expect(wrong.map((a) => a.id), 'acknowledged entries stored with another hash or case number').to.deep.equal([]);
  for (const b of load.batches) {
    const [{ n }] = await db('query_logs').where('case_no', 'like', `${b.prefix}%`).count({ n: '*' });
    expect([0, b.size], `batch ${b.prefix} is all or nothing`).to.include(Number(n));
    if (b.acked) expect(Number(n), `acknowledged batch ${b.prefix}`).to.equal(b.size);
  }
  // The chain head matches the last entry: no half-appended chain.
  const head = await db('log_chain_head').where({ id: 1 }).first('seq', 'hash');
  const last = await db('query_logs').orderBy('seq', 'desc').first('seq', 'hash');
  expect(Number(head.seq)).to.equal(Number(last.seq));
  expect(head.hash).to.equal(last.hash);
}

