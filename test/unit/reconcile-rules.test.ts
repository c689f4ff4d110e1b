// Reconciliation import rules (issue 16), without a database: reading dates, times, IDs and counts
// as Taiwan agencies write them; refusing formulas; what a mapping must name; which period may be
// imported; reading a table row by row with every bad cell named; decoding files (Big5, UTF-8 with
// or without BOM, xlsx); who reaches which agency.
import { expect } from 'chai';
import iconv from 'iconv-lite';
import ExcelJS from 'exceljs';
import {
  columnLetter, formulaProblem, idSubject, mappingProblems, maskAccount, parseCount, parseDateCell, parseDay, parsePeriod, parseTime, parseTimeCell,
  periodProblem, readRecords, reconcileReach, sourceRecordAad, type Cell, type Mapping, type TableRow,
} from '../../server/reconcile/rules.ts';
import { readTable, xlsxCell } from '../../server/reconcile/parse.ts';
import { startOfLocalDay } from '../../server/time.ts';
import { generateResidentCertificate } from '../../server/queries/subject.ts';
import type { UnitRow } from '../../server/accounts/units.ts';
import { nationalId } from '../support/fixtures.ts';
import { badCheck, fixture, fullWidth, MAPPINGS } from '../support/reconcile-fixtures.ts';

const t = (text: string): Cell => ({ text, kind: 'text' });
const rows = (...lines: string[][]): TableRow[] => lines.map((cells, i) => ({ row: i + 1, cells: cells.map(t) }));
const NOW = Date.UTC(2026, 11, 3, 8, 0, 0);
const RECORDS: Mapping = { columns: { account: '帳號', date: '日期', time: '時間', subject: '身分證號', opCode: '代號' }, encoding: 'utf-8', dateStyle: 'roc-compact', headerRow: 1 };
const HEAD = ['帳號', '日期', '時間', '身分證號', '代號'];
const ID = nationalId(7);

