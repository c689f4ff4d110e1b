// Streaming workbooks heed backpressure: rows written faster than the output takes them wait in
// yieldToWriter instead of piling up in memory (a million-row sheet reached 900 MB without it).
import { expect } from 'chai';
import { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import { PENDING_LIMIT, pendingBytes, streamingWorkbook, yieldToLoop, yieldToWriter } from '../../reports/cells.ts';

/** An output that takes a chunk every `ms` milliseconds: a slow disk or a slow HTTP client. */
function slowSink(ms: number): Writable & { bytes: number } {
  const w = new Writable({ highWaterMark: 16384, write(chunk, _enc, cb) { (w as any).bytes += chunk.length; setTimeout(cb, ms); } }) as Writable & { bytes: number };
  w.bytes = 0;
  return w;
}

async function writeRows(yieldFn: (ws: ExcelJS.Worksheet) => Promise<void>, rows: number): Promise<{ maxPending: number; bytes: number }> {
  const out = slowSink(1);
  const wb = streamingWorkbook({ stream: out });
  const ws = wb.addWorksheet('x');
  let maxPending = 0;
  // Random hex text compresses poorly, so the compressor's output outruns the slow sink.
  const filler = Array.from({ length: 64 }, (_, i) => (i * 2654435761 >>> 0).toString(16).repeat(12));
  for (let i = 0; i < rows; i++) {
    ws.addRow([i, filler[i % 64], filler[(i * 7) % 64], filler[(i * 13) % 64]]).commit();
    if (i % 1000 === 999) {
      await yieldFn(ws);
      maxPending = Math.max(maxPending, pendingBytes(ws));
    }
  }
  ws.commit();
  await wb.commit();
  await new Promise((r) => (out.writableFinished ? r(null) : out.on('finish', r)));
  return { maxPending, bytes: out.bytes };
}

describe('streaming workbooks and backpressure', function () {
  this.timeout(120_000);
  it('piles rows up in memory when the writer only yields to the event loop (the failure this guards against)', async () => {
    const r = await writeRows(() => yieldToLoop(), 60_000);
    expect(r.maxPending).to.be.greaterThan(PENDING_LIMIT);
  });
  it('keeps what the zip has not taken under the limit with yieldToWriter, and writes the whole file', async () => {
    const r = await writeRows(yieldToWriter, 60_000);
    // One 1,000-row step (about 2.5 MB of XML) may be added after the wait ends.
    expect(r.maxPending).to.be.at.most(PENDING_LIMIT + 4 * 1048576);
    expect(r.bytes).to.be.greaterThan(1_000_000);
  });
});
