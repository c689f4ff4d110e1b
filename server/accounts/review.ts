// Account review (clause 3(二)2: 定期辦理帳號清查) and the daily password-expiry sweep
// (3(二)1(5)). Findings are computed by a pure function over a snapshot; each becomes a review
// item that the responsible admin decides (keep with a reason, or disable), kept as a record.
import type { Config } from '../config.ts';
import type { Db } from '../db.ts';
import type { JobContext, JobDef } from '../../jobs/registry.ts';
import { dayPeriod, monthPeriod } from '../../jobs/periods.ts';
import { localDate, localParts, localTime, now } from '../time.ts';
import { recordEvent, SYSTEM_ACTOR } from '../events/service.ts';
import { conflict, forbidden, notFound } from '../problem.ts';
import { directoryFor, type Directory } from '../auth/ldap.ts';
import { canManageUser, isAdmin, subtree } from './delegation.ts';
import * as repo from './repo.ts';
import { disableNow } from './service.ts';
import type { Actor } from '../actor.ts';
import { allUnits, type UnitRow } from './units.ts';
import { pendingUnits, recordCovered } from '../../jobs/coverage.ts';
import { FINDING_LABELS } from '../labels.ts';
import { isAddress } from '../mail/rules.ts';

export const ACCOUNT_REVIEW_JOB = 'account-review';

/**
 * The review is done per agency (issue 17): each account counts towards its agency, or the
 * planning department for the county's own accounts. Returns unit id → its group (agency or planning).
 */
function reviewGroups(units: UnitRow[]): Map<number, number> {
  const byId = new Map(units.map((u) => [u.id, u]));
  const out = new Map<number, number>();
  for (const u of units) {
    let g: UnitRow | undefined = u;
    while (g && g.kind === 'unit') g = g.parent_id != null ? byId.get(g.parent_id) : undefined;
    if (g) out.set(u.id, g.id);
  }
  return out;
}

/** Agencies (and the planning department) owed the month's review: not reviewed yet, or reviewed with no accounts and holding some now. */
export async function pendingReviewUnits(db: Db, period: string): Promise<number[]> {
  const units = await allUnits(db);
  const groups = reviewGroups(units);
  const ids = units.filter((u) => u.kind !== 'unit').map((u) => u.id);
  return pendingUnits(db, ACCOUNT_REVIEW_JOB, period, ids, async (emptyIds) => {
    const live = await db('users').whereNot('status', 'disabled').distinct('unit_id').pluck('unit_id');
    return new Set(live.map((id: unknown) => groups.get(Number(id))).filter((g): g is number => g != null && emptyIds.includes(g)));
  });
}

const DAY = 86_400_000;
/** Sign-ins of the last 30 days are looked at for after-hours use and shared addresses. */
export const LOGIN_WINDOW_DAYS = 30;

export const FINDINGS = ['idle', 'never-activated', 'duplicate-person', 'directory-missing', 'password-expired', 'disable-overdue', 'after-hours-login', 'shared-address', 'concurrent-session'] as const;
export type FindingKind = (typeof FINDINGS)[number];
export { FINDING_LABELS };

export interface ReviewUser {
  id: number; account: string; unitId: number; status: string; authSource: string; personHmac: string | null;
  lastLoginAt: number | null; createdAt: number; passwordChangedAt: number | null; activationExpiresAt: number | null; disableOn: string | null;
}
export interface LoginSeen { userId: number; at: number; ip: string | null }
export interface Finding { userId: number; unitId: number; finding: FindingKind; detail: Record<string, unknown> }

type Policy = Pick<Config, 'ACCOUNT_IDLE_DAYS' | 'PASSWORD_MAX_AGE_DAYS' | 'OFFICE_HOURS_START' | 'OFFICE_HOURS_END'>;

/** True when the instant falls outside office hours or on a weekend (Asia/Taipei). */
export function outsideOfficeHours(at: number, cfg: Pick<Config, 'OFFICE_HOURS_START' | 'OFFICE_HOURS_END'>): boolean {
  const wd = localParts(at).weekday;
  if (wd === 0 || wd === 6) return true;
  const hm = localTime(at);
  return hm < cfg.OFFICE_HOURS_START || hm >= cfg.OFFICE_HOURS_END;
}