describe('reconcile rules: dates and times', () => {
  it('reads ROC compact, ROC with separators and AD dates, full-width digits included', () => {
    expect(parseDay('1131203', 'roc-compact')).to.equal('2024-12-03');
    expect(parseDay('991203', 'roc-compact')).to.equal('2010-12-03');
    expect(parseDay(fullWidth('1131203'), 'roc-compact')).to.equal('2024-12-03');
    expect(parseDay('113/12/03', 'roc-slash')).to.equal('2024-12-03');
    expect(parseDay('113-1-3', 'roc-slash')).to.equal('2024-01-03');
    expect(parseDay('民國113年12月3日', 'roc-slash')).to.equal('2024-12-03');
    expect(parseDay('１１３／１２／０３', 'roc-slash')).to.equal('2024-12-03');
    expect(parseDay('2024-12-03', 'ad')).to.equal('2024-12-03');
    expect(parseDay('2024/12/3', 'ad')).to.equal('2024-12-03');
    expect(parseDay('20241203', 'ad')).to.equal('2024-12-03');
  });
  it('refuses days that do not exist and dates in another style', () => {
    expect(parseDay('1130230', 'roc-compact')).to.equal(null);
    expect(parseDay('1131332', 'roc-compact')).to.equal(null);
    expect(parseDay('113/12/03', 'roc-compact')).to.equal(null);
    expect(parseDay('1131203', 'roc-slash')).to.equal(null);
    expect(parseDay('113/12/03', 'ad')).to.equal(null);
    expect(parseDay('2024-02-30', 'ad')).to.equal(null);
    expect(parseDay('', 'ad')).to.equal(null);
  });
  it('reads times with or without seconds, compact, in Chinese, with 上午/下午 or AM/PM, full-width', () => {
    expect(parseTime('9:05')).to.equal(9 * 3600 + 5 * 60);
    expect(parseTime('09:05:07')).to.equal(9 * 3600 + 5 * 60 + 7);
    expect(parseTime('0905')).to.equal(9 * 3600 + 5 * 60);
    expect(parseTime('090507')).to.equal(9 * 3600 + 5 * 60 + 7);
    expect(parseTime('14時05分')).to.equal(14 * 3600 + 5 * 60);
    expect(parseTime('14時05分09秒')).to.equal(14 * 3600 + 5 * 60 + 9);
    expect(parseTime('下午 02:05:00')).to.equal(14 * 3600 + 5 * 60);
    expect(parseTime('上午 12:30')).to.equal(30 * 60);
    expect(parseTime('下午 12:30')).to.equal(12 * 3600 + 30 * 60);
    expect(parseTime('2:05 PM')).to.equal(14 * 3600 + 5 * 60);
    expect(parseTime(fullWidth('14:05'))).to.equal(14 * 3600 + 5 * 60);
    for (const bad of ['24:00', '12:60', '12:00:60', '下午 13:00', '1', 'abc', '']) expect(parseTime(bad), bad).to.equal(null);
  });
  it('reads a date and a time in one cell, and real spreadsheet dates whatever the style', () => {
    expect(parseDateCell(t('113/12/03 14:05:22'), 'roc-slash')).to.deep.equal({ day: '2024-12-03', seconds: 14 * 3600 + 5 * 60 + 22 });
    expect(parseDateCell(t('1131203 140522'), 'roc-compact')).to.deep.equal({ day: '2024-12-03', seconds: 14 * 3600 + 5 * 60 + 22 });
    expect(parseDateCell(t('2024-12-03T14:05'), 'ad')).to.deep.equal({ day: '2024-12-03', seconds: 14 * 3600 + 5 * 60 });
    expect(parseDateCell(t('1131203'), 'roc-compact')).to.deep.equal({ day: '2024-12-03', seconds: null });
    expect(parseDateCell({ kind: 'date', text: '2024-12-03 14:05:22' }, 'roc-compact')).to.deep.equal({ day: '2024-12-03', seconds: 14 * 3600 + 5 * 60 + 22 });
    expect(parseDateCell(t('113/12/03 25:00'), 'roc-slash')).to.equal(null);
    expect(parseTimeCell({ kind: 'date', text: '1899-12-30 14:05:00' })).to.equal(14 * 3600 + 5 * 60);
    expect(parseTimeCell(t('0.5')), 'a bare day fraction').to.equal(12 * 3600);
  });
});

describe('reconcile rules: cells', () => {
  it('takes national IDs and resident certificates by their shape and checksum, full-width and lower case too, never echoing the value', () => {
    expect(idSubject(ID)).to.deep.equal({ subject: { type: 'national-id', value: ID } });
    expect(idSubject(fullWidth(ID.toLowerCase()))).to.deep.equal({ subject: { type: 'national-id', value: ID } });
    const bad = idSubject(badCheck(ID));
    expect(bad).to.have.property('problem').that.contains('檢查碼');
    expect((bad as { problem: string }).problem).to.not.contain(ID.slice(1));
    expect(idSubject('12345')).to.have.property('problem').that.contains('格式');
    expect(idSubject('')).to.have.property('problem');
    for (const format of ['new', 'old'] as const) {
      const rc = generateResidentCertificate(() => 0.37, format);
      expect(idSubject(rc), rc).to.deep.equal({ subject: { type: 'resident-certificate', value: rc } });
    }
  });
  it('refuses a cell a spreadsheet would evaluate, but not a plain signed number', () => {
    for (const f of ['=1+1', '=HYPERLINK("x")', '+A1', '-A1', '@SUM(A1)', '-', '+']) expect(formulaProblem(t(f)), f).to.be.a('string');
    for (const ok of ['-5', '+886912345678', '-1.5e3', 'IN01', '', ' =not-leading']) expect(formulaProblem(t(ok)), ok).to.equal(null);
    expect(formulaProblem({ kind: 'formula', text: 'SUM(A1)' })).to.contain('公式');
  });
  it('reads counts with thousands separators and full-width digits; refuses negatives and fractions', () => {
    expect(parseCount('1,204')).to.equal(1204);
    expect(parseCount('１２')).to.equal(12);
    expect(parseCount('0')).to.equal(0);
    for (const bad of ['-1', '1.5', 'x', '']) expect(parseCount(bad), bad).to.equal(null);
  });
  it('names columns beyond the header with their letters', () => {
    expect([0, 25, 26, 27, 701, 702].map(columnLetter)).to.deep.equal(['A', 'Z', 'AA', 'AB', 'ZZ', 'AAA']);
  });
});

