// rotate-subject-key and source records (issue 16) on both databases: a record's subject ciphertext
// moves from the previous key to the new one, still bound to its own import and row; a ciphertext
// that does not open under its record's identity (copied from another record) is left as it is and
// counted; records without a ciphertext (count-only sources) are not touched; a second run changes nothing.
import crypto from 'node:crypto';
import { expect } from 'chai';
import { ENGINE, migratedDb, testConfig, type TestDb } from '../support/db.ts';
import { makeUser, nationalId, seedTree } from '../support/fixtures.ts';
import { rotateSubjectKey } from '../../server/queries/service.ts';
import { cipherKeyId, decryptSubject, encryptSubject, keyId, maskSubject, subjectHmac, SubjectCipherError } from '../../server/queries/subject.ts';
import { sourceRecordAad } from '../../server/reconcile/rules.ts';

describe(`subject key rotation of source records (${ENGINE})`, function () {
  this.timeout(120_000);
  let t: TestDb;
  after(() => t?.drop());

  it('re-encrypts each record under the new key bound to its row, leaves a moved ciphertext and counted, skips counts, idempotent', async () => {
    t = await migratedDb();
    const tree = await seedTree(t.db);
    const clerk = await makeUser(t.db, { account: 'clerk.r', unitId: tree.AG1, roles: ['clerk'] });
    const oldKey = t.cfg.subjectEncKey;
    const ts = Date.now();
    const [source] = await t.db('reconcile_sources').insert({ code: 'NHI', name: '健保署', kind: 'records', complete: false, unit_id: null, created_at: ts });
    const [mapping] = await t.db('reconcile_mappings').insert({ source_id: source, version: 1, columns: '{}', encoding: 'utf-8', date_style: 'ad', header_row: 1, created_at: ts });
    const [imp] = await t.db('reconcile_imports').insert({ source_id: source, mapping_id: mapping, unit_id: tree.AG1, period: '2026-03', file_name: 'a.csv', file_sha256: '1'.repeat(64), row_count: 4, via: 'cli', imported_at: ts });
    const values = [nationalId(301), nationalId(302), nationalId(303)];
    const ids: number[] = [];
    for (const [i, value] of values.entries()) {
      const s = { type: 'national-id' as const, value };
      const row = { import_id: Number(imp), row_no: i + 2, subject_type: s.type, subject_hmac: subjectHmac(t.cfg.SUBJECT_HMAC_KEY, s) };
      const [id] = await t.db('source_records').insert({
        ...row, source_account: 'N1', user_id: clerk, occurred_at: ts, subject_cipher: encryptSubject(oldKey, value, sourceRecordAad(row)), subject_mask: maskSubject(s), op_code: 'IN01', count: null,
      });
      ids.push(Number(id));
    }
    // The third record carries the first one's ciphertext: it opens only under the first's identity.
    const first = await t.db('source_records').where({ id: ids[0] }).first();
    await t.db('source_records').where({ id: ids[2] }).update({ subject_cipher: first.subject_cipher });
    // A count-only row: no subject, no ciphertext.
    await t.db('source_records').insert({ import_id: imp, row_no: 5, source_account: 'N1', user_id: clerk, occurred_at: ts, subject_type: null, subject_hmac: null, subject_cipher: null, subject_mask: null, op_code: null, count: 3 });
    const moved = (await t.db('source_records').where({ id: ids[2] }).first()).subject_cipher;

    const cfg2 = testConfig(t.env, { SUBJECT_ENC_KEY: crypto.randomBytes(32).toString('base64'), SUBJECT_ENC_KEY_PREVIOUS: oldKey.toString('base64') });
    const r = await rotateSubjectKey(t.db, cfg2, { batch: 1 });
    expect(r).to.deep.equal({ queryLogs: 0, queryRequests: 0, sourceRecords: 2 });

    const rows = await t.db('source_records').whereIn('id', ids).orderBy('id');
    for (const [i, row] of rows.slice(0, 2).entries()) {
      expect(cipherKeyId(row.subject_cipher)).to.equal(keyId(cfg2.subjectEncKey));
      // The new key alone opens it, and only under its own record's identity.
      expect(decryptSubject([cfg2.subjectEncKey], row.subject_cipher, sourceRecordAad(row))).to.equal(values[i]);
      expect(() => decryptSubject([cfg2.subjectEncKey], row.subject_cipher, sourceRecordAad(rows[1 - i]))).to.throw(SubjectCipherError);
    }
    expect(rows[2].subject_cipher).to.equal(moved);
    expect(await t.db('source_records').whereNull('subject_cipher').count({ n: '*' }).first()).to.deep.include({ n: 1 });
    const ev = await t.db('system_events').where({ action: 'subject-key.rotate' }).orderBy('id', 'desc').first();
    expect(JSON.parse(ev.detail)).to.include({ sourceRecords: 2, left: 1 });

    expect(await rotateSubjectKey(t.db, cfg2)).to.deep.equal({ queryLogs: 0, queryRequests: 0, sourceRecords: 0 });
  });
});