/** The review's findings over a snapshot. Disabled accounts are already done with. */
export function reviewFindings(input: { users: ReviewUser[]; logins: LoginSeen[]; concurrent: LoginSeen[]; directoryMissing: ReadonlySet<number>; at: number; cfg: Policy }): Finding[] {
  const { at, cfg } = input;
  const live = input.users.filter((u) => u.status !== 'disabled');
  const byId = new Map(live.map((u) => [u.id, u]));
  const today = localDate(at);
  const out: Finding[] = [];
  const add = (u: ReviewUser, finding: FindingKind, detail: Record<string, unknown> = {}) => out.push({ userId: u.id, unitId: u.unitId, finding, detail });
  const idleSince = at - cfg.ACCOUNT_IDLE_DAYS * DAY;
  for (const u of live) {
    if (u.status === 'pending') {
      if (!u.activationExpiresAt || u.activationExpiresAt <= at) add(u, 'never-activated', { createdAt: new Date(u.createdAt).toISOString() });
      continue;
    }
    const last = u.lastLoginAt ?? null;
    if ((last ?? u.createdAt) < idleSince) add(u, 'idle', { lastLoginAt: last == null ? null : new Date(last).toISOString(), days: cfg.ACCOUNT_IDLE_DAYS });
    if (u.authSource === 'local' && (u.passwordChangedAt == null || at - u.passwordChangedAt > cfg.PASSWORD_MAX_AGE_DAYS * DAY)) {
      add(u, 'password-expired', { passwordChangedAt: u.passwordChangedAt == null ? null : new Date(u.passwordChangedAt).toISOString() });
    }
    if (u.disableOn && u.disableOn <= today) add(u, 'disable-overdue', { disableOn: u.disableOn });
    if (u.authSource === 'ldap' && input.directoryMissing.has(u.id)) add(u, 'directory-missing', {});
  }
  // One person, one account (3(二)1(4)).
  const byPerson = new Map<string, ReviewUser[]>();
  for (const u of live) if (u.personHmac) byPerson.set(u.personHmac, [...(byPerson.get(u.personHmac) ?? []), u]);
  for (const group of byPerson.values()) {
    if (group.length < 2) continue;
    for (const u of group) add(u, 'duplicate-person', { accounts: group.map((g) => g.account).sort() });
  }
  const from = at - LOGIN_WINDOW_DAYS * DAY;
  const logins = input.logins.filter((l) => l.at >= from && l.at < at && byId.has(l.userId));
  const afterHours = new Map<number, number[]>();
  for (const l of logins) if (outsideOfficeHours(l.at, cfg)) afterHours.set(l.userId, [...(afterHours.get(l.userId) ?? []), l.at]);
  for (const [id, times] of afterHours) add(byId.get(id)!, 'after-hours-login', { count: times.length, times: times.slice(0, 10).map((t) => new Date(t).toISOString()) });
  const byIp = new Map<string, Set<number>>();
  for (const l of logins) if (l.ip) byIp.set(l.ip, new Set([...(byIp.get(l.ip) ?? []), l.userId]));
  for (const [ip, ids] of byIp) {
    if (ids.size < 2) continue;
    const accounts = [...ids].map((id) => byId.get(id)!.account).sort();
    for (const id of ids) add(byId.get(id)!, 'shared-address', { ip, accounts });
  }
  const conc = new Map<number, number>();
  for (const c of input.concurrent) if (c.at >= from && c.at < at && byId.has(c.userId)) conc.set(c.userId, (conc.get(c.userId) ?? 0) + 1);
  for (const [id, count] of conc) add(byId.get(id)!, 'concurrent-session', { count });
  return out;
}

