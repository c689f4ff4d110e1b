// No GET changes state (HTTP's safe methods; ASVS 13.2.1): every GET of the access-control
// inventory, called by every role it allows, with ids of its own agency's rows and a query string
// a script would send (year, unit, month, from, to), leaves every table as it was. Only the
// session store, the security event log and the signed checkpoints may change: a GET that records
// an event of a read (an export downloaded, a full subject shown) or signs the head a sheet
// prints is still a read. Driven by accessTable(), so a GET
// added later is covered by itself.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Express } from 'express';
import { ENGINE, concretePath, listTables, migratedDb, rowCounts, type TestDb } from '../support/db.ts';
import { appFor, signIn, type Signed } from '../support/app.ts';
import { makeUser } from '../support/fixtures.ts';
import { accessTable, type AccessEntry } from '../../server/web/access.ts';
import { ROLES, type Role } from '../../server/accounts/roles.ts';
import { CAPABILITIES } from '../../server/capabilities.ts';
import { seededRandom } from '../../server/cli.ts';
import { allUnits, subtreeOf } from '../../server/accounts/units.ts';
import { localDate } from '../../server/time.ts';

/**
 * What a read may write: the session store, the security event log, and the signed checkpoint of
 * a chain head a printed sheet shows (a printed head is a witness: issue 15), and the head of the
 * event chain those events extend.
 */
const EXEMPT = new Set(['sessions', 'system_events', 'event_chain_head', 'signed_checkpoints', 'knex_migrations', 'knex_migrations_lock']);

describe(`no GET changes state (${ENGINE})`, function () {
  this.timeout(600_000);
  let t: TestDb;
  let app: Express;
  let tables: string[];
  let dir: string;
  const actors: Array<{ role: Role; signed: Signed }> = [];
  const ids = new Map<string, number>();
  let query = '';

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-safe-'));
    t = await migratedDb({ LOGIN_RATE_PER_MINUTE: '1000', EXPORT_DIR: dir });
    app = appFor(t);
    const random = seededRandom(20260101);
    for (const c of CAPABILITIES) if (c.seedDemo) await c.seedDemo({ cfg: t.cfg, db: t.db }, { password: 'Demo-Passw0rd-2026', random });
    const units = await allUnits(t.db);
    const agency = units.find((u) => u.kind === 'agency' && units.some((c) => c.parent_id === u.id))!;
    const planning = units.find((u) => u.kind === 'planning')!;
    for (const role of ROLES) {
      await makeUser(t.db, { account: `safe.${role}`, unitId: role === 'planning_admin' ? planning.id : agency.id, roles: [role], rank: 'division_chief' });
      actors.push({ role, signed: await signIn(app, `safe.${role}`) });
    }
    tables = (await listTables(t)).filter((n) => !EXEMPT.has(n)).sort();
    const sub = subtreeOf(units, agency.id);
    for (const name of tables) {
      const cols = Object.keys(await t.db(name).columnInfo());
      if (!cols.includes('id')) continue;
      const q = t.db(name).orderBy('id', 'desc').first('id');
      if (cols.includes('unit_id')) q.whereIn('unit_id', sub);
      const row = await q;
      if (row) ids.set(name, Number(row.id));
    }
    ids.set('units', agency.id);
    const year = Number(localDate(Date.now()).slice(0, 4)) - 1;
    query = new URLSearchParams({ year: String(year), unit: agency.code, month: `${year}-12`, from: `${year}-01-01`, to: `${year}-12-31` }).toString();
  });
  after(async () => {
    await t?.drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A digest of every row of every table: catches an update that leaves the counts alone. */
  async function contents(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const n of tables) {
      const rows = (await t.db(n).select('*')).map((r: Record<string, unknown>) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).sort();
      out[n] = crypto.createHash('sha256').update(rows.join('\n')).digest('hex');
    }
    return out;
  }

  const allows = (e: AccessEntry, role: Role) => e.who === 'public' || e.who === 'signed-in' || e.who === 'signed-in-or-token' || (Array.isArray(e.who) && e.who.includes(role));

  it('leaves every table as it was, for every GET route and every role it allows', async () => {
    const gets = accessTable().filter((e) => e.method === 'GET' && e.who !== 'token');
    expect(gets.length).to.be.greaterThan(20);
    const failures: string[] = [];
    const start = await contents();
    let calls = 0;
    for (const e of gets) {
      const p = concretePath(e.path, ids);
      for (const a of actors.filter((x) => allows(e, x.role))) {
        for (const url of [p, `${p}?${query}`]) {
          const before = await rowCounts(t, tables);
          const res = await a.signed.agent.get(url).redirects(0);
          calls++;
          if (res.status >= 500) failures.push(`GET ${url} as ${a.role}: ${res.status}`);
          const after = await rowCounts(t, tables);
          const changed = tables.filter((n) => after[n] !== before[n]);
          if (changed.length) failures.push(`GET ${url} as ${a.role} (${res.status}) changed the rows of ${changed.join(', ')}`);
        }
      }
    }
    const end = await contents();
    const updated = tables.filter((n) => start[n] !== end[n]);
    expect(failures, failures.join('\n')).to.deep.equal([]);
    expect(updated, `tables whose rows a GET changed: ${updated.join(', ')}`).to.deep.equal([]);
    expect(calls).to.be.greaterThan(gets.length);
  });
});
