// Tamper evidence of the system events (sign-ins, grants, exports, reveals, searches, job runs) on
// this database: every event is chained as it is recorded, in the caller's transaction or one of
// its own; verifyEvents finds an edit, a delete, an insert outside the chain, a reorder and a swap
// of whole rows between ids, and reports every break; the migration chains older rows once.
import { expect } from 'chai';
import { ENGINE, freshDb, migratedDb, type TestDb } from '../support/db.ts';
import { createDb } from '../../server/db.ts';
import { recordEvent, SYSTEM_ACTOR, verifyEvents } from '../../server/events/service.ts';
import { runJob } from '../../jobs/runner.ts';
import { monthPeriod } from '../../jobs/periods.ts';
import type { JobDef } from '../../jobs/registry.ts';
import * as eventChainMigration from '../../migrations/20261203_0051_event_chain.ts';

const MIGRATION = '20261203_0051_event_chain';
const actor = { id: 7, account: 'ev.admin', ip: '10.1.2.3' };

async function withEvents(n: number): Promise<{ t: TestDb; ids: number[] }> {
  const t = await migratedDb();
  for (let i = 0; i < n; i++) await recordEvent(t.db, actor, { action: 'permission-change', targetType: 'user', targetId: 100 + i, unitId: 3, detail: { n: i, roles: ['clerk'] } });
  const ids = (await t.db('system_events').orderBy('id').pluck('id')).map(Number);
  return { t, ids };
}

