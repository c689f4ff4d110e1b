import { expect } from 'chai';
import { ENGINE, freshDb, type TestDb } from '../support/db.ts';
import { isMysql } from '../../server/db.ts';

describe(`migrations (${ENGINE})`, () => {
  let t: TestDb;
  before(async () => {
    t = await freshDb();
  });
  after(() => t.drop());

  it('go up, down and up again cleanly', async () => {
    const [, first] = await t.db.migrate.latest();
    expect(first.length).to.be.greaterThan(1);
    expect(await t.db.schema.hasTable('query_logs')).to.equal(true);
    await t.db.migrate.rollback(undefined, true);
    for (const table of ['units', 'users', 'query_logs', 'job_runs', 'system_events', 'sessions']) {
      expect(await t.db.schema.hasTable(table), table).to.equal(false);
    }
    const [, again] = await t.db.migrate.latest();
    expect(again).to.deep.equal(first);
    const [, none] = await t.db.migrate.latest();
    expect(none).to.deep.equal([]);
  });

  it('seeds the business scopes of clause 2 (一)–(十二) with (六) inactive', async () => {
    const scopes = await t.db('scopes').orderBy('sort');
    expect(scopes.map((s: any) => s.code)).to.deep.equal(['2-1', '2-2', '2-3', '2-4', '2-5', '2-6', '2-7', '2-8', '2-9', '2-10', '2-11', '2-12']);
    const deleted = scopes.find((s: any) => s.code === '2-6');
    expect(Boolean(deleted.active)).to.equal(false);
    expect(scopes.filter((s: any) => s.active).length).to.equal(11);
    const tax = scopes.find((s: any) => s.code === '2-2');
    expect(tax.legal_basis).to.contain('稅捐稽徵法');
    expect(scopes.every((s: any) => s.legal_basis.length > 0)).to.equal(true);
  });

  it('seeds a starter catalogue of operation codes', async () => {
    const codes = await t.db('op_codes').pluck('code');
    expect(codes).to.include.members(['IN01', 'AD01']);
  });

  it('stores instants one way: integer epoch milliseconds, no TIMESTAMP columns', async () => {
    if (isMysql(t.db)) {
      const dbName = (await t.db.raw('select database() as d'))[0][0].d;
      const [rows] = await t.db.raw("select table_name as t, column_name as c, data_type as d from information_schema.columns where table_schema = ? and data_type in ('timestamp','datetime','date') and table_name not like 'knex_migrations%'", [dbName]);
      expect(rows, JSON.stringify(rows)).to.deep.equal([]);
      const [cols] = await t.db.raw("select data_type as d from information_schema.columns where table_schema = ? and table_name = 'users' and column_name = 'created_at'", [dbName]);
      expect(cols[0].d).to.equal('bigint');
    } else {
      const cols = await t.db.raw("select name, type from pragma_table_info('users') where name like '%_at'");
      for (const c of cols) expect(c.type, c.name).to.match(/bigint|integer/i);
    }
    await t.db('units').insert({ code: 'X', name: 'x', kind: 'planning', created_at: 1_700_000_000_123 });
    const row = await t.db('units').where({ code: 'X' }).first();
    expect(row.created_at).to.equal(1_700_000_000_123);
  });
});
