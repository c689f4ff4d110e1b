// Time in one place: instants are epoch ms (UTC); people see Asia/Taipei and the ROC calendar.
export const TAIPEI = 'Asia/Taipei';
const DAY_MS = 86_400_000;

/** The clock. Tests replace it with setClock; production reads the server's clock. */
let clock: () => number = () => Date.now();
export const now = (): number => clock();
export function setClock(fn: (() => number) | null): void {
  clock = fn ?? (() => Date.now());
}

interface Parts { year: number; month: number; day: number; hour: number; minute: number; second: number; weekday: number }

const fmtCache = new Map<string, Intl.DateTimeFormat>();
function partsIn(ms: number, tz = TAIPEI): Parts {
  let f = fmtCache.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'short' });
    fmtCache.set(tz, f);
  }
  const p: Record<string, string> = {};
  for (const x of f.formatToParts(new Date(ms))) p[x.type] = x.value;
  const wd = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(p.weekday);
  return { year: +p.year, month: +p.month, day: +p.day, hour: +p.hour, minute: +p.minute, second: +p.second, weekday: wd };
}
export const localParts = partsIn;

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** 'YYYY-MM-DD' of the instant in the given zone. */
export function localDate(ms: number, tz = TAIPEI): string {
  const p = partsIn(ms, tz);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}
/** 'HH:MM' of the instant in the given zone. */
export function localTime(ms: number, tz = TAIPEI): string {
  const p = partsIn(ms, tz);
  return `${pad(p.hour)}:${pad(p.minute)}`;
}
/** 'HH:MM:SS' of the instant in the given zone. */
export function localTimeSeconds(ms: number, tz = TAIPEI): string {
  const p = partsIn(ms, tz);
  return `${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;
}
/** 'YYYY-MM' of the instant in the given zone. */
export function localMonth(ms: number, tz = TAIPEI): string {
  return localDate(ms, tz).slice(0, 7);
}

/** Offset of the zone from UTC at the instant, in ms. */
function offsetAt(ms: number, tz: string): number {
  const p = partsIn(ms, tz);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
}

/** The instant at which local midnight of 'YYYY-MM-DD' begins in the zone. */
export function startOfLocalDay(date: string, tz = TAIPEI): number {
  const [y, m, d] = date.split('-').map(Number);
  const guess = Date.UTC(y, m - 1, d);
  const first = guess - offsetAt(guess, tz);
  return guess - offsetAt(first, tz);
}
/** [start, end) instants of the month 'YYYY-MM' in the zone. */
export function monthRange(month: string, tz = TAIPEI): [number, number] {
  const [y, m] = month.split('-').map(Number);
  const next = m === 12 ? `${y + 1}-01` : `${y}-${pad(m + 1)}`;
  return [startOfLocalDay(`${month}-01`, tz), startOfLocalDay(`${next}-01`, tz)];
}
/** [start, end) instants of the year in the zone. */
export function yearRange(year: number, tz = TAIPEI): [number, number] {
  return [startOfLocalDay(`${year}-01-01`, tz), startOfLocalDay(`${year + 1}-01-01`, tz)];
}
export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number);
  const t = new Date(Date.UTC(y, m - 1, d) + days * DAY_MS);
  return `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
}
/** The month before 'YYYY-MM'. */
export function previousMonth(month: string): string {
  const [y, m] = month.split('-').map(Number);
  return m === 1 ? `${y - 1}-12` : `${y}-${pad(m - 1)}`;
}

export const isIsoDate = (s: string): boolean => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const [y, m, d] = s.split('-').map(Number);
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
};
export const isMonth = (s: string): boolean => /^\d{4}-(0[1-9]|1[0-2])$/.test(s);

// ROC calendar (民國): year − 1911.
export function rocYear(year: number): number {
  return year - 1911;
}
/** 'YYYY-MM-DD' → '民國 114 年 3 月 5 日'. */
export function rocDate(date: string): string {
  const [y, m, d] = date.split('-').map(Number);
  return `民國 ${rocYear(y)} 年 ${m} 月 ${d} 日`;
}
/** 'YYYY-MM' → '民國 114 年 3 月'. */
export function rocMonth(month: string): string {
  const [y, m] = month.split('-').map(Number);
  return `民國 ${rocYear(y)} 年 ${m} 月`;
}
/** A period as people say it: 'YYYY-MM' → rocMonth, 'YYYY-H1' → '115 年上半年', 'YYYY' → '115 年'; anything else as given. */
export function rocPeriod(period: string): string {
  if (/^\d{4}-\d{2}$/.test(period)) return rocMonth(period);
  const h = /^(\d{4})-H([12])$/.exec(period);
  if (h) return `${rocYear(Number(h[1]))} 年${h[2] === '1' ? '上' : '下'}半年`;
  if (/^\d{4}$/.test(period)) return `${rocYear(Number(period))} 年`;
  return period;
}
/** Compact form used in tables: '114/03/05'. */
export function rocShort(date: string): string {
  const [y, m, d] = date.split('-');
  return `${rocYear(Number(y))}/${m}/${d}`;
}
/** An instant as '114/03/05 14:07' in Taipei. */
export function rocDateTime(ms: number, tz = TAIPEI): string {
  return `${rocShort(localDate(ms, tz))} ${localTime(ms, tz)}`;
}
/** What a person is asked for when a date does not read (pages and API alike accept it). */
export const ROC_DATE_HINT = '請輸入民國日期，例如「115/12/03」或「1151203」';
export const ROC_MONTH_HINT = '請輸入民國年月，例如「115/11」';
/**
 * Parses a date as people type it: '114/03/05', '114-03-05', '114.3.5', '114年3月5日', the
 * compact '1140305' (or '990305'), or an ISO date, into 'YYYY-MM-DD'; null when invalid.
 */
