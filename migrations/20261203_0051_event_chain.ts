// System events chained like the query log (server/events/chain.ts): each row gets seq, prev_hash
// and hash, and a one-row head that appenders lock. Rows recorded before this migration are
// chained once, in id order; a re-run finds the chain complete (its head moved) and leaves it
// alone, so it never adopts a row inserted by hand later.
import type { Knex } from 'knex';
import { sameMeaning, hasIndex } from './lib/schema.ts';
import { lockChainHead } from '../server/hashchain.ts';
import { EVENT_GENESIS, eventHash, type EventFields } from '../server/events/chain.ts';

export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasColumn('system_events', 'seq'))) {
    await knex.schema.alterTable('system_events', (t) => {
      // Null only for a row that never went through the chain: verification reports it.
      t.bigInteger('seq').nullable();
      t.string('prev_hash', 64).nullable();
      t.string('hash', 64).nullable();
    });
  }
  if (!(await hasIndex(knex, 'system_events', 'system_events_seq_unique'))) {
    await knex.schema.alterTable('system_events', (t) => t.unique(['seq'], { indexName: 'system_events_seq_unique' }));
  }
  if (!(await knex.schema.hasTable('event_chain_head'))) {
    // Single row (id = 1): the last seq and hash. Appenders lock it, which serialises the chain.
    await knex.schema.createTable('event_chain_head', (t) => {
      sameMeaning(knex, t);
      t.integer('id').primary();
      t.bigInteger('seq').notNullable();
      t.string('hash', 64).notNullable();
      t.bigInteger('updated_at').notNullable();
    });
  }
  const chainExisting = async (trx: Knex.Transaction) => {
    if (!(await trx('event_chain_head').where({ id: 1 }).first('id'))) await trx('event_chain_head').insert({ id: 1, seq: 0, hash: EVENT_GENESIS, updated_at: Date.now() });
    const head = await lockChainHead(trx, 'event_chain_head');
    if (Number(head!.seq) > 0) return;
    // Not chained yet: start over, so a run that failed part-way leaves nothing half-chained (on
    // MariaDB the DDL above has ended knex's transaction, so these updates commit one by one).
    await trx('system_events').whereNotNull('seq').update({ seq: null, prev_hash: null, hash: null });
    let seq = 0;
    let prev = EVENT_GENESIS;
    let after = 0;
    for (;;) {
      const rows: Array<EventFields & { id: number }> = await trx('system_events').whereNull('seq').andWhere('id', '>', after).orderBy('id').limit(1000)
        .select('id', 'at', 'actor_id', 'actor_account', 'action', 'outcome', 'target_type', 'target_id', 'unit_id', 'ip', 'detail');
      if (!rows.length) break;
      for (const r of rows) {
        seq += 1;
        const hash = eventHash(prev, { ...r, seq });
        await trx('system_events').where({ id: r.id }).update({ seq, prev_hash: prev, hash });
        prev = hash;
        after = Number(r.id);
      }
    }
    await trx('event_chain_head').where({ id: 1 }).update({ seq, hash: prev, updated_at: Date.now() });
  };
  // Inside knex's migration transaction (knex migrate); called on its own, in a transaction of its own.
  if ((knex as any).isTransaction) await chainExisting(knex as Knex.Transaction);
  else await knex.transaction(chainExisting);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('event_chain_head');
  if (await knex.schema.hasColumn('system_events', 'seq')) {
    if (await hasIndex(knex, 'system_events', 'system_events_seq_unique')) await knex.schema.alterTable('system_events', (t) => t.dropUnique(['seq'], 'system_events_seq_unique'));
    await knex.schema.alterTable('system_events', (t) => {
      t.dropColumn('seq');
      t.dropColumn('prev_hash');
      t.dropColumn('hash');
    });
  }
}
