// Period kinds shared by job definitions: an hour, a day, a month or a year in Asia/Taipei.
import { isIsoDate, isMonth, localDate, localMonth, localTime, previousMonth, addDays } from '../server/time.ts';

/** The hour 'YYYY-MM-DDTHH': for the hourly checkpoint of the query log. */
const hourOf = (at: number) => `${localDate(at)}T${localTime(at).slice(0, 2)}`;
export const hourPeriod = {
  periodFormat: 'YYYY-MM-DDTHH',
  periodFor: hourOf,
  validatePeriod: (p: string, at: number) => (!/^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3])$/.test(p) || !isIsoDate(p.slice(0, 10)) ? 'not an hour' : p > hourOf(at) ? 'is in the future' : null),
};
export const dayPeriod = {
  periodFormat: 'YYYY-MM-DD',
  periodFor: (at: number) => localDate(at),
  validatePeriod: (p: string, at: number) => (!isIsoDate(p) ? 'not a date' : p > localDate(at) ? 'is in the future' : null),
};
/** Yesterday's date: for daily jobs that look back at a finished day. */
export const previousDayPeriod = { ...dayPeriod, periodFor: (at: number) => addDays(localDate(at), -1) };
export const monthPeriod = {
  periodFormat: 'YYYY-MM',
  periodFor: (at: number) => localMonth(at),
  validatePeriod: (p: string, at: number) => (!isMonth(p) ? 'not a month' : p > localMonth(at) ? 'is in the future' : null),
};
/** The previous month: for the 1st-of-month jobs (monthly sampling). */
export const previousMonthPeriod = {
  ...monthPeriod,
  periodFor: (at: number) => previousMonth(localMonth(at)),
  validatePeriod: (p: string, at: number) => (!isMonth(p) ? 'not a month' : p >= localMonth(at) ? 'has not ended yet' : null),
};
export const previousYearPeriod = {
  periodFormat: 'YYYY',
  periodFor: (at: number) => String(Number(localDate(at).slice(0, 4)) - 1),
  validatePeriod: (p: string, at: number) => (!/^\d{4}$/.test(p) ? 'not a year' : Number(p) >= Number(localDate(at).slice(0, 4)) ? 'has not ended yet' : Number(p) < 2000 ? 'is too early' : null),
};
