// Headers, cookies, error responses and secrets (ASVS V3, V7, V9, V14; 資通系統防護基準 SC/IA):
// a CSP without 'unsafe-inline' that forbids framing, nosniff, HSTS and Secure cookies when served
// over TLS, HttpOnly + SameSite session cookies, no stack trace or SQL in any error, and a
// production process that refuses to start without real secrets, naming the key.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, signIn } from '../support/app.ts';
import { makeUser, seedTree, PASSWORD } from '../support/fixtures.ts';
import { cli } from '../support/cli.ts';
import { Client, startServerProcess } from '../support/server-process.ts';
import { accessTable } from '../../server/web/access.ts';
import { DEV_SECRETS } from '../../server/config.ts';

/** Text that betrays internals: stack frames, source paths, SQL, driver error codes. */
const LEAK = /\bat [\w.<>]+ \(|node:internal|\/server\/[\w/]+\.ts|\bselect\b.+\bfrom\b|\binsert into\b|\bupdate\b.+\bset\b|SQLITE_|ER_[A-Z_]+|no such table|syntax error|Knex|mysql2?|stack/i;

function cspOf(res: request.Response): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of String(res.headers['content-security-policy'] ?? '').split(';')) {
    const [name, ...rest] = d.trim().split(/\s+/);
    if (name) out[name] = rest.join(' ');
  }
  return out;
}

