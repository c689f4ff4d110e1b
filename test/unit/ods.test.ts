// The ODS writer's text (reports/ods.ts): what ODF's white-space rules would collapse or drop is
// written so it reads back exactly; characters XML cannot hold are gone, in both formats alike.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addInertRow, streamingWorkbook } from '../../reports/cells.ts';
import { cleanText, inlineText, readOds } from '../../reports/ods.ts';

describe('ODS text cells', () => {
  it('writes spaces that ODF would collapse (leading, trailing, runs) as text:s, tabs as text:tab', () => {
    expect(inlineText('a b')).to.equal('a b');
    expect(inlineText(' a  b ')).to.equal('<text:s/>a <text:s/>b<text:s/>');
    expect(inlineText('a\t b')).to.equal('a<text:tab/><text:s/>b');
    expect(inlineText('<&>')).to.equal('&lt;&amp;&gt;');
  });

  it('drops control characters and lone surrogates, and turns CR LF and CR into LF', () => {
    expect(cleanText('a\r\nb\rc\u0001d\u001fe\ud800f\ufffe')).to.equal('a\nb\ncdef');
    expect(cleanText('😀 tab\tand\nline')).to.equal('😀 tab\tand\nline');
  });

  it('reads back every cell as written: numbers, formula-like text, spaces, tabs, lines, long text', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-ods-unit-'));
    try {
      const file = path.join(dir, 'x.ods');
      const values = [[1, '=1+1', '  two  ', 'a\tb\nc', 'x'.repeat(70_000), '@A1', 3.25, '', '末']];
      const wb = streamingWorkbook({ filename: file }, 'ods');
      const ws = wb.addWorksheet('表');
      for (const v of values) addInertRow(ws, v).commit();
      ws.commit();
      await wb.commit();
      const rows: string[][] = [];
      await readOds(file, (_t, cells) => rows.push(cells));
      expect(rows).to.deep.equal(values.map((r) => r.map(String)));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
