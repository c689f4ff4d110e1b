// Hostile input (ASVS V5, V13): property-based tests against every JSON endpoint and every form,
// driven by the access-control inventory so new routes are covered by themselves. Random,
// malformed, huge, wrongly typed, wrongly encoded and deeply nested bodies never give a 5xx, and a
// rejected request leaves no row behind (row counts of every table before and after).
import { expect } from 'chai';
import fc from 'fast-check';
import request from 'supertest';
import type { Express } from 'express';
import { ENGINE, concretePath, listTables, migratedDb, rowCounts, type TestDb } from '../support/db.ts';
import { appFor, csrfFromHtml, signIn, type Signed } from '../support/app.ts';
import { makeUser } from '../support/fixtures.ts';
import { accessTable, type AccessEntry } from '../../server/web/access.ts';
import { ROLES } from '../../server/accounts/roles.ts';
import { CAPABILITIES } from '../../server/capabilities.ts';
import { seededRandom } from '../../server/cli.ts';
import { allUnits, subtreeOf } from '../../server/accounts/units.ts';

export const SQLI = [
  "' OR '1'='1",
  "'; DROP TABLE query_logs; --",
  '" OR 1=1 --',
  "1; SELECT SLEEP(5)",
  "admin'--",
  "') UNION SELECT password_hash FROM users --",
  "\\'; DELETE FROM users; --",
  "%' AND 1=0 UNION SELECT NULL--",
];
export const XSS = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "'><svg onload=alert(1)>",
  'javascript:alert(1)',
  '<%= it.csrfToken %>{{7*7}}${7*7}',
  '</textarea><script>alert(1)</script>',
];
const FORMULA = ['=HYPERLINK("http://evil","x")', '+1+1', '-2+3', '@SUM(A1)', '\tTAB', '\rCR'];

/** Tables whose rows a rejected request may legitimately add: sessions and the security event log. */
const EXEMPT_TABLES = new Set(['sessions', 'system_events', 'knex_migrations', 'knex_migrations_lock']);

/** Field names the endpoints take, so generated objects hit real validators with wrong values. */
const FIELDS = [
  'caseNo', 'reason', 'opCode', 'scope', 'queryRequestId', 'subject', 'entries', 'decision', 'note', 'name', 'unit', 'account',
  'password', 'current', 'next', 'purpose', 'validFrom', 'validTo', 'expectedSubjects', 'roles', 'rank', 'permissions', 'unitId',
  'userId', 'verdict', 'comment', 'month', 'year', 'period', 'email', 'title', 'status', 'effectiveOn', 'items', 'findings', 'kind',
  'id', 'type', 'value', '__proto__', 'constructor',
];

const nasty = fc.oneof(
  fc.constantFrom(...SQLI, ...XSS, ...FORMULA, '', ' ', '\u0000', '\uFEFF', '\uD800', 'A'.repeat(10_000), '１２３', 'null', 'undefined', 'NaN', '-1', '0', '1e309'),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, -0, 1e308),
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 4 }),
);
const fieldObject = fc.dictionary(fc.constantFrom(...FIELDS), fc.oneof(nasty, fc.record({ type: nasty, value: nasty }), fc.array(fc.dictionary(fc.constantFrom(...FIELDS), nasty, { maxKeys: 6 }), { maxLength: 3 })), { maxKeys: 10 });

interface Body { label: string; contentType?: string; payload: string | Buffer }
const deep = (depth: number, open: string, close: string) => open.repeat(depth) + close.repeat(depth);

