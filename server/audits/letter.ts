// The annual filing's covering letter (函, issue 19): its fields from a finished annual export of
// one agency — the year, the counts, the months checked and missed, the audits, the workbook's name,
// SHA-256 and chain head — and what the filer types (發文字號, 速別, 密等及解密條件).
import { z } from 'zod';
import type { Conn } from '../db.ts';
import { parseJson } from '../db.ts';
import { localDate, now, rocDate, rocYear } from '../time.ts';
import type { LetterFields } from '../../reports/letter.ts';
import { exportFileName, type ExportParams } from './exports.ts';

export const SPEEDS = ['普通件', '速件', '最速件'] as const;
/** The filing holds personal data: 密 by default, declassified once the attachment is taken out. */
export const DEFAULT_SECRECY = '密（含個人資料），附件抽存後解密';

export const letterSchema = z.object({
  number: z.string({ message: '請輸入發文字號' }).trim().min(1, '請輸入發文字號（例如：投社字第1150000001號）').max(60, '發文字號不可超過 60 字'),
  speed: z.enum(SPEEDS, { message: '請選擇速別' }),
  secrecy: z.string({ message: '請輸入密等及解密條件' }).trim().min(1, '請輸入密等及解密條件').max(100, '密等及解密條件不可超過 100 字'),
});
export type LetterInput = z.infer<typeof letterSchema>;

/** Months of the year with no signed-off check of the agency (the checks missed). */
async function checkMonths(conn: Conn, unitId: number, year: number): Promise<{ done: string[]; missed: string[] }> {
  const signed = new Set((await conn('checks').where({ unit_id: unitId, status: 'signed-off' }).where('period', '>=', `${year}-01`).where('period', '<=', `${year}-12`).distinct('period')).map((r: any) => String(r.period)));
  const months = Array.from({ length: 12 }, (_v, i) => `${year}-${String(i + 1).padStart(2, '0')}`);
  return { done: months.filter((m) => signed.has(m)), missed: months.filter((m) => !signed.has(m)) };
}

/** The letter of an export row (a done annual export of one agency) with the filer's input. */
export async function letterFields(conn: Conn, row: any, input: LetterInput, countyName: string): Promise<LetterFields> {
  const params = parseJson<ExportParams>(row.params, { kind: 'annual' } as ExportParams);
  if (params.kind !== 'annual' || row.unit_id == null) throw new Error('a covering letter is for an agency\'s annual export');
  const result = parseJson<any>(row.result, {});
  const agency = await conn('units').where({ id: Number(row.unit_id) }).first('code', 'name');
  const year = Number(params.year);
  const roc = rocYear(year);
  const c = result.counts ?? {};
  const { done, missed } = await checkMonths(conn, Number(row.unit_id), year);
  const internal = Number((await conn('internal_audits').where({ unit_id: Number(row.unit_id), status: 'signed' }).whereIn('period', [`${year}-H1`, `${year}-H2`]).count({ n: '*' }).first())?.n ?? 0);
  const monthList = (ms: string[]) => ms.map((m) => `${Number(m.slice(5))}月`).join('、');
  return {
    agency: agency.name,
    recipient: `${countyName}（計畫處）`,
    date: `中華${rocDate(localDate(now())).replace(/ /g, '')}`,
    number: input.number,
    speed: input.speed,
    secrecy: input.secrecy,
    attachments: [
      `${exportFileName(params, agency).name}（電子檔 1 份）`,
      `SHA-256：${row.sha256}`,
      `${roc}年底查詢日誌鏈頭：序號 ${result.chainHead?.seq ?? ''}，雜湊 ${result.chainHead?.hash ?? ''}`,
    ],
    subject: `檢送本機關${roc}年度應用衛生福利部中央健康保險署資料之使用者清冊、查詢紀錄單、查核紀錄及稽核紀錄電子檔，請　查照備查。`,
    explanation: [
      '依「南投縣政府應用衛生福利部中央健康保險署資訊作業管理要點」第五點第(五)款辦理。',
      `${roc}年度管理者帳號${c.admins ?? 0}個、使用者帳號${c.users ?? 0}個；查詢紀錄${c.entries ?? 0}筆，其中抽查${c.sampled ?? 0}筆。`,
      `每月查核：已完成${done.length}個月（${done.length ? monthList(done) : '無'}）${missed.length ? `，未完成${missed.length}個月（${monthList(missed)}）` : '，全年均已完成'}；查核紀錄${c.checks ?? 0}次。`,
      `稽核紀錄${c.auditRecords ?? 0}件；半年度內部稽核已簽核${internal}次。`,
      '附件電子檔之 SHA-256 及年底查詢日誌鏈頭如附件欄所載，請據以核對檔案未經變更。',
    ],
    copyTo: `${countyName}（計畫處）`,
  };
}
