// Every route of the real router has an entry in the access-control inventory, and every entry
// has a route (a stale entry is as misleading as a missing one).
import { expect } from 'chai';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { appFor } from '../support/app.ts';
import { accessTable } from '../../server/web/access.ts';

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

describe(`access-control inventory (${ENGINE})`, () => {
  let t: TestDb;
  before(async () => {
    t = await migratedDb();
  });
  after(() => t.drop());

  it('lists every route of the app, and nothing else', () => {
    const app = appFor(t);
    const routes = routesOf(app).map((r) => `${r.method} ${r.path}`).sort();
    const table = accessTable().map((e) => `${e.method} ${e.path}`).sort();
    expect(routes.length).to.be.greaterThan(5);
    expect(routes.filter((r) => !table.includes(r)), 'routes without an inventory entry').to.deep.equal([]);
    expect(table.filter((e) => !routes.includes(e)), 'inventory entries without a route').to.deep.equal([]);
  });
});