/** Every kind of hostile body, as raw bytes and a content type. */
const bodies: fc.Arbitrary<Body> = fc.oneof(
  fieldObject.map((o) => ({ label: 'field object', contentType: 'application/json', payload: JSON.stringify(o) })),
  fc.jsonValue().map((v) => ({ label: 'any JSON', contentType: 'application/json', payload: JSON.stringify(v) ?? 'null' })),
  fc.string({ maxLength: 200 }).map((s) => ({ label: 'malformed JSON', contentType: 'application/json', payload: s })),
  fieldObject.map((o) => ({ label: 'truncated JSON', contentType: 'application/json', payload: JSON.stringify(o).slice(0, -1) })),
  fc.integer({ min: 500, max: 200_000 }).map((d) => ({ label: `nested arrays ×${d}`, contentType: 'application/json', payload: deep(d, '[', ']') })),
  fc.integer({ min: 500, max: 100_000 }).map((d) => ({ label: `nested objects ×${d}`, contentType: 'application/json', payload: deep(d, '{"subject":', '}').replace(/}+$/, (m) => 'null' + m) })),
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => ({ label: 'random bytes', contentType: 'application/json; charset=utf-8', payload: Buffer.from(b) })),
  fc.constantFrom('caseNo', 'reason', 'account', 'name').map((f) => ({ label: 'invalid UTF-8 in a string', contentType: 'application/json', payload: Buffer.concat([Buffer.from(`{"${f}":"`), Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, 0xff]), Buffer.from('"}')]) })),
  fc.tuple(fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'image/png', 'application/octet-stream', ''), fieldObject).map(([ct, o]) => ({ label: `content-type ${ct || '(none)'}`, contentType: ct || undefined, payload: JSON.stringify(o) })),
  fc.constantFrom(1, 3).map((mb) => ({ label: `huge ${mb} MB`, contentType: 'application/json', payload: JSON.stringify({ caseNo: 'x'.repeat(mb * 1024 * 1024), reason: 'y' }) })),
  fc.integer({ min: 10_000, max: 60_000 }).map((n) => ({ label: `huge array ×${n}`, contentType: 'application/json', payload: JSON.stringify({ entries: Array.from({ length: n }, () => ({})) }) })),
);

/** Form bodies: random fields, wrong encodings, JSON where a form is expected. */
const formBodies = (csrf: string): fc.Arbitrary<Body> => fc.oneof(
  fc.dictionary(fc.constantFrom(...FIELDS), fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom(...SQLI, ...XSS, ...FORMULA, 'A'.repeat(5000))), { maxKeys: 10 })
    .map((o) => ({ label: 'form fields', contentType: 'application/x-www-form-urlencoded', payload: new URLSearchParams({ ...o, _csrf: csrf }).toString() })),
  fc.string({ maxLength: 120 }).map((s) => ({ label: 'raw form text', contentType: 'application/x-www-form-urlencoded', payload: `_csrf=${encodeURIComponent(csrf)}&${s}` })),
  fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => ({ label: 'invalid UTF-8 form', contentType: 'application/x-www-form-urlencoded', payload: Buffer.concat([Buffer.from(`_csrf=${encodeURIComponent(csrf)}&reason=`), Buffer.from(b)]) })),
  fc.constantFrom('%', '%E0%A4%A', '%ZZ', '%C0%AF', '%FF%FE').map((s) => ({ label: 'bad percent-encoding', contentType: 'application/x-www-form-urlencoded', payload: `_csrf=${encodeURIComponent(csrf)}&caseNo=${s}&reason=${s}` })),
  fc.constant({ label: 'form over 256 kB', contentType: 'application/x-www-form-urlencoded', payload: `_csrf=${encodeURIComponent(csrf)}&reason=${'x'.repeat(300_000)}` }),
  fc.array(fc.constantFrom('caseNo', 'reason', 'scope'), { minLength: 2, maxLength: 6 }).map((keys) => ({ label: 'repeated fields (arrays)', contentType: 'application/x-www-form-urlencoded', payload: `_csrf=${encodeURIComponent(csrf)}&${keys.map((k, i) => `${k}=v${i}`).join('&')}` })),
  fieldObject.map((o) => ({ label: 'JSON to a form', contentType: 'application/json', payload: JSON.stringify({ ...o, _csrf: csrf }) })),
);