describe(`security: headers and cookies (${ENGINE})`, function () {
  this.timeout(60_000);
  let t: TestDb;
  before(async () => {
    t = await migratedDb();
    const tree = await seedTree(t.db);
    await makeUser(t.db, { account: 'sec.clerk', unitId: tree.AG1U1, roles: ['clerk'] });
  });
  after(() => t.drop());

  it('sends a CSP without unsafe-inline that forbids framing, plus nosniff, X-Frame-Options DENY and no X-Powered-By', async () => {
    const app = appFor(t);
    for (const p of ['/login', '/healthz', '/api/v1/me', '/no-such-page', '/assets/css/app.css']) {
      const res = await request(app).get(p);
      const csp = cspOf(res);
      expect(csp['default-src'], p).to.equal("'self'");
      expect(csp['script-src'], p).to.equal("'self'");
      expect(csp['style-src'], p).to.equal("'self'");
      expect(csp['object-src'], p).to.equal("'none'");
      expect(csp['frame-ancestors'], p).to.equal("'none'");
      expect(String(res.headers['content-security-policy']), p).not.to.match(/unsafe-inline|unsafe-eval|\*/);
      expect(res.headers['x-content-type-options'], p).to.equal('nosniff');
      expect(res.headers['x-frame-options'], p).to.equal('DENY');
      expect(res.headers['x-powered-by'], p).to.equal(undefined);
      expect(res.headers['strict-transport-security'], `${p}: no HSTS over plain HTTP configuration`).to.equal(undefined);
    }
  });

  it('serves no page with an inline script or style (the CSP would block it)', async () => {
    const page = await request(appFor(t)).get('/login');
    expect(page.status).to.equal(200);
    expect(page.text).not.to.match(/<script(?![^>]*\bsrc=)[^>]*>/i);
    expect(page.text).not.to.match(/\sstyle="/i);
    expect(page.text).not.to.match(/<style[\s>]/i);
    expect(page.text).not.to.match(/\son[a-z]+="/i);
  });

  it('sets the session cookie HttpOnly, SameSite=Lax, Path=/ and not Secure over plain HTTP', async () => {
    const res = await request(appFor(t)).post('/api/v1/auth/login').send({ account: 'sec.clerk', password: PASSWORD });
    expect(res.status).to.equal(204);
    const cookie = (res.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('nhi.sid='))!;
    expect(cookie).to.match(/;\s*HttpOnly/i);
    expect(cookie).to.match(/;\s*SameSite=Lax/i);
    expect(cookie).to.match(/;\s*Path=\//i);
    expect(cookie).not.to.match(/;\s*Secure/i);
  });

  it('with COOKIE_SECURE=true sends HSTS, upgrade-insecure-requests and Secure cookies', async () => {
    const s = await migratedDb({ COOKIE_SECURE: 'true' });
    const tree = await seedTree(s.db);
    await makeUser(s.db, { account: 'tls.clerk', unitId: tree.AG1, roles: ['clerk'] });
    const app = appFor(s);
    const page = await request(app).get('/login').set('X-Forwarded-Proto', 'https');
    expect(page.headers['strict-transport-security']).to.match(/max-age=31536000/).and.match(/includeSubDomains/);
    expect(cspOf(page)).to.have.property('upgrade-insecure-requests');
    // TLS ends at the reverse proxy (TRUST_PROXY=loopback): the app sees X-Forwarded-Proto.
    const res = await request(app).post('/api/v1/auth/login').set('X-Forwarded-Proto', 'https').send({ account: 'tls.clerk', password: PASSWORD });
    expect(res.status).to.equal(204);
    const cookie = (res.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('nhi.sid='))!;
    expect(cookie).to.match(/;\s*Secure/i).and.match(/;\s*HttpOnly/i).and.match(/;\s*SameSite=Lax/i);
    // Over plain HTTP a Secure session cookie is never sent at all.
    const plain = await request(app).post('/api/v1/auth/login').send({ account: 'tls.clerk', password: PASSWORD });
    expect(((plain.headers['set-cookie'] as unknown as string[]) ?? []).filter((c) => c.startsWith('nhi.sid='))).to.deep.equal([]);
    await s.drop();
  });

  it('creates no session (no cookie, no row) for anonymous requests that show no form', async () => {
    const app = appFor(t);
    const [{ n: before }] = await t.db('sessions').count({ n: '*' });
    for (const p of ['/healthz', '/api/v1/me', '/api/v1/openapi.json', '/api/v1/no-such-thing', '/assets/css/app.css']) {
      const res = await request(app).get(p);
      expect(res.headers['set-cookie'], p).to.equal(undefined);
    }
    const post = await request(app).post('/api/v1/auth/login').send({ account: 'nobody', password: 'wrong-password' });
    expect(post.status).to.equal(401);
    expect(post.headers['set-cookie']).to.equal(undefined);
    const [{ n: after }] = await t.db('sessions').count({ n: '*' });
    expect(Number(after)).to.equal(Number(before));
    // The sign-in form needs one (its CSRF token lives in the session).
    const login = await request(app).get('/login');
    expect(String(login.headers['set-cookie'])).to.match(/^nhi\.sid=/);
  });

  it('logs every refused access-control decision (ids only, no personal data) in the application log', async () => {
    const refused = accessTable().find((e) => e.method === 'GET' && Array.isArray(e.who) && !e.who.includes('clerk') && !e.path.includes(':') && e.path.startsWith('/api/'))
      ?? accessTable().find((e) => e.method === 'GET' && Array.isArray(e.who) && !e.who.includes('clerk') && !e.path.includes(':'))!;
    const server = await startServerProcess({ env: { ...t.env, LOG_LEVEL: 'warn' } });
    try {
      const c = await new Client(server.base).signIn('sec.clerk', PASSWORD);
      const res = await c.request('GET', refused.path);
      expect(res.status).to.equal(403);
      const deadline = Date.now() + 5000;
      while (!/access denied/.test(server.stdout) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const line = server.stdout.split('\n').find((l) => l.includes('access denied'))!;
      expect(line, server.stdout.slice(-1000)).to.be.a('string');
      const entry = JSON.parse(line);
      expect(entry).to.include({ method: 'GET', route: refused.path });
      expect(entry.userId).to.be.a('number');
      expect(line).not.to.contain('sec.clerk');
    } finally {
      await server.kill('SIGTERM');
    }
  });

  it('marks every signed-in answer Cache-Control: no-store (personal data never stays in a shared browser cache)', async () => {
    const s = await signIn(appFor(t), 'sec.clerk');
    for (const p of ['/', '/api/v1/me']) {
      const res = await s.agent.get(p);
      expect(res.status, p).to.equal(200);
      expect(res.headers['cache-control'], p).to.match(/no-store/);
    }
  });

  it('issues a new session id at sign-in (no session fixation) and ends it at sign-out', async () => {
    const app = appFor(t);
    const agent = request.agent(app);
    const first = await agent.get('/login');
    const before = ((first.headers['set-cookie'] as unknown as string[]) ?? []).find((c) => c.startsWith('nhi.sid='))?.split(';')[0];
    const res = await agent.post('/api/v1/auth/login').send({ account: 'sec.clerk', password: PASSWORD });
    const after = ((res.headers['set-cookie'] as unknown as string[]) ?? []).find((c) => c.startsWith('nhi.sid='))?.split(';')[0];
    expect(after).to.be.a('string');
    expect(after).not.to.equal(before);
    const me = await agent.get('/api/v1/me');
    expect(me.status).to.equal(200);
    const out = await agent.post('/api/v1/auth/logout').set('X-CSRF-Token', me.body.csrfToken).send({});
    expect(out.status).to.be.oneOf([200, 204]);
    expect((await agent.get('/api/v1/me')).status).to.equal(401);
    // The old cookie, replayed, is dead too.
    expect((await request(app).get('/api/v1/me').set('Cookie', after!)).status).to.equal(401);
  });

  it('refuses a state-changing request without a valid CSRF token on every session-protected route', async () => {
    const app = appFor(t);
    const s = await signIn(app, 'sec.clerk');
    for (const e of accessTable().filter((x) => x.method !== 'GET' && !['/api/v1/auth/login', '/api/v1/auth/password'].includes(x.path))) {
      const p = e.path.replace(/:\w+/g, '1');
      const m = e.method.toLowerCase() as 'post';
      const none = await s.agent[m](p).set('Accept', 'application/json').send({});
      expect(none.status, `${e.method} ${p} without a token`).to.equal(403);
      expect(none.body.type ?? none.text, `${e.method} ${p}`).to.match(/csrf|CSRF|表單已過期/);
      const wrong = await s.agent[m](p).set('Accept', 'application/json').set('X-CSRF-Token', 'x'.repeat(64)).send({});
      expect(wrong.status, `${e.method} ${p} with a wrong token`).to.equal(403);
    }
  });
});

describe(`security: error responses never leak internals (${ENGINE})`, function () {
  this.timeout(60_000);
  let t: TestDb;
  before(async () => {
    t = await migratedDb();
    const tree = await seedTree(t.db);
    await makeUser(t.db, { account: 'err.clerk', unitId: tree.AG1, roles: ['clerk'] });
  });
  after(() => t.drop());

  const check = (res: request.Response, label: string) => {
    expect(res.status, label).to.be.within(400, 599);
    expect(res.text, label).not.to.match(LEAK);
    if (res.headers['content-type']?.includes('json')) {
      expect(res.headers['content-type'], label).to.match(/application\/problem\+json/);
      expect(res.body).to.include.keys('type', 'title', 'status');
      expect(res.body, label).not.to.have.any.keys('stack', 'sql', 'sqlMessage', 'code', 'errno');
    }
  };

  it('answers malformed, oversized, wrongly typed and unknown requests with a problem, never a trace', async () => {
    const app = appFor(t);
    const s = await signIn(app, 'err.clerk');
    const cases: Array<[string, () => Promise<request.Response>]> = [
      ['malformed JSON', () => request(app).post('/api/v1/auth/login').type('application/json').send('{"account": "x", "password": ')],
      ['JSON too large', () => request(app).post('/api/v1/auth/login').type('application/json').send(JSON.stringify({ account: 'x', password: 'y'.repeat(3 * 1024 * 1024) }))],
      ['wrong content type', () => request(app).post('/api/v1/auth/login').type('text/plain').send('account=x')],
      ['unsupported charset', () => request(app).post('/api/v1/auth/login').set('Content-Type', 'application/json; charset=ebcdic').send('{}')],
      ['unknown encoding', () => request(app).post('/api/v1/auth/login').set('Content-Type', 'application/json').set('Content-Encoding', 'br-x').send('{}')],
      ['unknown API path', () => request(app).get('/api/v1/../../etc/passwd')],
      ['unknown page', () => request(app).get('/no/such/page').set('Accept', 'text/html')],
      ['wrong method', () => request(app).delete('/api/v1/me')],
      ['no CSRF token', () => s.agent.post('/api/v1/auth/logout').send({})],
      ['form body malformed', () => request(app).post('/login').type('form').send('%E0%A4%A=%ZZ&&&=')],
      ['bad percent-encoding in the path', () => request(app).get('/api/v1/%E0%A4%A')],
      ['unauthenticated API', () => request(app).get('/api/v1/me')],
    ];
    for (const [label, run] of cases) check(await run(), label);
  });

  it('answers a database error with a generic 500 problem, naming neither table nor SQL', async () => {
    const broken = await migratedDb();
    const tree = await seedTree(broken.db);
    await makeUser(broken.db, { account: 'err.clerk', unitId: tree.AG1, roles: ['clerk'] });
    const app = appFor(broken);
    const s = await signIn(app, 'err.clerk');
    // Break the schema under the running app: every signed-in request now fails in SQL.
    await broken.db.schema.renameTable('user_roles', 'user_roles_gone');
    for (const accept of ['application/json', 'text/html']) {
      const res = await s.agent.get('/api/v1/me').set('Accept', accept);
      expect(res.status).to.equal(500);
      check(res, `SQL error (${accept})`);
      const page = await s.agent.get('/').set('Accept', accept);
      expect(page.status).to.equal(500);
      check(page, `SQL error on a page (${accept})`);
    }
    await broken.db.schema.renameTable('user_roles_gone', 'user_roles');
    await broken.drop();
  });

  it('answers 503 with a clear message when the database is gone, on the API, pages and /healthz', async () => {
    const gone = await migratedDb();
    const app = appFor(gone);
    await gone.db.destroy(); // the pool is closed: every query fails as "unavailable"
    const api = await request(app).post('/api/v1/auth/login').send({ account: 'x', password: 'y' });
    expect(api.status).to.equal(503);
    expect(api.body.type).to.match(/database-unavailable$/);
    expect(api.body.detail).to.match(/資料庫/);
    expect(api.headers['retry-after']).to.equal('5');
    check(api, 'database unavailable');
    const health = await request(app).get('/healthz');
    expect(health.status).to.equal(503);
    expect(health.body).to.deep.equal({ status: 'unavailable', detail: '資料庫無回應' });
    await gone.drop();
  });
});

// Not database-specific: runs once, in the SQLite pass.
const onceOnly = ENGINE === 'sqlite' ? describe : (_title: string, _fn: (this: Mocha.Suite) => void) => undefined;
onceOnly('security: production refuses to start without real secrets (real process)', function () {
  this.timeout(120_000);
  const good = {
    SESSION_SECRET: crypto.randomBytes(36).toString('base64'),
    SUBJECT_ENC_KEY: crypto.randomBytes(32).toString('base64'),
    SUBJECT_HMAC_KEY: crypto.randomBytes(36).toString('base64'),
  };
  const examples: Record<keyof typeof good, string> = {
    SESSION_SECRET: 'change-me-session-secret-at-least-32-characters',
    SUBJECT_ENC_KEY: 'change-me-subject-enc-key-base64-32-bytes',
    SUBJECT_HMAC_KEY: 'change-me-subject-hmac-key-at-least-32-characters',
  };
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-prod-'));
    // Production also needs the checkpoint signing key (test/integration/checkpoints.test.ts).
    fs.writeFileSync(path.join(dir, 'checkpoint.pem'), crypto.generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const base = () => ({ NODE_ENV: 'production', DB_CLIENT: 'sqlite', DATABASE_URL: path.join(dir, 'prod.sqlite'), PORT: '0', HOST: '127.0.0.1', JOBS_ENABLED: 'false', CHECKPOINT_KEY_FILE: path.join(dir, 'checkpoint.pem'), WITNESS_DIR: path.join(dir, 'witness') });

  it('exits non-zero naming the key when a secret is missing, the example value, a built-in development key or repeated bytes', async () => {
    const runs = [
      ...(Object.keys(good) as Array<keyof typeof good>).flatMap((key) => [
        { key, kind: 'missing', env: { ...base(), ...good, [key]: '' } },
        { key, kind: 'example', env: { ...base(), ...good, [key]: examples[key] } },
      ]),
      { key: 'SESSION_SECRET', kind: 'development', env: { ...base(), ...good, SESSION_SECRET: DEV_SECRETS.SESSION_SECRET } },
      { key: 'SUBJECT_ENC_KEY', kind: 'repeated', env: { ...base(), ...good, SUBJECT_ENC_KEY: Buffer.alloc(32, 0).toString('base64') } },
      { key: 'SUBJECT_HMAC_KEY', kind: 'repeated', env: { ...base(), ...good, SUBJECT_HMAC_KEY: 'a'.repeat(40) } },
    ];
    const why: Record<string, RegExp> = { missing: /required in production/, example: /example value/, development: /development key/, repeated: /repeated bytes/ };
    const results = await Promise.all(runs.map((r) => cli(['serve'], r.env)));
    results.forEach((res, i) => {
      const { key, kind } = runs[i];
      expect(res.code, `${key} ${kind}: exit code`).to.not.equal(0);
      expect(res.code, `${key} ${kind}: the process ended`).to.not.equal(null);
      expect(res.stderr, `${key} ${kind}`).to.contain(key);
      expect(res.stderr, `${key} ${kind}`).to.match(why[kind]);
      expect(res.stdout, `${key} ${kind}: never listened`).not.to.match(/listening/);
    });
    expect(fs.existsSync(path.join(dir, 'prod.sqlite')), 'no database was touched').to.equal(false);
  });

  it('starts with real secrets, sends HSTS with COOKIE_SECURE=true, and stops cleanly on SIGTERM', async () => {
    const server = await startServerProcess({ env: { ...base(), ...good, COOKIE_SECURE: 'true' } });
    const res = await fetch(`${server.base}/healthz`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('strict-transport-security')).to.match(/max-age=/);
    await server.kill('SIGTERM');
    const { code } = await server.wait();
    expect(code).to.equal(0);
  });
});
