// Subject conditions: checksums of every ID type (valid and invalid), normalisation, masking,
// keyed HMAC, AES-256-GCM round trip and tamper detection, and the demo ID generators.
import { expect } from 'chai';
import fc from 'fast-check';
import crypto from 'node:crypto';
import {
  isNationalId, isResidentCertificate, subjectProblem, normalise, maskSubject, subjectHmac, encryptSubject, decryptSubject, keyId, cipherKeyId,
  protectSubject, generateNationalId, generateResidentCertificate, SUBJECT_TYPES, entryAad, requestAad, openEntrySubject, matchesHmac, isUnbound, SubjectCipherError,
} from '../../server/queries/subject.ts';
import { legacySubjectCipher } from '../support/fixtures.ts';

// An independent reference: the letter's two-digit code, then weights 1 9 8 7 6 5 4 3 2 1 1.
const CODES = 'ABCDEFGHJKLMNPQRSTUVXYWZIO';
const code = (ch: string) => CODES.indexOf(ch) + 10;
function reference(id: string): boolean {
  const v = id.toUpperCase();
  let second: number;
  if (/^[A-Z][1289]\d{8}$/.test(v)) second = Number(v[1]);
  else if (/^[A-Z][A-D]\d{8}$/.test(v)) second = code(v[1]) % 10;
  else return false;
  const c = code(v[0]);
  const d = [Math.floor(c / 10), c % 10, second, ...v.slice(2).split('').map(Number)];
  return d.reduce((s, x, i) => s + x * [1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1][i], 0) % 10 === 0;
}

