// seed-demo gives every role something on its to-do list (issue 18), and a second run adds nothing of ours.
import { expect } from 'chai';
import { ENGINE, migratedDb, type TestDb } from '../support/db.ts';
import { cli } from '../support/cli.ts';
import { todosFor } from '../../server/todos/service.ts';
import { DEMO_INVESTIGATION_TITLE } from '../../server/todos/demo.ts';
import { ROLES, isRole } from '../../server/accounts/roles.ts';

describe(`seed-demo: a to-do for every role (${ENGINE})`, function () {
  this.timeout(600_000);
  let t: TestDb;
  before(async () => { t = await migratedDb(); });
  after(async () => { await t?.drop(); });

  it('leaves no role with an empty to-do list, and a re-run adds nothing', async () => {
    const r = await cli(['seed-demo', '--password', 'Demo-Passw0rd-9', '--json'], { ...t.env, EXPORT_DIR: t.cfg.EXPORT_DIR });
    expect(r.code, r.stderr).to.equal(0);
    const accounts: Array<{ account: string; roles: string[] }> = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))).accounts;
    const covered = new Set<string>();
    for (const a of accounts) {
      const u = await t.db('users').where({ account: a.account }).first('id', 'unit_id');
      const list = await todosFor(t.db, t.cfg, { id: Number(u.id), account: a.account, unitId: Number(u.unit_id), roles: a.roles.filter(isRole) });
      if (list.length) a.roles.forEach((x) => covered.add(x));
    }
    expect(ROLES.filter((x) => !covered.has(x))).to.deep.equal([]);
    const r2 = await cli(['seed-demo', '--password', 'Demo-Passw0rd-9', '--json'], { ...t.env, EXPORT_DIR: t.cfg.EXPORT_DIR });
    expect(r2.code, r2.stderr).to.equal(0);
    expect(await t.db('investigations').where({ title: DEMO_INVESTIGATION_TITLE }).count({ n: '*' }).first().then((x: any) => Number(x.n))).to.equal(1);
  });
});
