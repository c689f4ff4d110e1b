// The ethics unit sees the log's proofs (issue 15): the key's fingerprint, the signed checkpoints
// each marked when the witness holds it, and the witness files, which it downloads to keep its own
// copy. Only county-wide holders see the county's chain; a bad file name is simply not found.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { ENGINE, migratedDb } from '../support/db.ts';
import { appFor, getFile, signIn } from '../support/app.ts';
import { makeKeys } from '../support/keys.ts';
import { makeUser, recordTestEntries, seedTree } from '../support/fixtures.ts';
import { recordCheckpoint } from '../../server/queries/checkpoints.ts';
import { localMonth } from '../../server/time.ts';

describe(`integrity page for the ethics unit (${ENGINE})`, function () {
  this.timeout(120_000);
  it('shows the key, the checkpoints as witnessed and the witness files; the file downloads; out of reach is not found', async () => {
    const k = makeKeys();
    const t = await migratedDb({ CHECKPOINT_KEY_FILE: k.privateFile, WITNESS_DIR: k.witness });
    const tree = await seedTree(t.db);
    const clerk = await makeUser(t.db, { account: 'clerk.a', unitId: tree.AG1, roles: ['clerk'] });
    await makeUser(t.db, { account: 'ethics.county', unitId: tree.PLAN, roles: ['ethics'] });
    await makeUser(t.db, { account: 'ethics.ag1', unitId: tree.AG1, roles: ['ethics'] });
    await recordTestEntries(t.db, t.cfg, [{ userId: clerk, account: 'clerk.a', unitId: tree.AG1, queriedAt: Date.now() - 60_000 }]);
    const cp = await recordCheckpoint(t.db, t.cfg, 'manual');
    // One checkpoint only in the database (its witness line lost): not marked witnessed.
    const lost = await recordCheckpoint(t.db, { CHECKPOINT_KEY_FILE: k.privateFile, WITNESS_DIR: path.join(k.dir, 'elsewhere') }, 'manual');
    const app = appFor(t);
    const e = await signIn(app, 'ethics.county');
    const api = await e.agent.get('/api/v1/checkpoints');
    expect(api.status).to.equal(200);
    const byId = new Map(api.body.items.map((i: any) => [i.id, i]));
    expect(byId.get(cp.id)).to.include({ signed: true, witnessed: true, seq: 1 });
    expect(byId.get(lost.id)).to.include({ signed: true, witnessed: false });
    const name = `witness-${localMonth(Date.now())}.jsonl`;
    expect(api.body.witness.map((f: any) => [f.name, f.lines])).to.deep.equal([[name, 1]]);
    const page = await e.agent.get('/integrity');
    expect(page.text).to.contain(cp.keyId!).and.contain('已見證').and.contain('見證檔中查無').and.contain(name);
    const file = await getFile(e.agent, `/integrity/witness/${name}`);
    expect(file.status).to.equal(200);
    expect(file.body.toString('utf8')).to.equal(fs.readFileSync(path.join(k.witness, name), 'utf8'));
    expect((await e.agent.get('/integrity/witness/..%2F..%2Fcheckpoint.pem')).status).to.equal(404);
    expect((await e.agent.get('/integrity/witness/witness-1999-01.jsonl')).status).to.equal(404);
    // An agency's ethics officer does not see the county's chain.
    const a = await signIn(app, 'ethics.ag1');
    expect((await a.agent.get('/api/v1/checkpoints')).status).to.equal(404);
    expect((await a.agent.get(`/integrity/witness/${name}`)).status).to.equal(404);
    fs.rmSync(k.dir, { recursive: true, force: true });
    await t.drop();
  });
});