async function snapshot(db: Db, at: number) {
  const users: ReviewUser[] = (await db('users').select('id', 'account', 'unit_id', 'status', 'auth_source', 'person_hmac', 'last_login_at', 'created_at', 'password_changed_at', 'activation_expires_at', 'disable_on')).map((u: any) => ({
    id: u.id, account: u.account, unitId: u.unit_id, status: u.status, authSource: u.auth_source, personHmac: u.person_hmac,
    lastLoginAt: u.last_login_at == null ? null : Number(u.last_login_at), createdAt: Number(u.created_at),
    passwordChangedAt: u.password_changed_at == null ? null : Number(u.password_changed_at), activationExpiresAt: u.activation_expires_at == null ? null : Number(u.activation_expires_at), disableOn: u.disable_on,
  }));
  const from = at - LOGIN_WINDOW_DAYS * DAY;
  const ev = (action: string) => db('system_events').where({ action, outcome: action === 'login' ? 'ok' : 'denied' }).andWhere('at', '>=', from).andWhere('at', '<', at).whereNotNull('actor_id').select('actor_id', 'at', 'ip');
  const toSeen = (rows: any[]): LoginSeen[] => rows.map((r) => ({ userId: r.actor_id, at: Number(r.at), ip: r.ip }));
  return { users, logins: toSeen(await ev('login')), concurrent: toSeen(await ev('concurrent-session')) };
}

/** Directory accounts that no longer pass the directory's filter; null when the directory did not answer. */
async function directoryMissing(directory: Directory | null, users: ReviewUser[]): Promise<{ missing: Set<number>; unreachable: boolean; checked: number }> {
  const ldap = users.filter((u) => u.authSource === 'ldap' && u.status === 'active');
  const missing = new Set<number>();
  if (!ldap.length) return { missing, unreachable: false, checked: 0 };
  if (!directory) return { missing, unreachable: true, checked: 0 };
  for (const u of ldap) {
    const r = await directory.lookup(u.account);
    if (r.kind === 'unavailable') return { missing: new Set(), unreachable: true, checked: 0 };
    if (r.kind === 'missing') missing.add(u.id);
  }
  return { missing, unreachable: false, checked: ldap.length };
}

/**
 * `only`: the agencies (or planning department) to review — a top-up for those owed the month's
 * review; every account when absent. Under a job run (`jobRunId`) what it covered is recorded.
 */
export async function runAccountReview(db: Db, cfg: Config, period: string, opts: { trigger?: string; startedBy?: Actor; directory?: Directory | null; jobRunId?: number; only?: number[] | null; topUp?: boolean } = {}) {
  const at = now();
  const snap = await snapshot(db, at);
  const units = await allUnits(db);
  const groups = reviewGroups(units);
  const inScope = (unitId: number) => !opts.only || opts.only.includes(groups.get(unitId) ?? -1);
  // Findings over every account (one person, one account spans agencies), kept for those in scope.
  const dir = await directoryMissing(opts.directory === undefined ? directoryFor(cfg) : opts.directory, snap.users.filter((u) => inScope(u.unitId)));
  const findings = reviewFindings({ ...snap, directoryMissing: dir.missing, at, cfg }).filter((f) => inScope(f.unitId));
  const counts: Record<string, number> = {};
  for (const f of findings) counts[f.finding] = (counts[f.finding] ?? 0) + 1;
  const live = snap.users.filter((u) => u.status !== 'disabled' && inScope(u.unitId));
  const scopeIds = opts.only ?? units.filter((u) => u.kind !== 'unit').map((u) => u.id);
  const units0 = units.filter((u) => opts.only?.includes(u.id)).map((u) => u.code);
  // No account to review: recorded as an empty review, not as a review done (issue 17).
  const summary = { counts, directoryUnreachable: dir.unreachable, directoryChecked: dir.checked, loginWindowDays: LOGIN_WINDOW_DAYS, ...(live.length ? {} : { empty: true }), ...(opts.topUp ? { topUp: true, units: units0 } : {}) };
  const reviewId = await db.transaction(async (trx) => {
    if (opts.jobRunId != null) {
      const withAccounts = new Set(live.map((u) => groups.get(u.unitId)));
      for (const g of scopeIds) await recordCovered(trx, { runId: opts.jobRunId, job: ACCOUNT_REVIEW_JOB, period }, g, withAccounts.has(g) ? 'done' : 'empty');
    }
    const id = await repo.insertReview(trx, { period, trigger: opts.trigger ?? 'schedule', started_by: opts.startedBy?.id ?? null, started_at: at, finished_at: now(), users_checked: live.length, findings: findings.length, summary: JSON.stringify(summary) });
    await repo.insertReviewItems(trx, findings.map((f) => ({ review_id: id, user_id: f.userId, unit_id: f.unitId, finding: f.finding, detail: JSON.stringify(f.detail), status: 'open' })));
    const actor = opts.startedBy ? { id: opts.startedBy.id, account: opts.startedBy.account, ip: opts.startedBy.ip } : SYSTEM_ACTOR;
    await recordEvent(trx, actor, { action: 'account-review', targetType: 'account-review', targetId: id, detail: summary });
    return id;
  });
  return { reviewId, findings: findings.length, ...summary };
}

