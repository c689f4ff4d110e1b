// The request boundary as plain functions: which text is refused (server/text.ts), the walk over a
// parsed body naming each field, and the JSON depth scan that runs before the parser.
import { expect } from 'chai';
import fc from 'fast-check';
import { isWellFormed, textProblem } from '../../server/text.ts';
import { jsonTooDeep, textFieldErrors, MAX_JSON_DEPTH } from '../../server/web/validate.ts';

const bytes = (s: string) => Buffer.from(s, 'utf8');

describe('text at the boundary', () => {
  it('agrees with String.prototype.isWellFormed on any UTF-16 string', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), fc.array(fc.integer({ min: 0xd800, max: 0xdfff }), { maxLength: 3 }), (s, lone) => {
      const x = s + String.fromCharCode(...lone);
      expect(isWellFormed(x)).to.equal((x as unknown as { isWellFormed(): boolean }).isWellFormed());
    }), { numRuns: 2000 });
  });

  it('refuses lone surrogates, C0 (except tab, LF, CR in multi-line text), DEL, C1 and direction overrides; accepts everything else', () => {
    for (const c of ['\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\u0000', '\u0007', '\u001B', '\u007F', '\u0080', '\u009F', '\u202A', '\u202E', '\u2066', '\u2069']) {
      expect(textProblem(`a${c}b`, { multiline: true }), JSON.stringify(c)).to.be.a('string');
    }
    for (const c of ['\t', '\n', '\r']) {
      expect(textProblem(`a${c}b`, { multiline: true })).to.equal(null);
      expect(textProblem(`a${c}b`)).to.contain('控制字元');
    }
    for (const s of ['臺灣', '\uD842\uDFB7', '👨‍👩‍👧', 'e\u0301', '\uFFFD', '\u200E\u200F', 'שלום', '\u00A0', '\uFEFF', '<script>']) expect(textProblem(s), JSON.stringify(s)).to.equal(null);
  });

  it('names each bad field by its path, keys included, and nothing else', () => {
    const body = { caseNo: 'ok', reason: 'a\u202Eb', subject: { type: 'other', value: 'x\u0000' }, entries: [{ note: 'fine' }, { note: '\uDC00' }], ['k\u2066']: 1 };
    expect(textFieldErrors(body).map((e) => e.field)).to.have.members(['reason', 'subject.value', 'entries.1.note', 'body']);
    expect(textFieldErrors({ a: ['x', 'y\u0007'] })).to.deep.equal([{ field: 'a.1', message: '含有不可用的控制字元' }]);
    expect(textFieldErrors({ reason: '第一行\r\n第二行\t' })).to.deep.equal([]);
    expect(textFieldErrors(undefined)).to.deep.equal([]);
    expect(textFieldErrors(Array.from({ length: 100 }, () => '\u0000'))).to.have.length(20);
  });
});

describe('JSON nesting depth, before parsing', () => {
  const nested = (d: number) => '['.repeat(d) + ']'.repeat(d);
  it(`allows ${MAX_JSON_DEPTH} levels and refuses one more, of arrays or objects`, () => {
    expect(jsonTooDeep(bytes(nested(MAX_JSON_DEPTH)), MAX_JSON_DEPTH)).to.equal(false);
    expect(jsonTooDeep(bytes(nested(MAX_JSON_DEPTH + 1)), MAX_JSON_DEPTH)).to.equal(true);
    expect(jsonTooDeep(bytes('{"a":'.repeat(33) + '1' + '}'.repeat(33)), 32)).to.equal(true);
    expect(jsonTooDeep(bytes('[[1],[2],[3],{"a":[4]}]'), 3)).to.equal(false);
    expect(jsonTooDeep(bytes('[[1],[2],[3],{"a":[4]}]'), 2)).to.equal(true);
  });
  it('does not count brackets inside strings, escaped quotes included, nor inside multi-byte characters', () => {
    expect(jsonTooDeep(bytes(JSON.stringify({ a: '['.repeat(100), b: '\\"[[[[', c: '「［｛」' })), 2)).to.equal(false);
    expect(jsonTooDeep(bytes(`["\\\\", ${nested(5)}]`), 5)).to.equal(true);
  });
  it('agrees with the parsed depth on random JSON', () => {
    const depth = (v: unknown): number => (v && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v as object).map(depth)) : 0);
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 9 }), (v, max) => {
      expect(jsonTooDeep(bytes(JSON.stringify(v)), max)).to.equal(depth(v) > max);
    }), { numRuns: 1000 });
  });
});
