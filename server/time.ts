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
/** Compact form used in tables: '114/03/05'. */
export function rocShort(date: string): string {
  const [y, m, d] = date.split('-');
  return `${rocYear(Number(y))}/${m}/${d}`;
}
/** An instant as '114/03/05 14:07' in Taipei. */
export function rocDateTime(ms: number, tz = TAIPEI): string {
  return `${rocShort(localDate(ms, tz))} ${localTime(ms, tz)}`;
}
/** Parses '114/03/05', '114-03-05', '114年3月5日' or an ISO date into 'YYYY-MM-DD'; null when invalid. */
export function parseRocDate(input: string): string | null {
  const s = input.trim();
  if (isIsoDate(s)) return s;
  const m = /^(?:民國\s*)?(\d{2,3})\s*[/.\-年]\s*(\d{1,2})\s*[/.\-月]\s*(\d{1,2})\s*日?$/.exec(s);
  if (!m) return null;
  const iso = `${Number(m[1]) + 1911}-${pad(Number(m[2]))}-${pad(Number(m[3]))}`;
  return isIsoDate(iso) ? iso : null;
}
export const iso = (ms: number | null | undefined): string | null => (ms == null ? null : new Date(Number(ms)).toISOString());