export function parseRocDate(input: string): string | null {
  const s = input.trim();
  if (isIsoDate(s)) return s;
  const m = /^(?:民國\s*)?(\d{2,3})\s*[/.\-年]\s*(\d{1,2})\s*[/.\-月]\s*(\d{1,2})\s*日?$/.exec(s) ?? /^(\d{2,3})(\d{2})(\d{2})$/.exec(s);
  if (!m || Number(m[1]) < 1) return null;
  const iso = `${Number(m[1]) + 1911}-${pad(Number(m[2]))}-${pad(Number(m[3]))}`;
  return isIsoDate(iso) ? iso : null;
}
/** 'YYYY-MM' from '2024-12', '113/12', '113-12', '113年12月', '民國113年12月'; null when it does not read. */
export function parseRocMonth(input: string): string | null {
  const s = input.trim();
  if (isMonth(s)) return s;
  const m = /^(?:民國\s*)?(\d{2,3})\s*[/.\-年]\s*(\d{1,2})\s*月?$/.exec(s);
  if (!m || Number(m[1]) < 1) return null;
  const p = `${Number(m[1]) + 1911}-${pad(Number(m[2]))}`;
  return isMonth(p) ? p : null;
}
/** A year as typed: 民國 '115', '115 年', '民國115年', or a western '2026'; the western year, or null. */
export function parseRocYear(input: string | number): number | null {
  const m = /^(?:民國\s*)?(\d{1,4})\s*(?:年度?)?$/.exec(String(input).trim());
  if (!m) return null;
  const n = Number(m[1]);
  if (n >= 1912) return n;
  return n >= 1 && n < 1000 ? n + 1911 : null;
}
/** A half year as typed: '115 年上半年', '115上', '115-H1', or '2026-H1'; 'YYYY-H1|H2', or null. */
export function parseHalfYear(input: string): string | null {
  const s = input.trim().replace(/\s+/g, '');
  const m = /^(?:民國)?(\d{2,4})(?:年|-)?(?:(上|下)(?:半年?)?|H([12]))$/i.exec(s);
  if (!m) return null;
  const y = parseRocYear(m[1]);
  if (y == null) return null;
  return `${y}-H${m[3] ?? (m[2] === '上' ? '1' : '2')}`;
}
/** 'YYYY-MM-DD' or 'YYYY-MM' as typed back into a field: '115/12/03', '115/12' (what did not read stays as typed). */
export function rocInput(v: string | null | undefined): string {
  if (v && isIsoDate(v)) return rocShort(v);
  if (v && isMonth(v)) return `${rocYear(Number(v.slice(0, 4)))}/${v.slice(5)}`;
  return v ?? '';
}
export const iso = (ms: number | null | undefined): string | null => (ms == null ? null : new Date(Number(ms)).toISOString());

// ── Fast Taipei arithmetic, for per-entry work over millions of rows ─────────────────────────────
// Taipei has kept UTC+8 without daylight saving since 1980, and every instant this system holds is
// later, so an entry's Taipei day and clock are plain arithmetic; Intl formatting per entry would
// cost seconds on a month of a million entries. These agree with localDate/localParts (unit test).
export const TAIPEI_OFFSET_MS = 8 * 3_600_000;
/** The Taipei day index of an instant (0 = 1970-01-01). */
export const taipeiDayIndex = (at: number): number => Math.floor((at + TAIPEI_OFFSET_MS) / DAY_MS);
/** 'YYYY-MM-DD' of a Taipei day index. */
export const dayOfIndex = (index: number): string => new Date(index * DAY_MS).toISOString().slice(0, 10);
/** Minutes since local midnight, Taipei time. */
export const taipeiMinuteOfDay = (at: number): number => Math.floor((((at + TAIPEI_OFFSET_MS) % DAY_MS) + DAY_MS) % DAY_MS / 60_000);
/** 0 = Sunday … 6 = Saturday, Taipei time (1970-01-01 was a Thursday). */
export const taipeiWeekday = (at: number): number => (((taipeiDayIndex(at) + 4) % 7) + 7) % 7;
const dayCache = new Map<number, string>();
/** 'YYYY-MM-DD' of the instant in Taipei (cached per day). */
export function taipeiDate(at: number): string {
  const d = taipeiDayIndex(at);
  let s = dayCache.get(d);
  if (!s) {
    s = dayOfIndex(d);
    if (dayCache.size > 5000) dayCache.clear();
    dayCache.set(d, s);
  }
  return s;
}
/** The SQL expression of a column's Taipei day index (for GROUP BY in the database). */
export const taipeiDayIndexSql = (column: string, mysql: boolean): string => `(${column} + ${TAIPEI_OFFSET_MS}) ${mysql ? 'DIV' : '/'} ${DAY_MS}`;

/**
 * Taipei ROC date and time of many instants, fast, for the workbook writers: the same results as
 * rocShort(localDate(ms)) and localTime(ms).
 */
export function fastLocal(): (ms: number) => { date: string; time: string } {
  const p2 = (n: number) => (n < 10 ? '0' + n : String(n));
  return (ms) => {
    const d = new Date(ms + TAIPEI_OFFSET_MS);
    return { date: `${d.getUTCFullYear() - 1911}/${p2(d.getUTCMonth() + 1)}/${p2(d.getUTCDate())}`, time: `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}` };
  };
}
