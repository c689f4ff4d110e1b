// Signed checkpoints of the query log (issue 15): the chain head (seq, hash, entry count, time)
// signed with an Ed25519 key held outside the database, and key-rotation statements. A row
// without a signature is an unsigned checkpoint (development without a key); verify-log counts it
// as a break whenever a public key is available. The retention purge's log_checkpoints stay as
// they are; each purge also signs its checkpoint here.
import type { Knex } from 'knex';
import { sameMeaning } from './lib/schema.ts';

export async function up(knex: Knex): Promise<void> {
  if (await knex.schema.hasTable('signed_checkpoints')) return;
  await knex.schema.createTable('signed_checkpoints', (t) => {
    sameMeaning(knex, t);
    t.increments('id');
    // hourly | retention | print | manual | rotation
    t.string('kind', 16).notNullable();
    // The head signed (null for a rotation statement).
    t.bigInteger('seq').nullable();
    t.string('hash', 64).nullable();
    t.bigInteger('entry_count').nullable();
    t.bigInteger('signed_at').notNullable();
    // The exact text signed; verification reads the fields from it, not from the columns above.
    t.text('payload').notNullable();
    // SHA-256 of the signing public key (SPKI DER), hex; null when unsigned.
    t.string('key_id', 64).nullable();
    t.text('signature').nullable();
    // A rotation statement is signed by the old key and countersigned by the new one.
    t.text('cosignature').nullable();
    t.index(['seq']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('signed_checkpoints');
}
