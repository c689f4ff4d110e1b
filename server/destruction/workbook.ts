// The destruction list (銷毀目錄) as a workbook: one row per entry (seq, time, clerk, operation
// code, hash; never the subject, case or reason), and a cover with the list's facts, approvals and
// the checkpoint key, so the county's file of destructions can be kept without the system.
import type { Conn } from '../db.ts';
import { publishedKey, type CheckpointSettings } from '../queries/checkpoints.ts';
import { now, rocDate, rocDateTime } from '../time.ts';
import { BOLD_FONT, addInertRow, printSetup, streamingWorkbook, yieldToWriter, type WorkbookFormat } from '../../reports/cells.ts';
import { listEntries, type ListView } from './service.ts';
import { DUTY_LABELS, STATUS_LABELS } from './rules.ts';

const COLUMNS = [
  { header: '序號', width: 8 }, { header: '查詢日誌序號', width: 14 }, { header: '查詢日期時間', width: 20 }, { header: '帳號', width: 16 },
  { header: '查詢作業代號', width: 14 }, { header: '雜湊值（SHA-256）', width: 68 },
];

export async function writeListXlsx(conn: Conn, cfg: CheckpointSettings, l: ListView, stream: NodeJS.WritableStream, format: WorkbookFormat = 'xlsx'): Promise<{ rows: number }> {
  const wb = streamingWorkbook({ stream }, format);
  wb.creator = 'NHI Query Audit';
  const ws = wb.addWorksheet('銷毀目錄', { views: [{ state: 'frozen', ySplit: 1 }], ...printSetup('landscape') });
  ws.columns = COLUMNS.map((c) => ({ width: c.width }));
  const header = addInertRow(ws, COLUMNS.map((c) => c.header));
  header.font = BOLD_FONT;
  header.commit();
  let n = 0;
  for await (const page of listEntries(conn, l)) {
    for (const e of page) {
      addInertRow(ws, [++n, e.seq, rocDateTime(e.queriedAt), e.account, e.opCode, e.hash]).commit();
      if (n % 1000 === 0) await yieldToWriter(ws);
    }
  }
  ws.commit();
  const info = wb.addWorksheet('說明', printSetup('portrait', false));
  info.columns = [{ width: 26 }, { width: 80 }];
  const key = publishedKey(cfg);
  const meta: Array<[string, unknown]> = [
    ['機關', `${l.agency}（${l.agencyCode}）`], ['銷毀目錄編號', l.id], ['狀態', STATUS_LABELS[l.status] ?? l.status],
    ['保存期限截止', `${rocDate(l.cutoff)}以前之查詢紀錄（保存五年，規定四(一)4）`], ['查詢日期起訖', `${rocDate(l.fromDate)}至${rocDate(l.toDate)}`],
    ['筆數', l.count], ['查詢日誌序號起訖', `${l.firstSeq}–${l.lastSeq}`], ['區段雜湊（SHA-256）', l.segmentHash],
    ['產生時間', rocDateTime(l.preparedAt)],
    ...l.approvals.map((a): [string, unknown] => [`核准（${DUTY_LABELS[a.duty]}）`, `${a.account}　${rocDateTime(a.at)}${a.current ? '' : '（已逾期）'}`]),
    ['銷毀時間', l.status === 'executed' && l.closedAt ? rocDateTime(l.closedAt) : ''],
    ...(l.voidReason ? [['作廢原因', l.voidReason] as [string, unknown]] : []),
    ['檢查點簽章公鑰（Ed25519，SPKI Base64）', key ? `${key.spki}（指紋 SHA-256 ${key.keyId}）` : '未設定：檢查點未簽章'],
    ['列印時間', rocDateTime(now())],
    ['說明', '本目錄列出保存期限屆滿之查詢紀錄；銷毀僅清除被查詢者查詢條件、案號、查詢事由及來源位址，保留序號、雜湊值、帳號、時間及查詢作業代號，以維持日誌鏈可驗證。'],
  ];
  for (const [k, v] of meta) addInertRow(info, [k, v]).commit();
  addInertRow(info, ['計畫處管理者簽章', '']).commit();
  addInertRow(info, ['政風人員簽章', '']).commit();
  info.commit();
  await wb.commit();
  return { rows: n };
}