describe(`hostile input (${ENGINE})`, function () {
  this.timeout(900_000);
  let t: TestDb;
  let app: Express;
  let s: Signed;
  let tables: string[];
  const ids = new Map<string, number>();

  before(async () => {
    t = await migratedDb({ LOGIN_RATE_PER_MINUTE: '1000' });
    app = appFor(t);
    const random = seededRandom(20260101);
    for (const c of CAPABILITIES) if (c.seedDemo) await c.seedDemo({ cfg: t.cfg, db: t.db }, { password: 'Demo-Passw0rd-2026', random });
    const units = await allUnits(t.db);
    const agency = units.find((u) => u.kind === 'agency' && units.some((c) => c.parent_id === u.id))!;
    const scopes = await t.db('unit_scopes as us').join('scopes as sc', 'sc.id', 'us.scope_id').where({ 'us.unit_id': agency.id }).pluck('sc.code');
    const ops = await t.db('op_codes').pluck('code');
    // One person holding every role, so each body reaches the endpoint's own validation.
    await makeUser(t.db, { account: 'hostile.all', unitId: agency.id, roles: [...ROLES], rank: 'division_chief', permissions: scopes.flatMap((sc: string) => ops.slice(0, 3).map((o: string) => [sc, o] as [string, string])) });
    s = await signIn(app, 'hostile.all');
    tables = (await listTables(t)).filter((n) => !EXEMPT_TABLES.has(n)).sort();
    // Row ids for path parameters: rows of the actor's own agency where the table has units.
    const sub = subtreeOf(units, agency.id);
    for (const name of tables) {
      const cols = Object.keys(await t.db(name).columnInfo());
      if (!cols.includes('id')) continue;
      const q = t.db(name).orderBy('id').first('id');
      if (cols.includes('unit_id')) q.whereIn('unit_id', sub);
      const row = await q;
      if (row) ids.set(name, Number(row.id));
    }
    ids.set('units', agency.id);
  });
  after(() => t?.drop());

  async function send(method: string, path: string, body: Body, csrf: string) {
    const m = method.toLowerCase() as 'post';
    let req = s.agent[m](path).set('X-CSRF-Token', csrf).set('Accept', path.startsWith('/api/') ? 'application/json' : 'text/html').redirects(0);
    if (body.contentType) req = req.set('Content-Type', body.contentType);
    return req.send(body.payload as any);
  }

  const writes = (e: AccessEntry) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(e.method) && !/logout/.test(e.path);
  let failures: string[] = [];
  beforeEach(() => (failures = []));

  async function hammer(e: AccessEntry, arb: fc.Arbitrary<Body>, numRuns: number) {
    const path = concretePath(e.path, ids);
    await fc.assert(
      fc.asyncProperty(arb, async (body) => {
        const before = await rowCounts(t, tables);
        const res = await send(e.method, path, body, s.csrf);
        const label = `${e.method} ${path} with ${body.label}`;
        if (res.status >= 500) {
          failures.push(`${label}: ${res.status} ${res.text.slice(0, 200)}`);
          return false;
        }
        if (res.status >= 400) {
          const after = await rowCounts(t, tables);
          const changed = tables.filter((n) => after[n] !== before[n]);
          if (changed.length) {
            failures.push(`${label}: rejected (${res.status}) but rows changed in ${changed.join(', ')}`);
            return false;
          }
          if (path.startsWith('/api/')) expect(res.headers['content-type'], label).to.match(/application\/problem\+json/);
        }
        // The session survives whatever was sent.
        return true;
      }),
      { numRuns, seed: 20261123, endOnFailure: true },
    );
  }

  it('never answers 5xx nor leaves a partial row, whatever is sent to a JSON endpoint', async () => {
    const endpoints = accessTable().filter((e) => writes(e) && e.path.startsWith('/api/'));
    expect(endpoints.length).to.be.greaterThan(0);
    for (const e of endpoints) {
      try {
        await hammer(e, bodies, 50);
      } catch (err) {
        failures.push(`${e.method} ${e.path}: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`);
      }
    }
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });

  it('never answers 5xx nor leaves a partial row, whatever is posted to a form', async () => {
    const forms = accessTable().filter((e) => writes(e) && !e.path.startsWith('/api/'));
    expect(forms.length).to.be.greaterThan(0);
    for (const e of forms) {
      // A fresh form token, as a browser would have from the page.
      const page = await s.agent.get('/');
      const csrf = page.status === 200 ? csrfFromHtml(page.text) : s.csrf;
      try {
        await hammer(e, formBodies(csrf), 50);
      } catch (err) {
        failures.push(`${e.method} ${e.path}: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`);
      }
    }
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });

  it('answers hostile query strings on every GET without a 5xx', async () => {
    const gets = accessTable().filter((e) => e.method === 'GET' && e.who !== 'token');
    const values = [...SQLI, ...XSS, '%', '%E0%A4%A', 'A'.repeat(5000), '-1', '1e309', '9999-99-99', '[]', '{}'];
    const keys = ['from', 'to', 'unit', 'account', 'subjectId', 'month', 'year', 'page', 'pageSize', 'q', 'status', 'next', 'id'];
    for (const e of gets) {
      const path = concretePath(e.path, ids);
      for (const v of values) {
        const qs = keys.map((k) => `${k}=${/^%/.test(v) ? v : encodeURIComponent(v)}`).join('&') + `&unit[]=x&page[a]=1`;
        const res = await s.agent.get(`${path}?${qs}`).redirects(0);
        if (res.status >= 500) failures.push(`GET ${path}?…${v.slice(0, 30)}: ${res.status}`);
      }
    }
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });
});
