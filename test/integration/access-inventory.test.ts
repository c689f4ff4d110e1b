// The access-control inventory, proven: every route of the real router has an entry (and every
// entry a route), and every entry is exercised against every role, anonymously, and with data
// inside and outside the caller's subtree. Driven by accessTable(), so a route added later is
// covered without touching this file.
import { expect } from 'chai';
import request from 'supertest';
import type { Express } from 'express';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor, csrfFromHtml, signIn, type Signed } from '../support/app.ts';
import { makeUser } from '../support/fixtures.ts';
import { accessTable, type AccessEntry } from '../../server/web/access.ts';
import { ROLES, type Role } from '../../server/accounts/roles.ts';
import { CAPABILITIES } from '../../server/capabilities.ts';
import { seededRandom } from '../../server/cli.ts';
import { subtreeOf, allUnits, type UnitRow } from '../../server/accounts/units.ts';
import { isCountyWide } from '../../server/accounts/reach.ts';

export function routesOf(app: any): Array<{ method: string; path: string }> {
  const out: Array<{ method: string; path: string }> = [];
  const walk = (stack: any[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const m of Object.keys(layer.route.methods)) if (m !== '_all') out.push({ method: m.toUpperCase(), path: layer.route.path });
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk(app.router.stack);
  return out;
}

const isApi = (p: string) => p.startsWith('/api/');
const snake = (s: string) => s.replace(/-/g, '_');
const singular = (s: string) => s.replace(/ies$/, 'y').replace(/s$/, '');
/** A row id used when the table behind a parameter has no rows (or is not known): 404 expected. */
const MISSING_ID = 987654321;

interface Actor { role: Role | 'anonymous'; unitId: number; userId?: number; signed: Signed }

describe(`access-control inventory (${ENGINE})`, function () {
  this.timeout(600_000);
  let t: TestDb;
  let app: Express;
  let units: UnitRow[];
  let tables: Set<string>;
  const columns = new Map<string, Set<string>>();
  const actors: Actor[] = [];
  let insideRoot: number; // the agency every role's actor belongs to
  let outsideRoot: number; // another agency: its data is outside the actors' subtree
  const actorIds = new Set<number>();

  before(async () => {
    t = await migratedDb({ LOGIN_RATE_PER_MINUTE: '1000' });
    app = appFor(t);
    // The demo county, built by every capability, is the data set: it grows with the capabilities.
    const random = seededRandom(20260101);
    for (const c of CAPABILITIES) if (c.seedDemo) await c.seedDemo({ cfg: t.cfg, db: t.db }, { password: 'Demo-Passw0rd-2026', random });
    units = await allUnits(t.db);
    const agencies = units.filter((u) => u.kind === 'agency');
    expect(agencies.length, 'the demo county has at least two agencies').to.be.greaterThan(1);
    // The agency with subordinate units is "inside"; another agency is "outside".
    const withChildren = agencies.filter((a) => units.some((u) => u.parent_id === a.id));
    insideRoot = (withChildren[0] ?? agencies[0]).id;
    outsideRoot = agencies.find((a) => a.id !== insideRoot)!.id;
    const planning = units.find((u) => u.kind === 'planning')!;

    tables = new Set(await listTables(t));
    // Clerks get every scope × op code their agency is authorised for.
    const perms: Array<[string, string]> = [];
    const scopes = await t.db('unit_scopes as us').join('scopes as s', 's.id', 'us.scope_id').where({ 'us.unit_id': insideRoot }).pluck('s.code');
    const ops = await t.db('op_codes').limit(3).pluck('code');
    for (const s of scopes) for (const o of ops) perms.push([s, o]);
    for (const role of ROLES) {
      const unitId = role === 'planning_admin' ? planning.id : insideRoot;
      const account = `acl.${role}`;
      const userId = await makeUser(t.db, { account, unitId, roles: [role], rank: 'division_chief', permissions: role === 'clerk' ? perms : [] });
      actorIds.add(userId);
      actors.push({ role, unitId, userId, signed: await signIn(app, account) });
    }
    // Anonymous, but with a session carrying a CSRF token (from the login page), so that a refusal
    // is the access guard's and not the CSRF check's.
    const agent = request.agent(app);
    const page = await agent.get('/login');
    actors.push({ role: 'anonymous', unitId: 0, signed: { agent, csrf: csrfFromHtml(page.text) } });
  });
  after(() => t.drop());

  async function listTables(tdb: TestDb): Promise<string[]> {
    if (ENGINE === 'mysql') {
      const [rows] = await tdb.db.raw('select table_name as n from information_schema.tables where table_schema = database()');
      return (rows as any[]).map((r) => r.n ?? r.N ?? r.TABLE_NAME);
    }
    const rows = await tdb.db.raw("select name as n from sqlite_master where type = 'table'");
    return (rows as any[]).map((r) => r.n);
  }
  async function columnsOf(table: string): Promise<Set<string>> {
    if (!columns.has(table)) columns.set(table, new Set(Object.keys(await t.db(table).columnInfo())));
    return columns.get(table)!;
  }

  /** The table behind a path parameter: the segment before it (`query-logs/:id` → query_logs). */
  function tableFor(segments: string[], i: number): string | null {
    const seg = segments[i - 1];
    if (!seg || seg.startsWith(':')) return null;
    const parent = segments[i - 3] && !segments[i - 3].startsWith(':') ? singular(snake(segments[i - 3])) : null;
    for (const cand of [snake(seg), parent ? `${parent}_${snake(seg)}` : '', snake(singular(seg)) + 's']) if (cand && tables.has(cand)) return cand;
    return null;
  }

  /** A row id of `table` whose unit is inside (or outside) `root`'s subtree; null if none. */
  async function rowId(table: string, root: number, inside: boolean, preferUnit?: number): Promise<number | null> {
    const cols = await columnsOf(table);
    const sub = subtreeOf(units, root);
    const unitCol = table === 'units' ? 'id' : cols.has('unit_id') ? 'unit_id' : null;
    if (!unitCol) {
      if (!inside) return null;
      const r = await t.db(table).orderBy('id').first('id');
      return r ? Number(r.id) : null;
    }
    const q = t.db(table).whereIn(unitCol, inside ? sub : subtreeOf(units, outsideRoot));
    if (table === 'users') q.whereNotIn('id', [...actorIds]);
    const rows: any[] = await q.orderBy('id').select('id', `${unitCol} as u`).limit(200);
    if (!rows.length) return null;
    const pick = (preferUnit && rows.find((r) => Number(r.u) === preferUnit)) || rows[0];
    return Number(pick.id);
  }

  /** Concrete paths for an entry: one with inside ids and, if the route takes ids, one with outside ids. */
  async function pathsFor(e: AccessEntry, actor: Actor): Promise<{ inside: string; outside: string | null }> {
    const segments = e.path.split('/');
    const inside = [...segments];
    const outside = [...segments];
    let hasOutside = false;
    let hasParam = false;
    for (let i = 0; i < segments.length; i++) {
      const s = segments[i];
      if (s.startsWith('*')) {
        inside[i] = outside[i] = 'x';
        continue;
      }
      if (!s.startsWith(':')) continue;
      hasParam = true;
      const table = tableFor(segments, i);
      const root = actor.role === 'anonymous' ? insideRoot : actor.role === 'planning_admin' ? actor.unitId : insideRoot;
      const inId = table ? await rowId(table, root, true, actor.unitId) : null;
      const outId = table && actor.role !== 'planning_admin' ? await rowId(table, insideRoot, false) : null;
      inside[i] = String(inId ?? MISSING_ID);
      outside[i] = String(outId ?? MISSING_ID);
      if (outId != null) hasOutside = true;
    }
    const clean = (p: string[]) => p.join('/').replace(/[{}]/g, '');
    return { inside: clean(inside), outside: hasParam && hasOutside ? clean(outside) : null };
  }

  async function call(actor: Actor, e: AccessEntry, path: string) {
    const { agent, csrf } = actor.signed;
    const m = e.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
    let req = agent[m](path).redirects(0);
    if (isApi(path)) req = req.set('Accept', 'application/json');
    if (e.method !== 'GET') {
      req = req.set('X-CSRF-Token', csrf);
      // An empty body: the check is who gets past the guard, not what a full request does.
      req = isApi(path) ? req.send({}) : req.type('form').send({ _csrf: csrf });
    }
    return req;
  }

  const allowed = (e: AccessEntry, role: Role | 'anonymous'): boolean => {
    if (e.who === 'public') return true;
    if (role === 'anonymous' || e.who === 'token') return false;
    if (e.who === 'signed-in' || e.who === 'signed-in-or-token') return true;
    return (e.who as readonly Role[]).includes(role);
  };

  it('lists every route of the app, and nothing else', () => {
    const routes = routesOf(app).map((r) => `${r.method} ${r.path}`).sort();
    const table = accessTable().map((e) => `${e.method} ${e.path}`).sort();
    expect(routes.length).to.be.greaterThan(5);
    expect(routes.filter((r) => !table.includes(r)), 'routes without an inventory entry').to.deep.equal([]);
    expect(table.filter((e) => !routes.includes(e)), 'inventory entries without a route').to.deep.equal([]);
  });

  it('declares, for every entry, who may call it and which units it may touch', () => {
    for (const e of accessTable()) {
      expect(e.who, `${e.method} ${e.path}`).to.satisfy((w: unknown) => typeof w === 'string' || (Array.isArray(w) && w.length > 0 && w.every((r) => (ROLES as readonly string[]).includes(r))));
      expect(['none', 'self', 'own-unit', 'subtree', 'all'], `${e.method} ${e.path}`).to.include(e.units);
    }
  });

  it('answers every entry for every role as the inventory says (anonymous, other roles, allowed roles inside and outside their subtree)', async () => {
    const failures: string[] = [];
    let exercised = 0;
    // Sign-out routes end the session: run them last.
    const entries = [...accessTable()].sort((a, b) => Number(/logout/.test(a.path)) - Number(/logout/.test(b.path)));
    for (const e of entries) {
      for (const actor of actors) {
        const { inside, outside } = await pathsFor(e, actor);
        let res = await call(actor, e, inside);
        exercised++;
        const label = `${e.method} ${inside} as ${actor.role}`;
        const ok = allowed(e, actor.role);
        if (res.status >= 500) failures.push(`${label}: ${res.status} (server error)`);
        if (actor.role === 'anonymous' && e.who !== 'public') {
          const toLogin = !isApi(inside) && e.method === 'GET' && res.status === 303 && /^\/login/.test(res.headers.location ?? '');
          if (!(res.status === 401 || toLogin)) failures.push(`${label}: expected 401 or a redirect to /login, got ${res.status}`);
          continue;
        }
        if (!ok) {
          if (res.status !== (e.who === 'token' ? 401 : 403)) failures.push(`${label}: expected ${e.who === 'token' ? 401 : 403}, got ${res.status}`);
          continue;
        }
        if (e.who === 'public') {
          if (res.status === 403 && res.body?.type?.endsWith('/forbidden')) failures.push(`${label}: a public route refused (403)`);
          continue;
        }
        if (res.status === 401) {
          // Possibly the session was ended by a sign-out route just before: sign in again once.
          actor.signed = await signIn(app, `acl.${actor.role}`);
          res = await call(actor, e, inside);
        }
        if (res.status === 401 || res.status === 403) failures.push(`${label}: allowed role refused (${res.status} ${res.body?.detail ?? ''})`);
        if (outside && e.units !== 'all') {
          const out = await call(actor, e, outside);
          exercised++;
          if (out.status < 400) failures.push(`${e.method} ${outside} as ${actor.role}: data outside the caller's subtree answered ${out.status}`);
        }
        if (/logout/.test(e.path)) actor.signed = await signIn(app, `acl.${actor.role}`);
      }
    }
    expect(failures, failures.join('\n')).to.deep.equal([]);
    expect(exercised).to.be.greaterThan(accessTable().length * actors.length - 1);
  });

  it('never shows a list reader rows of units outside its subtree when it asks for another unit', async () => {
    const failures: string[] = [];
    const outsideCodes = new Set(units.filter((u) => subtreeOf(units, outsideRoot).includes(u.id)).map((u) => u.code));
    const outsideIds = new Set(subtreeOf(units, outsideRoot));
    const outsideCode = units.find((u) => u.id === outsideRoot)!.code;
    const lists = accessTable().filter((e) => e.method === 'GET' && isApi(e.path) && !e.path.includes(':') && (e.units === 'own-unit' || e.units === 'subtree'));
    for (const e of lists) {
      for (const actor of actors.filter((a) => a.role !== 'anonymous' && a.role !== 'planning_admin' && allowed(e, a.role))) {
        for (const q of [`unit=${encodeURIComponent(outsideCode)}`, `unit=${outsideRoot}`]) {
          const res = await actor.signed.agent.get(`${e.path}?${q}`).set('Accept', 'application/json');
          if (res.status >= 500) failures.push(`${e.path}?${q} as ${actor.role}: ${res.status}`);
          if (res.status !== 200 || !Array.isArray(res.body?.items)) continue;
          for (const item of res.body.items) {
            const u = item.unit ?? item.unitCode ?? item.unitId ?? item.unit_id;
            const code = typeof u === 'object' && u ? u.code ?? u.id : u;
            if (outsideCodes.has(code) || (typeof code === 'number' && outsideIds.has(code))) {
              failures.push(`${e.path}?${q} as ${actor.role}: lists a row of ${code}`);
              break;
            }
          }
        }
      }
    }
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });

  it('need to know on the demo county: the county-wide offices sit in the planning department; a check and its sheet by role, own and other agency', async () => {
    const planning = units.find((u) => u.kind === 'planning')!;
    const planned = await t.db('users as u').join('user_roles as r', 'r.user_id', 'u.id').where('u.unit_id', planning.id).whereNot('u.account', 'like', 'acl.%').select('r.role');
    const countyRoles = planned.map((r: any) => r.role).filter((role: string) => isCountyWide(units, { unitId: planning.id, roles: [role] }));
    expect([...new Set(countyRoles)].sort(), 'the demo has each county-wide office').to.deep.equal(['auditor', 'ethics', 'planning_admin']);
    const latest = (root: number) => t.db('checks').where({ unit_id: root }).orderBy([{ column: 'period', order: 'desc' }, { column: 'generation', order: 'desc' }]).first('id');
    const own = await latest(insideRoot);
    const other = await latest(outsideRoot);
    expect(own && other, 'the demo has checks in both agencies').to.not.equal(undefined);
    // Each acl.<role> sits in the inside agency's own unit and is no check's checker.
    const reads = (role: Role | 'anonymous', side: 'own' | 'other') => role === 'planning_admin' || (side === 'own' && ['auditor', 'ethics', 'supervisor'].includes(role));
    const failures: string[] = [];
    for (const actor of actors.filter((a) => a.role !== 'anonymous')) {
      for (const [side, c] of [['own', own], ['other', other]] as const) {
        for (const path of [`/api/v1/checks/${c.id}`, `/checks/${c.id}/sheet.xlsx`]) {
          const res = await actor.signed.agent.get(path).redirects(0);
          const want = reads(actor.role, side) ? 200 : 404;
          if (res.status !== want) failures.push(`GET ${path} as ${actor.role} (${side} agency): expected ${want}, got ${res.status}`);
        }
      }
    }
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });
});