/** 404 unless the review item is about an account in the caller's subtree. */
export async function assertReviewItemVisible(db: Db, who: Actor, itemId: number): Promise<void> {
  const world = await repo.loadWorld(db);
  const [item] = await repo.reviewItems(db, { id: itemId });
  if (!item || !subtree(world, who.unitId).has(item.unit_id)) throw notFound('找不到指定的清查項目。');
}

/** The responsible admin keeps the account (with a reason) or disables it; the decision is kept. */
export async function decideReviewItem(db: Db, who: Actor, itemId: number, input: { decision: 'keep' | 'disable'; reason: string }): Promise<void> {
  const world = await repo.loadWorld(db);
  const [item] = await repo.reviewItems(db, { id: itemId });
  if (!item || !subtree(world, who.unitId).has(item.unit_id)) throw notFound('找不到指定的清查項目。');
  const roles = await repo.rolesOf(db, item.user_id);
  if (!canManageUser(world, { id: who.id, unitId: who.unitId, roles: who.roles }, { id: item.user_id, unitId: item.unit_id, roles })) {
    throw forbidden('僅負責此帳號的管理者可決定清查結果。');
  }
  if (item.status !== 'open') throw conflict('already-decided', '此清查項目已有決定，不得重複決定。');
  const t = now();
  await db.transaction(async (trx) => {
    const moved = await repo.moveReviewItem(trx, itemId, { status: input.decision === 'keep' ? 'kept' : 'disabled', decided_by: who.id, decided_at: t, decision_reason: input.reason });
    if (!moved) throw conflict('already-decided', '此清查項目已由他人決定。');
    if (input.decision === 'disable' && item.user_status !== 'disabled') await disableNow(trx, item.user_id, `帳號清查（${FINDING_LABELS[item.finding as FindingKind] ?? item.finding}）：${input.reason}`, t);
    await recordEvent(trx, { id: who.id, account: who.account, ip: who.ip }, { action: 'review-decision', targetType: 'user', targetId: item.user_id, unitId: item.unit_id, detail: { itemId, reviewId: item.review_id, finding: item.finding, decision: input.decision, reason: input.reason } });
  });
}

export async function listReviewItems(db: Db, who: Actor, f: { reviewId?: number; status?: string }) {
  const world = await repo.loadWorld(db);
  const items = await repo.reviewItems(db, { reviewId: f.reviewId, unitIds: [...subtree(world, who.unitId)], status: f.status });
  const roles = await repo.rolesFor(db, items.map((i: any) => i.user_id));
  const me = { id: who.id, unitId: who.unitId, roles: who.roles };
  return items.map((i: any) => ({
    id: i.id, reviewId: i.review_id, finding: i.finding, findingLabel: FINDING_LABELS[i.finding as FindingKind] ?? i.finding, detail: i.detail, status: i.status,
    user: { id: i.user_id, account: i.account, name: i.user_name, status: i.user_status }, unit: { id: i.unit_id, code: i.unit_code, name: i.unit_name },
    decidedBy: i.decided_by, decidedAt: i.decided_at == null ? null : Number(i.decided_at), decisionReason: i.decision_reason,
    canDecide: i.status === 'open' && isAdmin(who) && canManageUser(world, me, { id: i.user_id, unitId: i.unit_id, roles: roles.get(i.user_id) ?? [] }),
  }));
}