describe(`system event chain (${ENGINE})`, function () {
  this.timeout(120_000);

  it('chains every recorded event, in the caller\'s transaction or its own; a rolled-back event leaves no trace', async () => {
    const t = await migratedDb();
    await recordEvent(t.db, actor, { action: 'login', outcome: 'failed', detail: { reason: 'wrong-password' } });
    await t.db.transaction(async (trx) => {
      await recordEvent(trx, actor, { action: 'unit-create', targetType: 'unit', targetId: 5, unitId: 5 });
      await recordEvent(trx, SYSTEM_ACTOR, { action: 'query-log.export', detail: { rows: 3 } });
    });
    await t.db.transaction(async (trx) => {
      await recordEvent(trx, actor, { action: 'handover' });
      throw new Error('rolled back');
    }).catch(() => undefined);
    // A sign-in name with a lone surrogate is stored well-formed, so its hash still holds.
    await recordEvent(t.db, { id: null, account: 'bad\uD800name', ip: null }, { action: 'login', outcome: 'failed' });
    const rows = await t.db('system_events').orderBy('id').select('seq', 'prev_hash', 'hash', 'action');
    expect(rows.map((r: any) => [Number(r.seq), r.action])).to.deep.equal([[1, 'login'], [2, 'unit-create'], [3, 'query-log.export'], [4, 'login']]);
    expect(rows[1].prev_hash).to.equal(rows[0].hash);
    const v = await verifyEvents(t.db);
    expect(v, JSON.stringify(v.breaks)).to.deep.include({ ok: true, count: 4, headSeq: 4, headHash: rows[3].hash, breaks: [] });
    await t.drop();
  });

  it('parallel recorders (from two pools on MariaDB) keep one unbroken chain', async () => {
    const t = await migratedDb();
    // better-sqlite3 waits for a lock synchronously, so a second pool in this process would wait on
    // the first for ever; SQLite instances are processes of their own.
    const other = ENGINE === 'mysql' ? createDb(t.cfg) : t.db;
    try {
      await Promise.all(Array.from({ length: 40 }, (_, i) => {
        const conn = i % 2 ? other : t.db;
        // Half in transactions of their own with another write before the event (the usual shape).
        return i % 4 < 2
          ? recordEvent(conn, actor, { action: 'query-log.subject-search', detail: { i } })
          : conn.transaction(async (trx) => {
            await trx('county_settings').insert({ key: `k${i}`, value: 'v', updated_at: Date.now() });
            await recordEvent(trx, actor, { action: 'settings', detail: { i } });
          });
      }));
      const v = await verifyEvents(t.db);
      expect(v.breaks).to.deep.equal([]);
      expect(v.count).to.equal(40);
    } finally {
      if (other !== t.db) await other.destroy();
    }
    await t.drop();
  });

  it('a failed job run records a job-run event too', async () => {
    const t = await migratedDb();
    const job: JobDef = { name: 'failing', ...monthPeriod, run: async () => { throw new Error('boom'); } };
    const out = await runJob({ cfg: t.cfg, db: t.db }, job, { period: '2025-03' });
    expect(out.status).to.equal('failed');
    const ev = await t.db('system_events').where({ action: 'job-run', target_id: 'failing:2025-03' }).first();
    expect(ev?.outcome).to.equal('failed');
    expect((await verifyEvents(t.db)).ok).to.equal(true);
    await t.drop();
  });

  const cases: Array<[string, (t: TestDb, ids: number[]) => Promise<number | null>]> = [
    ['an edited action', async (t, ids) => { await t.db('system_events').where({ id: ids[4] }).update({ action: 'login' }); return ids[4]; }],
    ['an edited detail', async (t, ids) => { await t.db('system_events').where({ id: ids[2] }).update({ detail: '{"n":2,"roles":["auditor"]}' }); return ids[2]; }],
    ['an edited time', async (t, ids) => { await t.db('system_events').where({ id: ids[6] }).update({ at: 1 }); return ids[6]; }],
    ['a deleted event in the middle', async (t, ids) => { await t.db('system_events').where({ id: ids[5] }).del(); return ids[6]; }],
    ['a deleted last event', async (t, ids) => { await t.db('system_events').where({ id: ids[ids.length - 1] }).del(); return null; }],
    ['an event inserted without the chain', async (t) => {
      const [id] = await t.db('system_events').insert({ at: Date.now(), actor_account: 'forged', action: 'login', outcome: 'ok' });
      return Number(id);
    }],
    ['an event inserted beyond the head with a computed hash', async (t, ids) => {
      const last = await t.db('system_events').where({ id: ids[ids.length - 1] }).first();
      const [id] = await t.db('system_events').insert({ at: Date.now(), actor_account: 'forged', action: 'login', outcome: 'ok', seq: Number(last.seq) + 1, prev_hash: last.hash, hash: 'a'.repeat(64) });
      return Number(id);
    }],
    ['two events reordered (seqs swapped)', async (t, ids) => {
      const [a, b] = await Promise.all([ids[3], ids[4]].map((id) => t.db('system_events').where({ id }).first('seq')));
      await t.db('system_events').where({ id: ids[3] }).update({ seq: -1 });
      await t.db('system_events').where({ id: ids[4] }).update({ seq: a.seq });
      await t.db('system_events').where({ id: ids[3] }).update({ seq: b.seq });
      return ids[4];
    }],
    ['two whole rows swapped between ids (seq and hashes included)', async (t, ids) => {
      const cols = ['at', 'actor_id', 'actor_account', 'action', 'outcome', 'target_type', 'target_id', 'unit_id', 'ip', 'detail', 'seq', 'prev_hash', 'hash'];
      const [a, b] = await Promise.all([ids[2], ids[5]].map((id) => t.db('system_events').where({ id }).first(cols)));
      await t.db('system_events').where({ id: ids[2] }).update({ seq: null });
      await t.db('system_events').where({ id: ids[5] }).update(a);
      await t.db('system_events').where({ id: ids[2] }).update(b);
      return ids[3]; // walking by seq, the first id out of order
    }],
  ];
  for (const [name, tamper] of cases) {
    it(`detects ${name} and names the first bad event`, async () => {
      const { t, ids } = await withEvents(10);
      expect((await verifyEvents(t.db)).ok).to.equal(true);
      const bad = await tamper(t, ids);
      const v = await verifyEvents(t.db, { pageSize: 3 });
      expect(v.ok).to.equal(false);
      expect(v.breaks[0].id, JSON.stringify(v.breaks)).to.equal(bad);
      await t.drop();
    });
  }

  it('an event appended while the check runs is never taken for one inserted outside the chain', async () => {
    const { t } = await withEvents(4);
    try {
      // The append commits right after the check reads the head a second time (when it does):
      // reading the head before the rows beyond it would count the new row as inserted.
      let headReads = 0;
      const spy: any = (table: string) => {
        const qb: any = t.db(table);
        if (table !== 'event_chain_head' || ++headReads !== 2) return qb;
        const first = qb.first.bind(qb);
        qb.first = (...cols: string[]) => {
          const q = first(...cols);
          return { then: (ok: any, bad: any) => q.then(async (row: unknown) => { await recordEvent(t.db, SYSTEM_ACTOR, { action: 'lockout' }); return row; }).then(ok, bad) };
        };
        return qb;
      };
      // And one that commits while the walk is under way (before any second read).
      await recordEvent(t.db, SYSTEM_ACTOR, { action: 'login' });
      const v = await verifyEvents(spy);
      expect(v.breaks, JSON.stringify(v.breaks)).to.deep.equal([]);
      expect(v.ok).to.equal(true);
      expect((await verifyEvents(t.db)).ok, 'and the next run verifies the new ones').to.equal(true);
    } finally {
      await t.drop();
    }
  });

  it('reports every break, not only the first', async () => {
    const { t, ids } = await withEvents(10);
    await t.db('system_events').where({ id: ids[1] }).update({ outcome: 'denied' });
    await t.db('system_events').where({ id: ids[8] }).update({ ip: '10.9.9.9' });
    const v = await verifyEvents(t.db);
    expect(v.breaks.map((b) => b.id)).to.deep.equal([ids[1], ids[8]]);
    expect(v.breaks[0].reason).to.match(/changed/);
    await t.drop();
  });

  it('the migration chains the events recorded before it once, in id order, and adopts no later row', async () => {
    const t = await freshDb();
    for (;;) {
      const [, pending] = await t.db.migrate.list();
      const next = pending[0] as unknown as string | { file: string } | undefined;
      if (!next || (typeof next === 'string' ? next : next.file).startsWith(MIGRATION)) break;
      await t.db.migrate.up();
    }
    expect(await t.db.schema.hasColumn('system_events', 'seq')).to.equal(false);
    for (let i = 0; i < 5; i++) await t.db('system_events').insert({ at: 1_700_000_000_000 + i, actor_account: `old${i}`, action: 'login', outcome: 'ok', detail: i % 2 ? null : JSON.stringify({ i }) });
    await t.db.migrate.latest();
    const rows = await t.db('system_events').orderBy('id').select('seq');
    expect(rows.map((r: any) => Number(r.seq))).to.deep.equal([1, 2, 3, 4, 5]);
    await recordEvent(t.db, actor, { action: 'after-migration' });
    const v = await verifyEvents(t.db);
    expect(v, JSON.stringify(v.breaks)).to.deep.include({ ok: true, count: 6 });
    // Run again (as after a failure part-way): a row slipped in by hand stays outside the chain.
    const [forged] = await t.db('system_events').insert({ at: Date.now(), actor_account: 'forged', action: 'login', outcome: 'ok' });
    await eventChainMigration.up(t.db);
    const again = await verifyEvents(t.db);
    expect(again.count).to.equal(6);
    expect(again.breaks.map((b) => b.id)).to.deep.equal([Number(forged)]);
    await t.drop();
  });
});