describe('reconcile rules: mappings and periods', () => {
  const m = (columns: Record<string, string>, extra: Partial<{ encoding: string; dateStyle: string; headerRow: number }> = {}) => ({ columns, encoding: 'utf-8', dateStyle: 'ad', headerRow: 1, ...extra });
  const fields = (ps: Array<{ field: string }>) => ps.map((p) => p.field);
  it('needs account and date; a subject for records, a count for counts, not the other', () => {
    expect(mappingProblems(m({ account: 'a', date: 'd', subject: 's' }), 'records')).to.deep.equal([]);
    expect(fields(mappingProblems(m({}), 'records'))).to.include.members(['columns.account', 'columns.date', 'columns.subject']);
    expect(fields(mappingProblems(m({ account: 'a', date: 'd', subject: 's', count: 'c' }), 'records'))).to.deep.equal(['columns.count']);
    expect(fields(mappingProblems(m({ account: 'a', date: 'd', subject: 's' }), 'counts'))).to.deep.equal(['columns.count', 'columns.subject']);
    expect(mappingProblems(m({ account: 'a', date: 'd', count: 'c' }), 'counts')).to.deep.equal([]);
  });
  it('one file column per meaning, except a date and time sharing one; known encodings, styles and header rows', () => {
    expect(mappingProblems(m({ account: 'a', date: 'd', time: 'd', subject: 's' }), 'records')).to.deep.equal([]);
    expect(fields(mappingProblems(m({ account: 'a', date: 'a', subject: 's' }), 'records'))).to.deep.equal(['columns.date']);
    expect(fields(mappingProblems(m({ account: 'a', date: 'd', subject: 's' }, { encoding: 'latin1', dateStyle: 'us', headerRow: 0 }), 'records'))).to.deep.equal(['encoding', 'dateStyle', 'headerRow']);
    expect(fields(mappingProblems(m({ account: 'a\u202e', date: 'd', subject: 's' }), 'records'))).to.deep.equal(['columns.account']);
  });
  it('reads periods as YYYY-MM or ROC year/month, and refuses one not yet begun', () => {
    expect(parsePeriod('2026-11')).to.equal('2026-11');
    expect(parsePeriod('115/11')).to.equal('2026-11');
    expect(parsePeriod('民國115年11月')).to.equal('2026-11');
    expect(parsePeriod('2026-13')).to.equal(null);
    expect(periodProblem('2026-12', NOW), 'the current month').to.equal(null);
    expect(periodProblem('2027-01', NOW)).to.contain('不可晚於本月');
    expect(periodProblem('26-11', NOW)).to.contain('格式');
  });
});