/**
 * Accounts within the reader's reach that mail cannot reach (issue 18): no address, or one the
 * outbox would not send to. Their reminders, escalations and alerts stay in the app only.
 */
export async function accountsWithoutEmail(db: Db, who: Actor) {
  const world = await repo.loadWorld(db);
  return (await repo.activeWithEmail(db, [...subtree(world, who.unitId)])).filter((u) => !isAddress(u.email?.trim()))
    .map((u) => ({ id: Number(u.id), account: u.account, name: u.name, unit: { id: Number(u.unit_id), code: u.unit_code, name: u.unit_name }, email: u.email ? 'invalid' : 'missing' }));
}

export async function listReviewRuns(db: Db) {
  return (await repo.listReviews(db)).map((r: any) => ({
    id: r.id, period: r.period, trigger: r.trigger, startedAt: Number(r.started_at), finishedAt: r.finished_at == null ? null : Number(r.finished_at),
    usersChecked: r.users_checked, findings: r.findings, summary: r.summary ? JSON.parse(r.summary) : {},
  }));
}

/** Daily: passwords past PASSWORD_MAX_AGE_DAYS must be changed at the next sign-in; their sessions end. */
export async function forceExpiredPasswords(db: Db, cfg: Config): Promise<{ forced: number; accounts: string[] }> {
  const at = now();
  const cutoff = at - cfg.PASSWORD_MAX_AGE_DAYS * DAY;
  const due = await db('users').where({ auth_source: 'local', status: 'active', must_change_password: false }).andWhere((q) => q.where('password_changed_at', '<', cutoff).orWhereNull('password_changed_at')).select('id', 'account', 'unit_id', 'password_changed_at');
  await db.transaction(async (trx) => {
    for (const u of due) {
      await trx('users').where({ id: u.id }).update({ must_change_password: true, updated_at: at });
      await repo.endSessions(trx, u.id);
    }
    // The events last: the event chain's head stays locked until commit (server/events/chain.ts).
    for (const u of due) {
      await recordEvent(trx, SYSTEM_ACTOR, { action: 'password-expired', targetType: 'user', targetId: u.id, unitId: u.unit_id, detail: { passwordChangedAt: u.password_changed_at == null ? null : new Date(Number(u.password_changed_at)).toISOString(), maxAgeDays: cfg.PASSWORD_MAX_AGE_DAYS } });
    }
  });
  return { forced: due.length, accounts: due.map((u: any) => u.account) };
}

/** A job context that may carry the person who asked for an on-demand run. */
export interface ReviewJobContext extends JobContext { startedBy?: Actor; directory?: Directory | null }

export const accountReviewJob: JobDef = {
  name: ACCOUNT_REVIEW_JOB,
  cron: '0 6 1 * *',
  ...monthPeriod,
  // Done per agency (issue 17): agencies created, or given accounts, after the month's review are
  // reviewed at the next run or catch-up.
  pending: (ctx, period) => pendingReviewUnits(ctx.db, period),
  async run(ctx: ReviewJobContext, period, scope) {
    return runAccountReview(ctx.db, ctx.cfg, period, { trigger: ctx.startedBy ? 'manual' : 'schedule', startedBy: ctx.startedBy, directory: ctx.directory, jobRunId: scope.runId, only: scope.only, topUp: scope.kind !== 'all' });
  },
};

export const passwordExpiryJob: JobDef = {
  name: 'password-expiry',
  cron: '30 2 * * *',
  ...dayPeriod,
  async run(ctx) {
    return forceExpiredPasswords(ctx.db, ctx.cfg);
  },
};
