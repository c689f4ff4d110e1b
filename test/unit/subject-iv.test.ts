// Subject ciphertexts draw their GCM IVs from a pooled CSPRNG buffer (subject.ts, freshIv): across
// many pool refills every IV must be new, and every ciphertext must be exactly AES-256-GCM of its
// plaintext under its IV and associated data (nothing stored changes with the pooling).
import { expect } from 'chai';
import crypto from 'node:crypto';
import { decryptSubject, encryptSubject, entryAad } from '../../server/queries/subject.ts';

describe('subject ciphertext IVs', () => {
  it('are never repeated across pool refills, and each ciphertext is AES-256-GCM of its value under its IV and associated data', () => {
    const key = crypto.randomBytes(32);
    const ivs = new Set<string>();
    const n = 5000; // about ten refills of the pool
    for (let i = 0; i < n; i++) {
      const plain = `A1${String(i).padStart(8, '0')}`;
      const aad = entryAad({ user_id: 7, queried_at: 1_700_000_000_000 + i, subject_type: 'national-id', subject_hmac: 'f'.repeat(64) });
      const token = encryptSubject(key, plain, aad);
      const [v, , iv, tag, ct] = token.split('.');
      expect(v).to.equal('v2');
      ivs.add(iv);
      // The reference encryption under the same IV gives the same bytes.
      const ref = crypto.createCipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      ref.setAAD(Buffer.from(aad, 'utf8'));
      const refCt = Buffer.concat([ref.update(plain, 'utf8'), ref.final()]);
      expect(ct).to.equal(refCt.toString('base64url'));
      expect(tag).to.equal(ref.getAuthTag().toString('base64url'));
      expect(decryptSubject([key], token, aad)).to.equal(plain);
    }
    expect(ivs.size).to.equal(n);
  });
});
