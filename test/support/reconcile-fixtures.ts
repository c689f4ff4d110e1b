// The prepared source files of the reconciliation import tests (test/fixtures/reconcile/), made
// by this script so what each holds is readable here: `node --import tsx test/support/reconcile-fixtures.ts`
// rewrites them. Every file is for November 2026 (民國 115 年 11 月); identifiers come from
// nationalId() (valid checksums) unless a file is about a bad one.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import iconv from 'iconv-lite';
import ExcelJS from 'exceljs';
import { nationalId } from './fixtures.ts';

export const FIXTURE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'reconcile');
export const PERIOD = '2026-11';

/** Source accounts the tests link to their people; ZZ999 is linked to nobody. */
export const ACCOUNTS = { clerk: 'SOC001', clerk2: 'SOC002', unknown: 'ZZ999' } as const;
/** The identifiers in the files, by fixture number. */
export const IDS = { a: nationalId(1), b: nationalId(2), c: nationalId(3), d: nationalId(4) };

/** Full-width form of digits and letters (what a Chinese input method types). */
export const fullWidth = (s: string): string => s.replace(/[0-9A-Za-z:/]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
/** The same ID with its check digit changed. */
export const badCheck = (id: string): string => id.slice(0, 9) + String((Number(id[9]) + 1) % 10);

const csv = (rows: string[][]) => rows.map((r) => r.map((c) => (/[",\r\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',')).join('\r\n') + '\r\n';
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Mappings the tests give each source (API shape). */
export const MAPPINGS = {
  big5: { columns: { account: '使用者代號', date: '查詢日期', time: '查詢時間', subject: '身分證號', opCode: '作業代號' }, encoding: 'big5', dateStyle: 'roc-compact', headerRow: 1 },
  utf8: { columns: { account: '帳號', date: '日期', time: '時間', subject: '被查詢者身分證號' }, encoding: 'utf-8', dateStyle: 'roc-slash', headerRow: 2 },
  xlsx: { columns: { account: '帳號', date: '查詢日期時間', time: '查詢日期時間', subject: '身分證號', opCode: '作業代號' }, encoding: 'utf-8', dateStyle: 'ad', headerRow: 1 },
  counts: { columns: { account: '帳號', date: '日期', count: '查詢筆數' }, encoding: 'utf-8', dateStyle: 'ad', headerRow: 1 },
} as const;

export async function writeReconcileFixtures(dir = FIXTURE_DIR): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const files: Record<string, Buffer> = {};
  const big5Head = ['使用者代號', '查詢日期', '查詢時間', '身分證號', '作業代號'];

  // Big5 (CP950) with ROC compact dates; times with and without seconds; one unknown account.
  files['big5-roc-compact.csv'] = iconv.encode(csv([
    big5Head,
    [ACCOUNTS.clerk, '1151103', '09:15', IDS.a, 'IN01'],
    [ACCOUNTS.clerk, '1151103', '14:05:22', IDS.b, 'IN02'],
    [ACCOUNTS.clerk2, '1151115', '100730', IDS.c, 'in01'],
    [ACCOUNTS.unknown, '1151120', '下午 03:30:00', IDS.d, 'IN01'],
  ]), 'cp950');

  // UTF-8 with a BOM, a title line above the header (header row 2), ROC dates with slashes.
  files['utf8-bom.csv'] = Buffer.concat([BOM, Buffer.from(csv([
    ['南投縣政府社會及勞動處 業務系統查詢紀錄 115年11月'],
    ['帳號', '日期', '時間', '被查詢者身分證號'],
    [ACCOUNTS.clerk, '115/11/04', '08:30:05', IDS.a],
    [ACCOUNTS.clerk2, '115/11/05', '16:45', IDS.b],
  ]), 'utf8')]);

  // Full-width digits and letters in the date, time and ID (UTF-8, no BOM).
  files['fullwidth.csv'] = Buffer.from(csv([
    ['帳號', '日期', '時間', '被查詢者身分證號'],
    [fullWidth(ACCOUNTS.clerk), fullWidth('115/11/06'), fullWidth('10:20:30'), fullWidth(IDS.c)],
  ]), 'utf8');

  // A count-only source: totals per account and day (two rows of one day add up).
  files['counts.csv'] = Buffer.from(csv([
    ['帳號', '日期', '查詢筆數'],
    [ACCOUNTS.clerk, '2026-11-03', '12'],
    [ACCOUNTS.clerk, '2026-11-03', '3'],
    [ACCOUNTS.clerk, '2026/11/04', '7'],
    [ACCOUNTS.unknown, '20261105', '1,204'],
  ]), 'utf8');

  // Bad input, each to be refused with its row and column named.
  files['missing-column.csv'] = iconv.encode(csv([['使用者代號', '查詢日期', '查詢時間', '作業代號'], [ACCOUNTS.clerk, '1151103', '09:15', 'IN01']]), 'cp950');
  files['bad-dates.csv'] = iconv.encode(csv([
    big5Head,
    [ACCOUNTS.clerk, '1151103', '09:15', IDS.a, 'IN01'],
    [ACCOUNTS.clerk, '1151332', '09:15', IDS.b, 'IN01'], // row 3: 13th month
    [ACCOUNTS.clerk, '1151203', '09:15', IDS.c, 'IN01'], // row 4: December, outside the period
    [ACCOUNTS.clerk, '1151104', '25:61', IDS.d, 'IN01'], // row 5: not a time
  ]), 'cp950');
  files['bad-checksum.csv'] = iconv.encode(csv([big5Head, [ACCOUNTS.clerk, '1151103', '09:15', IDS.a, 'IN01'], [ACCOUNTS.clerk, '1151103', '09:16', badCheck(IDS.b), 'IN01']]), 'cp950');
  files['empty.csv'] = Buffer.alloc(0);
  files['formula.csv'] = iconv.encode(csv([
    big5Head,
    [ACCOUNTS.clerk, '1151103', '09:15', IDS.a, '=HYPERLINK("http://example.invalid","x")'], // row 2, 作業代號
    ['@SUM(A1)', '1151103', '09:16', IDS.b, 'IN01'], // row 3, 使用者代號
    [ACCOUNTS.clerk, '1151103', '09:17', IDS.c, '-5'], // a plain number: accepted
  ]), 'cp950');

  const xlsx = async (name: string, build: (ws: ExcelJS.Worksheet) => void) => {
    const wb = new ExcelJS.Workbook();
    wb.created = wb.modified = new Date(Date.UTC(2026, 11, 1));
    build(wb.addWorksheet('查詢紀錄'));
    files[name] = Buffer.from(await wb.xlsx.writeBuffer());
  };
  // xlsx with real date-time cells (wall-clock Taipei) in one column, and a text date-time.
  await xlsx('records.xlsx', (ws) => {
    ws.addRow(['帳號', '查詢日期時間', '身分證號', '作業代號']);
    ws.addRow([ACCOUNTS.clerk, new Date(Date.UTC(2026, 10, 9, 11, 2, 3)), IDS.a, 'IN01']);
    ws.addRow([ACCOUNTS.clerk2, new Date(Date.UTC(2026, 10, 10, 15, 30, 0)), IDS.b, 'AD01']);
    ws.addRow([ACCOUNTS.clerk, '2026-11-11 08:05', IDS.c, 'IN01']);
    ws.getColumn(2).numFmt = 'yyyy-mm-dd hh:mm:ss';
  });
  await xlsx('formula.xlsx', (ws) => {
    ws.addRow(['帳號', '查詢日期時間', '身分證號', '作業代號']);
    ws.addRow([ACCOUNTS.clerk, new Date(Date.UTC(2026, 10, 9, 11, 2, 3)), IDS.a, { formula: 'CONCATENATE("IN","01")', result: 'IN01' }]);
  });

  for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), bytes);
  return Object.keys(files);
}

export const fixture = (name: string): Buffer => fs.readFileSync(path.join(FIXTURE_DIR, name));

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const names = await writeReconcileFixtures();
  console.log(`wrote ${names.length} files to ${FIXTURE_DIR}: ${names.join(', ')}`);
}
