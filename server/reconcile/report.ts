// The refused import's report as a workbook: every refused row, column and reason (匯入錯誤),
// and what was refused (說明). Cells are inert (reports/cells.ts); no value of a refused cell is
// written, so an identifier in the file never reaches the report.
import { addInertRow, BOLD_FONT, streamingWorkbook, yieldToWriter, type WorkbookFormat } from '../../reports/cells.ts';
import { rocDateTime, rocMonth } from '../time.ts';
import type { RowError } from './rules.ts';

export interface RefusalReport {
  fileName: string;
  source: string;
  unit: string | null;
  period: string | null;
  at: number;
  errorCount: number;
  errors: RowError[];
}

/** Writes the report to a stream (an HTTP answer or a file). */
export async function writeRefusalReport(stream: NodeJS.WritableStream, r: RefusalReport, format: WorkbookFormat = 'xlsx'): Promise<void> {
  const wb = streamingWorkbook({ stream }, format);
  const ws = wb.addWorksheet('匯入錯誤', { views: [{ state: 'frozen', ySplit: 1 }] });
  ws.columns = [{ width: 8 }, { width: 24 }, { width: 90 }];
  const head = addInertRow(ws, ['列', '欄', '原因']);
  head.font = BOLD_FONT;
  head.commit();
  let n = 0;
  for (const e of r.errors) {
    addInertRow(ws, [e.row ?? '', e.column ?? '', e.message]).commit();
    if (++n % 1000 === 0) await yieldToWriter(ws);
  }
  if (r.errorCount > r.errors.length) addInertRow(ws, ['', '', `（另有 ${r.errorCount - r.errors.length} 處錯誤未列出；修正以上各處後再匯入即可看到）`]).commit();
  ws.commit();
  const info = wb.addWorksheet('說明');
  info.columns = [{ width: 16 }, { width: 70 }];
  for (const [k, v] of [
    ['檔案', r.fileName],
    ['對帳來源', r.source],
    ['業務機關', r.unit ?? ''],
    ['期間', r.period ? rocMonth(r.period) : ''],
    ['檢查時間', rocDateTime(r.at)],
    ['錯誤處數', r.errorCount],
    ['結果', '整個檔案未匯入，未儲存任何資料。請依「匯入錯誤」工作表所列之列、欄修正後重新匯入。'],
  ] as const) addInertRow(info, [k, v]).commit();
  info.commit();
  await wb.commit();
}
