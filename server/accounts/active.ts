// Clause 3(二)1(6): an account counts as disabled from the start of its scheduled disable day
// (Taipei), whether or not the disable job has run yet. One rule for every path that asks: sign-in
// and sessions (auth), service tokens (web/middleware), recording (queries), and the users picked
// for checks and investigations.
import type { Knex } from 'knex';
import { localDate, now } from '../time.ts';

/** True when the account cannot act now: not active, or its scheduled disable day has come. */
export function isDisabledNow(u: { status: string; disable_on: string | null }, at = now()): boolean {
  if (u.status !== 'active') return true;
  return !!u.disable_on && u.disable_on <= localDate(at);
}

/** The same rule as a condition on `users` (`prefix` 'u.' when the table is aliased). */
export function whereActiveNow<Q extends Knex.QueryBuilder>(q: Q, prefix = '', at = now()): Q {
  return q.where(`${prefix}status`, 'active').andWhere((w) => w.whereNull(`${prefix}disable_on`).orWhere(`${prefix}disable_on`, '>', localDate(at))) as Q;
}