describe('reconcile rules: reading a table', () => {
  const opts = { period: '2024-12', now: NOW };
  it('reads each row: account, Taipei time, subject, op code (upper case)', () => {
    const r = readRecords(rows(HEAD, ['SOC001', '1131203', '14:05', ID, 'in01'], ['', '', '', '', ''], ['SOC002', '1131204', '09:00:30', ID, '']), RECORDS, 'records', opts);
    expect(r.errors).to.deep.equal([]);
    expect(r.rows, 'a blank row is not a data row').to.equal(2);
    expect(r.records.map((x) => [x.row, x.account, x.occurredAt, x.opCode])).to.deep.equal([
      [2, 'SOC001', startOfLocalDay('2024-12-03') + (14 * 3600 + 5 * 60) * 1000, 'IN01'],
      [4, 'SOC002', startOfLocalDay('2024-12-04') + (9 * 3600 + 30) * 1000, null],
    ]);
  });
  it('names the header row and the missing or doubled column', () => {
    const missing = readRecords(rows(['帳號', '日期', '時間', '代號']), RECORDS, 'records', opts);
    expect(missing.errors).to.have.length(1);
    expect(missing.errors[0]).to.include({ row: 1, column: '身分證號' });
    expect(missing.errors[0].message).to.contain('帳號、日期、時間、代號');
    const doubled = readRecords(rows([...HEAD, '帳號']), RECORDS, 'records', opts);
    expect(doubled.errors[0]).to.include({ row: 1, column: '帳號' });
    const noHeader = readRecords(rows(HEAD), { ...RECORDS, headerRow: 3 }, 'records', opts);
    expect(noHeader.errors[0]).to.include({ row: 3 });
  });
  it('names each bad cell by row and column: date, period, time, ID, account, formula, control character, future', () => {
    const r = readRecords(rows(
      HEAD,
      ['SOC001', '1131332', '14:05', ID, 'IN01'],
      ['SOC001', '1131103', '14:05', ID, 'IN01'],
      ['SOC001', '1131203', '99:99', ID, 'IN01'],
      ['SOC001', '1131203', '14:05', badCheck(ID), 'IN01'],
      ['', '1131203', '14:05', ID, 'IN01'],
      ['SOC001', '1131203', '14:05', ID, '=1+1'],
      ['SOC\u0007', '1131203', '14:05', ID, 'IN01'],
      ['SOC001', '1131203', '', ID, 'IN01'],
    ), RECORDS, 'records', opts);
    expect(r.errors.map((e) => [e.row, e.column])).to.deep.equal([[2, '日期'], [3, '日期'], [4, '時間'], [5, '身分證號'], [6, '帳號'], [7, '代號'], [8, '帳號'], [9, '時間']]);
    expect(r.errors[1].message).to.contain('不在匯入期間');
    const future = readRecords(rows(HEAD, ['SOC001', '1151203', '23:59', ID, 'IN01']), RECORDS, 'records', { period: '2026-12', now: NOW });
    expect(future.errors[0]).to.include({ row: 2, column: '日期' });
    expect(future.errors[0].message).to.contain('晚於現在');
  });
  it('takes the time from the date cell when there is no time column, and refuses a date alone then', () => {
    const m: Mapping = { ...RECORDS, columns: { account: '帳號', date: '日期', subject: '身分證號' }, dateStyle: 'roc-slash' };
    const ok = readRecords(rows(['帳號', '日期', '身分證號'], ['A', '113/12/03 14:05:22', ID]), m, 'records', opts);
    expect(ok.errors).to.deep.equal([]);
    expect(ok.records[0].occurredAt).to.equal(startOfLocalDay('2024-12-03') + (14 * 3600 + 5 * 60 + 22) * 1000);
    const alone = readRecords(rows(['帳號', '日期', '身分證號'], ['A', '113/12/03', ID]), m, 'records', opts);
    expect(alone.errors[0]).to.include({ row: 2, column: '日期' });
    expect(alone.errors[0].message).to.contain('缺少查詢時間');
  });
  it('refuses a file with a header and no data row', () => {
    const r = readRecords(rows(HEAD, ['', '', '', '', '']), RECORDS, 'records', opts);
    expect(r.errorCount).to.equal(1);
    expect(r.errors[0].message).to.contain('沒有資料列');
  });
  it('sums a count-only source per account and day, one record each at the day’s start', () => {
    const m: Mapping = { columns: { account: '帳號', date: '日期', count: '筆數', opCode: '代號' }, encoding: 'utf-8', dateStyle: 'ad', headerRow: 1 };
    const r = readRecords(rows(['帳號', '日期', '筆數', '代號'], ['A', '2024-12-03', '2', 'IN01'], ['A', '2024-12-03', '3', 'IN02'], ['A', '2024-12-04', '1', 'IN01'], ['B', '2024-12-03', 'x', 'IN01']), m, 'counts', opts);
    expect(r.errors.map((e) => [e.row, e.column])).to.deep.equal([[5, '筆數']]);
    expect(r.records.map((x) => [x.row, x.account, x.occurredAt, x.count, x.opCode])).to.deep.equal([
      [2, 'A', startOfLocalDay('2024-12-03'), 5, null],
      [4, 'A', startOfLocalDay('2024-12-04'), 1, 'IN01'],
    ]);
  });
  it('lists at most maxErrors cells but counts every one; a preview stops after its rows', () => {
    const many = rows(HEAD, ...Array.from({ length: 30 }, () => ['A', 'bad', '14:05', ID, 'IN01']));
    const r = readRecords(many, RECORDS, 'records', { ...opts, maxErrors: 5 });
    expect(r.errors).to.have.length(5);
    expect(r.errorCount).to.equal(30);
    const p = readRecords(rows(HEAD, ...Array.from({ length: 30 }, () => ['A', '1131203', '14:05', ID, 'IN01'])), RECORDS, 'records', { ...opts, limit: 10 });
    expect(p.records).to.have.length(10);
  });
});