describe('subject conditions (被查詢者查詢條件)', () => {
  describe('national ID checksum', () => {
    it('accepts valid IDs, either case, with surrounding spaces', () => {
      for (const id of ['A123456789', 'a123456789', ' F131104093 ', 'B223456789'.replace(/9$/, String((10 - ((1 + 1 * 9 + 2 * 8 + 2 * 7 + 3 * 6 + 4 * 5 + 5 * 4 + 6 * 3 + 7 * 2 + 8) % 10)) % 10))]) {
        expect(isNationalId(id), id).to.equal(true);
      }
    });
    it('refuses a wrong check digit, a wrong sex digit, wrong length or letters', () => {
      for (const id of ['A123456788', 'A323456789', 'A12345678', 'A1234567890', '1123456789', 'AA23456789', '', 'A12345678X']) expect(isNationalId(id), id).to.equal(false);
    });
    it('agrees with an independent implementation on random input', () => {
      fc.assert(fc.property(fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), fc.constantFrom(1, 2), fc.stringMatching(/^\d{8}$/), (l, s, rest) => {
        const id = `${l}${s}${rest}`;
        expect(isNationalId(id)).to.equal(reference(id));
      }), { numRuns: 2000 });
    });
    it('every generated ID is valid; changing one digit breaks it', () => {
      fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 31 }), (seed) => {
        let a = seed;
        const rnd = () => ((a = (a * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
        const id = generateNationalId(rnd);
        expect(isNationalId(id), id).to.equal(true);
        const last = Number(id[9]);
        expect(isNationalId(id.slice(0, 9) + String((last + 1) % 10))).to.equal(false);
      }), { numRuns: 500 });
    });
  });

  describe('resident certificate checksum', () => {
    it('accepts the new format (letter, 8 or 9) and the old format (two letters)', () => {
      for (const id of ['A800000014', 'a800000014', 'AB00000001']) expect(isResidentCertificate(id), id).to.equal(true);
      for (let i = 0; i < 300; i++) {
        const n = generateResidentCertificate(Math.random, 'new');
        const o = generateResidentCertificate(Math.random, 'old');
        expect(isResidentCertificate(n), n).to.equal(true);
        expect(isResidentCertificate(o), o).to.equal(true);
        expect(reference(n) && reference(o)).to.equal(true);
      }
    });
    it('refuses bad checksums and formats, and national IDs', () => {
      for (const id of ['A800000015', 'AB00000002', 'AE00000001', 'A700000014', 'A123456789', 'A80000001']) expect(isResidentCertificate(id), id).to.equal(false);
    });
  });

  describe('validation by type', () => {
    it('names the problem of each type; valid values pass', () => {
      expect(subjectProblem({ type: 'national-id', value: 'A123456789' })).to.equal(null);
      expect(subjectProblem({ type: 'national-id', value: 'A123456788' })).to.contain('檢查碼');
      expect(subjectProblem({ type: 'resident-certificate', value: 'A800000014' })).to.equal(null);
      expect(subjectProblem({ type: 'resident-certificate', value: 'A800000015' })).to.contain('檢查碼');
      expect(subjectProblem({ type: 'name-birthdate', value: '王小明 1980-05-06' })).to.equal(null);
      expect(subjectProblem({ type: 'name-birthdate', value: '王小明，1980-05-06' })).to.equal(null);
      expect(subjectProblem({ type: 'name-birthdate', value: '王小明' })).to.contain('格式');
      expect(subjectProblem({ type: 'name-birthdate', value: '王小明 1980-02-30' })).to.contain('出生日期');
      expect(subjectProblem({ type: 'name-birthdate', value: '王小明 2999-01-01' })).to.contain('範圍');
      expect(subjectProblem({ type: 'other', value: '戶號 12345678' })).to.equal(null);
      expect(subjectProblem({ type: 'other', value: 'x'.repeat(201) })).to.contain('過長');
      expect(subjectProblem({ type: 'other', value: '   ' })).to.contain('請輸入');
      expect(subjectProblem({ type: 'passport' as any, value: 'X' })).to.contain('類型');
    });
    it('takes a ROC birth date as its ISO form, so both find the same person (issue 17)', () => {
      for (const v of ['王小明 69/05/06', '王小明 0690506', '王小明 民國69年5月6日', '王小明 ６９/０５/０６']) {
        expect(normalise({ type: 'name-birthdate', value: v }), v).to.equal('王小明 1980-05-06');
        expect(subjectProblem({ type: 'name-birthdate', value: v }), v).to.equal(null);
      }
      expect(subjectProblem({ type: 'name-birthdate', value: '王小明' })).to.contain('民國年').and.contain('69/05/06');
    });
    it('normalises IDs to upper case and collapses spaces', () => {
      expect(normalise({ type: 'national-id', value: ' a123456789 ' })).to.equal('A123456789');
      expect(normalise({ type: 'name-birthdate', value: '王小明   1980-05-06' })).to.equal('王小明 1980-05-06');
    });
    it('takes full-width IDs (typed by Chinese input methods) as the ASCII ones, and full-width birth dates', () => {
      for (const v of ['Ａ１２３４５６７８９', 'ａ１２３４５６７８９', '　Ａ１２３４５６７８９　', 'A１２３４５６７８９']) {
        expect(normalise({ type: 'national-id', value: v }), v).to.equal('A123456789');
        expect(subjectProblem({ type: 'national-id', value: v }), v).to.equal(null);
        expect(isNationalId(v), v).to.equal(true);
      }
      expect(normalise({ type: 'resident-certificate', value: 'ＡＢ０００００００１' })).to.equal('AB00000001');
      expect(isResidentCertificate('Ａ８００００００１４')).to.equal(true);
      expect(normalise({ type: 'name-birthdate', value: '王小明 １９８０－０５－０６' })).to.equal('王小明 1980-05-06');
      expect(subjectProblem({ type: 'name-birthdate', value: '王小明　１９８０－０５－０６' })).to.equal(null);
      // Names and free text keep their NFC form: their stored HMACs must not move.
      expect(normalise({ type: 'name-birthdate', value: 'ＪＯＨＮ 1980-05-06' })).to.equal('ＪＯＨＮ 1980-05-06');
      expect(normalise({ type: 'other', value: '戶號 １２３' })).to.equal('戶號 １２３');
    });
    it('keeps the HMAC of every ASCII ID as before (HMAC over "id:" and the upper-case ID) and gives the full-width form the same', () => {
      const key = 'k'.repeat(40);
      fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 31 }), (seed) => {
        let a = seed;
        const id = generateNationalId(() => ((a = (a * 1103515245 + 12345) % 2 ** 31) / 2 ** 31));
        const before = crypto.createHmac('sha256', key).update(`id:${id}`).digest('hex');
        const wide = id.replace(/[A-Z0-9]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
        expect(subjectHmac(key, { type: 'national-id', value: id })).to.equal(before);
        expect(subjectHmac(key, { type: 'national-id', value: wide })).to.equal(before);
        expect(subjectHmac(key, { type: 'national-id', value: wide.toLowerCase() })).to.equal(before);
      }), { numRuns: 300 });
    });
    it('says why an ID is refused: its shape, or its check digit', () => {
      expect(subjectProblem({ type: 'national-id', value: 'A12345' })).to.equal('身分證統一編號應為 1 個英文字母加 9 位數字，第 2 碼為 1 或 2');
      expect(subjectProblem({ type: 'national-id', value: 'A323456789' })).to.contain('第 2 碼為 1 或 2');
      expect(subjectProblem({ type: 'national-id', value: 'Ａ１２３４５６７８８' })).to.equal('身分證統一編號的檢查碼不符，請核對是否打錯');
      expect(subjectProblem({ type: 'resident-certificate', value: 'A7' })).to.contain('英文字母加 9 位數字');
      expect(subjectProblem({ type: 'resident-certificate', value: 'A800000015' })).to.contain('檢查碼不符');
    });
    it('refuses text that is not well-formed, control characters and direction overrides in any type', () => {
      for (const x of ['\uD800', '\uDC00', '\u0000', '\u0007', '\u202E', '\u2066']) {
        expect(subjectProblem({ type: 'other', value: `戶號 1${x}2` }), JSON.stringify(x)).to.match(/^被查詢者查詢條件含有/);
        expect(subjectProblem({ type: 'name-birthdate', value: `王${x}明 1980-05-06` }), JSON.stringify(x)).to.match(/^被查詢者查詢條件含有/);
        expect(subjectProblem({ type: 'national-id', value: `A12345${x}6789` }), JSON.stringify(x)).to.match(/^被查詢者查詢條件含有/);
      }
    });
  });

  describe('masking', () => {
    it('shows IDs as A12****789 and names with birth dates without the day and month', () => {
      expect(maskSubject({ type: 'national-id', value: 'a123456789' })).to.equal('A12****789');
      expect(maskSubject({ type: 'resident-certificate', value: 'AB00000001' })).to.equal('AB0****001');
      expect(maskSubject({ type: 'name-birthdate', value: '王小明 1980-05-06' })).to.equal('王*明 1980-**-**');
      expect(maskSubject({ type: 'name-birthdate', value: '王明 1980-05-06' })).to.equal('王* 1980-**-**');
      expect(maskSubject({ type: 'other', value: '戶號 12345678' })).to.equal('戶號******');
      expect(maskSubject({ type: 'other', value: 'ab' })).to.equal('**');
    });
    it('never contains the middle of an ID', () => {
      fc.assert(fc.property(fc.integer({ min: 0, max: 10 ** 6 }), () => {
        const id = generateNationalId();
        expect(maskSubject({ type: 'national-id', value: id })).not.to.contain(id.slice(3, 7));
      }), { numRuns: 200 });
    });
  });

  describe('keyed HMAC', () => {
    const key = 'k'.repeat(40);
    it('is the same for the same person whatever the case, spacing or ID type, and differs by key', () => {
      const a = subjectHmac(key, { type: 'national-id', value: 'A123456789' });
      expect(subjectHmac(key, { type: 'national-id', value: ' a123456789' })).to.equal(a);
      expect(subjectHmac(key, { type: 'resident-certificate', value: 'A123456789' })).to.equal(a);
      expect(subjectHmac('other-key-'.repeat(4), { type: 'national-id', value: 'A123456789' })).not.to.equal(a);
      expect(subjectHmac(key, { type: 'other', value: 'A123456789' })).not.to.equal(a);
      expect(a).to.match(/^[0-9a-f]{64}$/);
    });
  });

  describe('AES-256-GCM', () => {
    const k1 = crypto.randomBytes(32);
    const k2 = crypto.randomBytes(32);
    const aad = entryAad({ user_id: 7, queried_at: 1_700_000_000_000, subject_type: 'national-id', subject_hmac: 'a'.repeat(64) });
    it('round-trips text, uses a fresh IV each time, and names its key', () => {
      const c1 = encryptSubject(k1, '王小明 1980-05-06', aad);
      const c2 = encryptSubject(k1, '王小明 1980-05-06', aad);
      expect(c1).not.to.equal(c2);
      expect(c1).not.to.contain('王小明');
      expect(c1.startsWith(`v2.${keyId(k1)}.`)).to.equal(true);
      expect(decryptSubject([k1], c1, aad)).to.equal('王小明 1980-05-06');
      expect(cipherKeyId(c1)).to.equal(keyId(k1));
      expect(decryptSubject([k2, k1], c1, aad)).to.equal('王小明 1980-05-06');
    });
    it('refuses a missing key, a changed ciphertext, a changed or shortened tag', () => {
      const c = encryptSubject(k1, 'A123456789', aad);
      expect(() => decryptSubject([k2], c, aad)).to.throw(/no key/);
      const parts = c.split('.');
      const flip = (s: string) => { const b = Buffer.from(s, 'base64url'); b[0] ^= 1; return b.toString('base64url'); };
      expect(() => decryptSubject([k1], [...parts.slice(0, 4), flip(parts[4])].join('.'), aad)).to.throw(SubjectCipherError, /does not authenticate/);
      expect(() => decryptSubject([k1], [...parts.slice(0, 3), flip(parts[3]), parts[4]].join('.'), aad)).to.throw(SubjectCipherError, /does not authenticate/);
      const short = Buffer.from(parts[3], 'base64url').subarray(0, 4).toString('base64url');
      expect(() => decryptSubject([k1], [...parts.slice(0, 3), short, parts[4]].join('.'), aad)).to.throw(/malformed/);
      expect(() => decryptSubject([k1], 'v3.x.y.z.w', aad)).to.throw(/unrecognised/);
      // A bound value relabelled as legacy (to skip its associated data) does not open either.
      expect(() => decryptSubject([k1], ['v1', ...parts.slice(1)].join('.'), aad)).to.throw(SubjectCipherError);
    });
    it('a bound value opens only under the identity it was made for: another clerk, time, type or person refuses it', () => {
      const e = { user_id: 7, queried_at: 1_700_000_000_000, subject_type: 'national-id', subject_hmac: 'a'.repeat(64) };
      const c = encryptSubject(k1, 'A123456789', entryAad(e));
      expect(openEntrySubject([k1], { ...e, subject_cipher: c })).to.equal('A123456789');
      // Numbers read back as strings (BIGINT from a driver) are the same identity.
      expect(openEntrySubject([k1], { ...e, user_id: '7', queried_at: '1700000000000', subject_cipher: c })).to.equal('A123456789');
      for (const other of [{ user_id: 8 }, { queried_at: 1_700_000_000_001 }, { subject_type: 'resident-certificate' }, { subject_hmac: 'b'.repeat(64) }]) {
        expect(() => openEntrySubject([k1], { ...e, ...other, subject_cipher: c }), JSON.stringify(other)).to.throw(SubjectCipherError, /does not authenticate/);
      }
      // A form's expected subjects are bound to the form, and neither kind opens as the other.
      const f = requestAad({ requester_id: 7, created_at: 1_700_000_000_000 });
      const fc1 = encryptSubject(k1, '[]', f);
      expect(decryptSubject([k1], fc1, requestAad({ requester_id: '7', created_at: '1700000000000' }))).to.equal('[]');
      expect(() => decryptSubject([k1], fc1, requestAad({ requester_id: 8, created_at: 1_700_000_000_000 }))).to.throw(SubjectCipherError);
      expect(() => decryptSubject([k1], fc1, entryAad(e))).to.throw(SubjectCipherError);
    });
    it('a legacy (v1, unbound) value still decrypts anywhere; only its HMAC ties it to an entry', () => {
      const legacy = legacySubjectCipher(k1, 'A123456789');
      expect(isUnbound(legacy)).to.equal(true);
      expect(isUnbound(encryptSubject(k1, 'A123456789', aad))).to.equal(false);
      expect(decryptSubject([k2, k1], legacy, aad)).to.equal('A123456789');
      const hmacKey = 'h'.repeat(40);
      const row = { subject_type: 'national-id', subject_hmac: subjectHmac(hmacKey, { type: 'national-id', value: 'A123456789' }) };
      expect(matchesHmac(hmacKey, row, decryptSubject([k1], legacy, aad))).to.equal(true);
      expect(matchesHmac(hmacKey, row, 'F131104093')).to.equal(false);
      expect(matchesHmac(hmacKey, { ...row, subject_type: 'resident-certificate' }, 'A123456789')).to.equal(true); // one key space for IDs
    });
    it('protectSubject gives the stored columns: type, HMAC, ciphertext bound to the entry, mask', () => {
      for (const type of SUBJECT_TYPES) {
        const value = type === 'national-id' ? 'A123456789' : type === 'resident-certificate' ? 'A800000014' : type === 'name-birthdate' ? '陳大文 1975-01-02' : '戶號 55667788';
        const at = { user_id: 3, queried_at: 1_700_000_123_456 };
        const p = protectSubject({ enc: k1, hmac: 'h'.repeat(40) }, { type, value }, at);
        expect(p.subject_type).to.equal(type);
        expect(p.subject_hmac).to.have.length(64);
        expect(openEntrySubject([k1], { ...at, ...p })).to.equal(value);
        expect(() => openEntrySubject([k1], { ...at, ...p, user_id: 4 })).to.throw(SubjectCipherError);
        expect(p.subject_mask.length).to.be.at.most(64);
        expect(p.subject_mask).not.to.equal(value);
      }
    });
  });
});
