// The query-log benchmarks' load client: recording through the HTTP API as a business system
// would, from its own process (spawned by runClient), so the server's CPU time is its own; and
// startServer, an app server of a given checkout in its own process (the integrity benchmark runs
// this code and the code before it side by side). Imports nothing of the app but the subject
// generator, so a client or a server starts the same whatever else the working tree holds.
import http from 'node:http';
import path from 'node:path';
import { fork, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generateNationalId } from '../server/queries/subject.ts';

export const TOKEN = 'nhiq_bench_token_for_queries_benchmark_only';

export interface Fixture { clerkId: number; unitId: number; requestId: number; tokenId: number; target: string }
export interface LoadPhase { kind: 'single' | 'batch' | 'paced'; total: number; concurrency?: number; rate?: number; start: number }

function entry(f: Fixture, i: number) {
  return { caseNo: `BEN-${2000000 + i}`, reason: '效能測試：個案訪視前確認投保狀態', opCode: 'IN01', scope: '2-1', queryRequestId: f.requestId, subject: { type: 'national-id', value: i % 50 === 0 ? f.target : generateNationalId() } };
}

export const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
export function call(port: number, method: string, pathName: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request({ host: '127.0.0.1', port, method, path: pathName, agent, headers: { ...(data ? { 'content-type': 'application/json', 'content-length': String(data.length) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

/** Runs `total` jobs with `concurrency` workers; returns the wall time and each job's latency. */
export async function closedLoop(total: number, concurrency: number, job: (i: number) => Promise<void>): Promise<{ ms: number; lat: number[] }> {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const i = next++;
      const s = performance.now();
      await job(i);
      lat.push(performance.now() - s);
    }
  }));
  return { ms: performance.now() - t0, lat };
}

/** Starts `total` jobs at a fixed rate (open loop), so latency is measured at that rate. */
export async function paced(total: number, perSecond: number, job: (i: number) => Promise<void>): Promise<{ ms: number; lat: number[] }> {
  const lat: number[] = [];
  const t0 = performance.now();
  const all: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const s = performance.now();
    all.push(job(i).then(() => void lat.push(performance.now() - s)));
  }
  await Promise.all(all);
  return { ms: performance.now() - t0, lat };
}


/** The load client (a child process): runs one phase against the server, prints {ms, lat}. */
async function client(job: LoadPhase & { port: number; fixture: Fixture }): Promise<void> {
  const { port, fixture: f } = job;
  const bearerOf = (i: number) => ({ authorization: `Bearer ${TOKEN}_${i % 16}` });
  let k = job.start;
  const one = async (i: number) => {
    const r = await call(port, 'POST', '/api/v1/query-logs', entry(f, k++), bearerOf(i));
    if (r.status !== 201) throw new Error(`${job.kind}: ${r.status} ${r.body.slice(0, 300)}`);
  };
  const batch = async (i: number) => {
    const r = await call(port, 'POST', '/api/v1/query-logs', { entries: Array.from({ length: 500 }, () => entry(f, k++)) }, bearerOf(i % 2));
    if (r.status !== 201) throw new Error(`batch: ${r.status} ${r.body.slice(0, 300)}`);
  };
  const out = job.kind === 'paced' ? await paced(job.total, job.rate!, one) : await closedLoop(job.total, job.concurrency ?? 1, job.kind === 'batch' ? batch : one);
  agent.destroy();
  process.stdout.write(JSON.stringify(out) + '\n');
}

export function runClient(job: LoadPhase & { port: number; fixture: Fixture }): Promise<{ ms: number; lat: number[] }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--client', JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`load client (${job.kind}) exited ${code}`))));
  });
}

/** An app server of the checkout at `root` in a child process, on `databaseUrl` (MariaDB). */
export interface Server { port: number; cpu(): Promise<number>; stop(): void }
export function startServer(root: string, databaseUrl: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--serve', root, databaseUrl], { execArgv: ['--import', 'tsx', ...(process.env.BENCH_SERVER_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_SERVER_PROF}`] : [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`server of ${root} exited ${code}`)));
    child.once('message', (m: { port: number }) => resolve({
      port: m.port,
      cpu: () => new Promise((r) => { child.once('message', (c: { cpu: number }) => r(c.cpu)); child.send('cpu'); }),
      // Disconnecting lets the child exit by itself (writing its profile under BENCH_SERVER_PROF); killed if it lingers.
      stop: () => { child.removeAllListeners('exit'); child.disconnect(); setTimeout(() => child.kill(), 5000).unref(); },
    }));
  });
}

/** The server child: the app of `root` with its own modules and config; answers 'cpu' with its CPU seconds. */
async function serve(root: string, databaseUrl: string): Promise<void> {
  const mod = (p: string) => import(path.join(root, p));
  const [{ parseConfig }, { createDb }, { createApp }, { DbSessionStore }, { configureLocale }] = await Promise.all([mod('server/config.ts'), mod('server/db.ts'), mod('server/app.ts'), mod('server/web/session-store.ts'), mod('server/web/locale.ts')]);
  configureLocale();
  const cfg = parseConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', JOBS_ENABLED: '0', DB_CLIENT: 'mysql', DATABASE_URL: databaseUrl, DB_POOL_MAX: '16' });
  const db = createDb(cfg);
  const sessions = new DbSessionStore(db, 15 * 60_000);
  sessions.close();
  const server = createApp({ cfg, db, sessions }).listen(0, '127.0.0.1');
  server.once('listening', () => process.send!({ port: (server.address() as { port: number }).port }));
  process.on('message', () => { const u = process.cpuUsage(); process.send!({ cpu: (u.user + u.system) / 1e6 }); });
  process.on('disconnect', () => process.exit(0));
}

const self = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (self && process.argv[2] === '--client') {
  client(JSON.parse(process.argv[3])).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
} else if (self && process.argv[2] === '--serve') {
  serve(process.argv[3], process.argv[4]).catch((e) => { console.error(e); process.exit(1); });
}