describe('reconcile rules: protection and reach', () => {
  it('binds a record’s ciphertext to its import, row and HMAC; masks source accounts in events', () => {
    expect(sourceRecordAad({ import_id: '7', row_no: 12, subject_type: 'national-id', subject_hmac: 'ab' })).to.equal('["source_records",7,12,"national-id","ab"]');
    expect(maskAccount(ID)).to.equal('A1******');
    expect(maskAccount('ab')).to.equal('**');
  });
  const units: UnitRow[] = [
    { id: 1, code: 'PLAN', name: '計畫處', kind: 'planning', parent_id: null, has_sections: true, status: 'active' },
    { id: 2, code: 'AG1', name: 'A', kind: 'agency', parent_id: 1, has_sections: true, status: 'active' },
    { id: 3, code: 'AG1-U1', name: 'A1', kind: 'unit', parent_id: 2, has_sections: false, status: 'active' },
    { id: 4, code: 'AG2', name: 'B', kind: 'agency', parent_id: 1, has_sections: true, status: 'active' },
  ];
  const reach = (unitId: number, roles: string[]) => {
    const r = reconcileReach(units, { unitId, roles });
    return { countyRead: r.countyRead, countyManage: r.countyManage, read: [...r.read].sort(), manage: [...r.manage].sort() };
  };
  it('the planning department manages the county; an agency admin its agency; a subordinate unit’s admin nothing; auditors and ethics read their reach', () => {
    expect(reach(1, ['planning_admin'])).to.deep.equal({ countyRead: true, countyManage: true, read: [2, 4], manage: [2, 4] });
    expect(reach(2, ['admin'])).to.deep.equal({ countyRead: false, countyManage: false, read: [2], manage: [2] });
    expect(reach(3, ['admin'])).to.deep.equal({ countyRead: false, countyManage: false, read: [], manage: [] });
    expect(reach(3, ['auditor'])).to.deep.equal({ countyRead: false, countyManage: false, read: [2], manage: [] });
    expect(reach(1, ['ethics'])).to.deep.equal({ countyRead: true, countyManage: false, read: [2, 4], manage: [] });
    expect(reach(2, ['clerk', 'supervisor', 'it'])).to.deep.equal({ countyRead: false, countyManage: false, read: [], manage: [] });
    expect(reach(2, ['planning_admin']), 'a planning admin role outside the planning department is not county-wide').to.deep.equal({ countyRead: false, countyManage: false, read: [], manage: [] });
  });
});

describe('reconcile files: decoding', () => {
  it('reads Big5 (CP950) and UTF-8 with and without a BOM into the same text', async () => {
    const big5 = await readTable(fixture('big5-roc-compact.csv'), 'big5');
    expect(big5.errors).to.deep.equal([]);
    expect(big5.rows[0].cells.map((c) => c.text)).to.deep.equal(['使用者代號', '查詢日期', '查詢時間', '身分證號', '作業代號']);
    const text = '帳號,日期\r\n王小明,1131203\r\n';
    for (const bytes of [Buffer.from(text), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]), iconv.encode(text, 'cp950')]) {
      const enc = bytes[0] === 0xef || bytes.equals(Buffer.from(text)) ? 'utf-8' : 'big5';
      const r = await readTable(bytes, enc);
      expect(r.errors, enc).to.deep.equal([]);
      expect(r.rows.map((x) => x.cells.map((c) => c.text))).to.deep.equal([['帳號', '日期'], ['王小明', '1131203']]);
    }
  });
  it('names the row and column of text in the wrong encoding, either way', async () => {
    const asUtf8 = await readTable(fixture('big5-roc-compact.csv'), 'utf-8');
    expect(asUtf8.errors[0]).to.include({ row: 1, column: '第 1 欄（A）' });
    expect(asUtf8.errors[0].message).to.contain('UTF-8');
    const asBig5 = await readTable(fixture('utf8-bom.csv'), 'big5');
    expect(asBig5.errors).to.have.length(1);
    expect(asBig5.errors[0].message).to.contain('UTF-8 編碼');
    const noBom = await readTable(Buffer.from('帳號,日期\r\n王小明,1131203\r\n'), 'big5');
    expect(noBom.errors[0]).to.include({ row: 1, column: '第 1 欄（A）' });
    // A UTF-8 file with one bad cell: that cell is named by the header's name.
    const one = await readTable(Buffer.concat([Buffer.from('帳號,日期\r\nA,'), Buffer.from([0xa4, 0xa4]), Buffer.from('\r\n')]), 'utf-8');
    expect(one.errors).to.deep.equal([{ row: 2, column: '日期', message: one.errors[0].message }]);
  });
  it('refuses empty, UTF-16, old .xls, corrupt xlsx and broken CSV quoting with a message', async () => {
    const msg = async (b: Buffer) => (await readTable(b, 'utf-8')).errors[0]?.message ?? '';
    expect(await msg(Buffer.alloc(0))).to.contain('空的');
    expect(await msg(Buffer.from('\r\n  \r\n'))).to.contain('空的');
    expect(await msg(Buffer.from([0xff, 0xfe, 0x41, 0x00]))).to.contain('UTF-16');
    expect(await msg(Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1]))).to.contain('.xls');
    expect(await msg(Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(64, 1)]))).to.contain('xlsx');
    const quote = await readTable(Buffer.from('a,b\r\n"x,y\r\n'), 'utf-8');
    expect(quote.errors[0].message).to.contain('雙引號');
  });
  it('reads the first sheet of an xlsx: dates as their wall-clock time, formulas marked', async () => {
    const r = await readTable(fixture('records.xlsx'), 'utf-8');
    expect(r.format).to.equal('xlsx');
    expect(r.rows[1].cells[1]).to.deep.equal({ kind: 'date', text: '2026-11-09 11:02:03' });
    const f = await readTable(fixture('formula.xlsx'), 'utf-8');
    expect(f.rows[1].cells[3].kind).to.equal('formula');
    expect(xlsxCell({ richText: [{ text: 'IN' }, { text: '01' }] })).to.deep.equal({ kind: 'text', text: 'IN01' });
    expect(xlsxCell(1131203)).to.deep.equal({ kind: 'text', text: '1131203' });
    // A sheet with nothing on it.
    const wb = new ExcelJS.Workbook();
    wb.addWorksheet('x');
    const empty = await readTable(Buffer.from(await wb.xlsx.writeBuffer()), 'utf-8');
    expect(empty.errors[0].message).to.contain('空的');
  });
  it('reads every prepared file with its mapping', async () => {
    for (const [file, m, kind, n] of [['big5-roc-compact.csv', MAPPINGS.big5, 'records', 4], ['utf8-bom.csv', MAPPINGS.utf8, 'records', 2], ['records.xlsx', MAPPINGS.xlsx, 'records', 3], ['counts.csv', MAPPINGS.counts, 'counts', 3]] as const) {
      const table = await readTable(fixture(file), m.encoding, m.headerRow);
      const r = readRecords(table.rows, m as unknown as Mapping, kind, { period: '2026-11', now: NOW });
      expect(r.errors, file).to.deep.equal([]);
      expect(r.records, file).to.have.length(n);
    }
  });
});
