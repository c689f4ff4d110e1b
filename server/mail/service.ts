// Mail (issue 18): messages go into the outbox in the transaction of the event that causes them
// (or, for reminders and alerts, from records already committed, each under a dedupe key so a
// second pass adds nothing); the delivery job claims rows with a lease and sends them through the
// county's SMTP relay with retries and back-off. No SMTP_URL: nothing is queued (in-app only: the
// to-do list and the alerts page).
import crypto from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Conn, Db } from '../db.ts';
import type { Config } from '../config.ts';
import { allUnits, agencyIn, type UnitRow } from '../accounts/units.ts';
import { reachOf } from '../accounts/reach.ts';
import { eventsAbout } from '../events/repo.ts';
import { ALERT_LABELS } from '../events/service.ts';
import { todosFor } from '../todos/service.ts';
import { isOverdue, type Todo } from '../todos/rules.ts';
import { addDays, localDate, now, rocDateTime } from '../time.ts';
import { log } from '../log.ts';
import { watchedHmacs } from '../watchlist/repo.ts';
import * as repo from './repo.ts';
import { LEASE_MS, alertMessage, signInMessage, backoffMs, digestMessage, escalationMessage, reminderMessage } from './rules.ts';
import { activeStaff, baseUrl, enqueue, mailEnabled, type Outgoing, type Staff } from './outbox.ts';
import { isRole } from '../accounts/roles.ts';

export type MailSettings = Pick<Config, 'SMTP_URL' | 'MAIL_FROM' | 'PUBLIC_URL' | 'PORT' | 'MAIL_REMINDER_DAYS' | 'MAIL_MAX_ATTEMPTS' | 'PASSWORD_MAX_AGE_DAYS'>;

export { mailEnabled, baseUrl, enqueue, alertEthics, type Outgoing } from './outbox.ts';

export type Transport = Pick<Transporter, 'sendMail' | 'close'>;

/** The relay: a small pool, short timeouts so a dead server fails an attempt quickly rather than holding a claim. */
export function transportFor(cfg: Pick<Config, 'SMTP_URL'>): Transport {
  return nodemailer.createTransport({ url: cfg.SMTP_URL, pool: true, maxConnections: 2, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 } as any);
}

export interface DeliveryResult { sent: number; retried: number; failed: number }

/**
 * Sends what is due: claims a batch under a lease, sends each, records the outcome, and goes on
 * until nothing is due. Two instances never hold the same row; a failure waits for its back-off.
 */
export async function deliverOutbox(db: Db, cfg: MailSettings, transport: Transport, o: { batch?: number; owner?: string; maxBatches?: number } = {}): Promise<DeliveryResult> {
  const owner = o.owner ?? crypto.randomBytes(16).toString('hex');
  const out: DeliveryResult = { sent: 0, retried: 0, failed: 0 };
  const domain = cfg.MAIL_FROM.split('@')[1] ?? 'localhost';
  for (let b = 0; b < (o.maxBatches ?? Infinity); b++) {
    const at = now();
    const rows = await repo.claim(db, owner, at, at + LEASE_MS, o.batch ?? 50);
    if (!rows.length) break;
    await Promise.all(rows.map(async (r) => {
      try {
        // The Message-ID is the row's own: a resend after a crash between the relay's acceptance and the
        // commit below carries the same id, so mail systems can drop the duplicate.
        const info = await transport.sendMail({
          from: { name: '健保查詢稽核系統', address: cfg.MAIL_FROM }, to: r.to_address!, subject: r.subject, text: r.body,
          messageId: `<outbox-${r.id}-${r.created_at}@${domain}>`, disableFileAccess: true, disableUrlAccess: true,
        });
        await repo.markSent(db, r.id, owner, now(), String(info?.messageId ?? '').slice(0, 200) || null);
        out.sent++;
      } catch (e) {
        const attempts = Number(r.attempts) + 1;
        const failed = attempts >= cfg.MAIL_MAX_ATTEMPTS;
        await repo.markRetry(db, r.id, owner, attempts, now() + backoffMs(attempts), String((e as Error)?.message ?? e), failed);
        if (failed) out.failed++;
        else out.retried++;
      }
    }));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reminders and escalation (daily)

/** Who hears of an overdue duty: the unit's supervisors (單位主管) and the agency's admins; for a filing, the planning department's admins. */
export function escalationTargets(staff: Staff[], units: UnitRow[], person: Staff, t: Todo): number[] {
  if (t.kind === 'filing') return staff.filter((s) => s.roles.includes('planning_admin')).map((s) => s.id);
  const agency = agencyIn(units, person.unit_id);
  const heads = staff.filter((s) => s.unit_id === person.unit_id && s.roles.includes('supervisor'));
  const admins = staff.filter((s) => agency && s.unit_id === agency.id && s.roles.includes('admin'));
  return [...new Set([...heads, ...admins].map((s) => s.id))].filter((id) => id !== person.id);
}

/**
 * The day's reminders: a duty within MAIL_REMINDER_DAYS of its due date is mailed to its person
 * (one mail a day for those who chose the digest); an overdue one also goes, once, to the people
 * who oversee it. Re-running the same day adds nothing (dedupe keys carry the duty and its date).
 */
export async function runReminders(db: Db, cfg: MailSettings, at = now()): Promise<{ reminders: number; escalations: number; digests: number }> {
  const counts = { reminders: 0, escalations: 0, digests: 0 };
  if (!mailEnabled(cfg)) return counts;
  const today = localDate(at);
  const units = await allUnits(db);
  const staff = await activeStaff(db);
  const prefs = await repo.preferencesOf(db, staff.map((s) => s.id));
  for (const person of staff) {
    const list = (await todosFor(db, cfg, { id: person.id, account: person.account, unitId: person.unit_id, roles: person.roles.filter(isRole) }, at)).filter((t) => t.due != null && today >= addDays(t.due, -cfg.MAIL_REMINDER_DAYS));
    if (!list.length) continue;
    const out: Outgoing[] = [];
    const unitName = units.find((u) => u.id === person.unit_id)?.name ?? '';
    const dueKey = (t: Todo) => `${person.id}:${t.kind}:${t.ref}:${t.due}`;
    if (prefs.get(person.id) === 'digest') {
      out.push({ kind: 'digest', dedupeKey: `digest:${person.id}:${today}`, recipientId: person.id, message: digestMessage(list.map((t) => ({ todo: t, overdue: isOverdue(t, today) })), baseUrl(cfg)) });
      counts.digests++;
    }
    for (const t of list) {
      const overdue = isOverdue(t, today);
      if (prefs.get(person.id) !== 'digest') {
        out.push({ kind: 'reminder', dedupeKey: `${overdue ? 'overdue' : 'remind'}:${dueKey(t)}`, recipientId: person.id, message: reminderMessage(t, baseUrl(cfg), overdue) });
        counts.reminders++;
      }
      // Escalation is mandatory, and goes once per overdue duty.
      if (overdue) {
        for (const to of escalationTargets(staff, units, person, t)) {
          out.push({ kind: 'escalation', dedupeKey: `esc:${dueKey(t)}:${to}`, recipientId: to, message: escalationMessage(t, person, unitName, baseUrl(cfg)) });
          counts.escalations++;
        }
      }
    }
    await db.transaction((trx) => enqueue(trx, cfg, out, at));
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Alerts to the ethics unit (政風)

/**
 * Mails each alert event of the last day to the ethics staff whose reach covers its unit. Runs
 * with every delivery pass, so an alert goes out within one poll of the event's commit; the dedupe
 * key (event × recipient) makes every pass after the first add nothing.
 */
export async function queueAlerts(db: Db, cfg: MailSettings, at = now()): Promise<number> {
  if (!mailEnabled(cfg)) return 0;
  const events = await eventsAbout(db, { actions: Object.keys(ALERT_LABELS), unitIds: null, since: at - 86_400_000, limit: 1000 });
  if (!events.length) return 0;
  const units = await allUnits(db);
  const ethics = (await activeStaff(db)).filter((s) => s.roles.includes('ethics'));
  const reach = new Map(ethics.map((s) => [s.id, reachOf(units, { unitId: s.unit_id, roles: s.roles as any })]));
  const out: Outgoing[] = [];
  for (const e of events) {
    const unitId = e.unit_id == null ? null : Number(e.unit_id);
    const unitName = unitId == null ? null : units.find((u) => u.id === unitId)?.name ?? null;
    const message = alertMessage(ALERT_LABELS[e.action] ?? e.action, e.actor_account ?? null, unitName, rocDateTime(Number(e.at)), baseUrl(cfg));
    for (const s of ethics) {
      const r = reach.get(s.id)!;
      if (unitId != null && !r.countyWide && !r.unitIds.includes(unitId)) continue;
      out.push({ kind: 'alert', dedupeKey: `alert:${e.id}:${s.id}`, recipientId: s.id, message });
    }
  }
  await db.transaction((trx) => enqueue(trx, cfg, out, at));
  return out.length;
}

/** Labels of the alerts found in the query log itself (self-lookup, a watch-listed subject). */
export const ENTRY_ALERT_LABELS = { 'self-lookup': '查詢人員查詢本人資料', 'watch-list': '查詢政風關注名單所列對象' } as const;

/**
 * Reads the query log entries recorded since the last scan (a watermark; the first scan starts at
 * the head, not the history) and alerts ethics to a self-lookup or a watch-listed subject. Entries
 * are read by id, a page at a time; the identifier is compared as HMAC and goes nowhere.
 */
export async function queueEntryAlerts(db: Db, cfg: MailSettings, at = now(), page = 5000): Promise<number> {
  if (!mailEnabled(cfg)) return 0;
  const mark = await db('mail_watermarks').where({ name: 'entries' }).first('value');
  if (!mark) {
    const head = Number((await db('query_logs').max({ m: 'id' }).first())?.m ?? 0);
    await db('mail_watermarks').insert({ name: 'entries', value: head }).onConflict('name').ignore();
    return 0;
  }
  const rows = await db('query_logs').where('id', '>', Number(mark.value)).orderBy('id').limit(page).select('id', 'user_id', 'account', 'unit_id', 'subject_hmac', 'queried_at');
  if (!rows.length) return 0;
  const watched = await watchedHmacs(db);
  const persons = new Map<number, string>((await db('users').whereIn('id', [...new Set(rows.map((r: any) => Number(r.user_id)))]).whereNotNull('person_hmac').select('id', 'person_hmac')).map((u: any) => [Number(u.id), u.person_hmac]));
  const hits: Array<{ row: any; kind: keyof typeof ENTRY_ALERT_LABELS }> = [];
  for (const r of rows) {
    if (persons.get(Number(r.user_id)) === r.subject_hmac) hits.push({ row: r, kind: 'self-lookup' });
    if (watched.has(r.subject_hmac)) hits.push({ row: r, kind: 'watch-list' });
  }
  const out: Outgoing[] = [];
  if (hits.length) {
    const units = await allUnits(db);
    const ethics = (await activeStaff(db)).filter((s) => s.roles.includes('ethics'));
    for (const { row, kind } of hits) {
      const unitId = Number(row.unit_id);
      const unitName = units.find((u) => u.id === unitId)?.name ?? null;
      const message = alertMessage(ENTRY_ALERT_LABELS[kind], row.account, unitName, rocDateTime(Number(row.queried_at)), baseUrl(cfg), `/query-logs/${row.id}`);
      for (const s of ethics) {
        const r = reachOf(units, { unitId: s.unit_id, roles: s.roles as any });
        if (!r.countyWide && !r.unitIds.includes(unitId)) continue;
        out.push({ kind: 'alert', dedupeKey: `entry:${row.id}:${kind}:${s.id}`, recipientId: s.id, message });
      }
    }
  }
  const last = Number(rows[rows.length - 1].id);
  await db.transaction(async (trx) => {
    await enqueue(trx, cfg, out, at);
    // Only forward: two instances scanning the same page add the same dedupe keys, and nothing twice.
    await trx('mail_watermarks').where({ name: 'entries' }).andWhere('value', '<', last).update({ value: last });
  });
  return out.length + (rows.length === page ? await queueEntryAlerts(db, cfg, at, page) : 0);
}

/**
 * Sign-in notices: reads the sign-in and lockout events since the last scan (a watermark; the first
 * scan starts at the head) and mails the account's owner on a sign-in from an address it has not
 * signed in from before (the first sign-in ever only records its address) and on a lockout.
 */
export async function queueSignInNotices(db: Db, cfg: MailSettings, at = now(), page = 2000): Promise<number> {
  if (!mailEnabled(cfg)) return 0;
  const mark = await db('mail_watermarks').where({ name: 'sign-ins' }).first('value');
  if (!mark) {
    const head = Number((await db('system_events').max({ m: 'id' }).first())?.m ?? 0);
    await db('mail_watermarks').insert({ name: 'sign-ins', value: head }).onConflict('name').ignore();
    return 0;
  }
  const rows = await db('system_events').where('id', '>', Number(mark.value)).andWhere((w) => w.where({ action: 'login', outcome: 'ok' }).orWhere({ action: 'lockout' }))
    .andWhere('target_type', 'user').whereNotNull('target_id').orderBy('id').limit(page).select('id', 'action', 'target_id', 'ip', 'at');
  const top = Number((await db('system_events').max({ m: 'id' }).first())?.m ?? mark.value);
  const last = rows.length === page ? Number(rows[rows.length - 1].id) : top;
  const out: Outgoing[] = [];
  await db.transaction(async (trx) => {
    for (const e of rows) {
      const userId = Number(e.target_id);
      if (!Number.isInteger(userId)) continue;
      const when = rocDateTime(Number(e.at));
      if (e.action === 'lockout') {
        out.push({ kind: 'lockout', dedupeKey: `signin:${e.id}`, recipientId: userId, message: signInMessage('lockout', e.ip, when, baseUrl(cfg)) });
        continue;
      }
      const address = String(e.ip ?? '').slice(0, 64);
      if (!address) continue;
      const seen = await trx('sign_in_addresses').where({ user_id: userId }).pluck('address');
      if (seen.includes(address)) continue;
      await trx('sign_in_addresses').insert({ user_id: userId, address, first_at: Number(e.at) }).onConflict(['user_id', 'address']).ignore();
      if (seen.length) out.push({ kind: 'sign-in', dedupeKey: `signin:${e.id}`, recipientId: userId, message: signInMessage('new-address', address, when, baseUrl(cfg)) });
    }
    await enqueue(trx, cfg, out, at);
    await trx('mail_watermarks').where({ name: 'sign-ins' }).andWhere('value', '<', last).update({ value: last });
  });
  return out.length + (rows.length === page ? await queueSignInNotices(db, cfg, at, page) : 0);
}

// ---------------------------------------------------------------------------------------------
// The delivery loop of a running server

export interface OutboxWorker { stop(): Promise<void>; tick(): Promise<void> }

/** Every `intervalMs`: alerts queued, then the outbox delivered. A pass never overlaps the previous one. */
export function startOutboxWorker(db: Db, cfg: MailSettings, intervalMs = 15_000): OutboxWorker | null {
  if (!mailEnabled(cfg)) {
    log.info('SMTP_URL is not set: mail is off, duties and alerts are shown in the app only');
    process.stdout.write('mail: off (SMTP_URL not set; to-do list and alerts in the app only)\n');
    return null;
  }
  const transport = transportFor(cfg);
  let running: Promise<void> | null = null;
  const tick = () => (running ??= (async () => {
    try {
      await queueAlerts(db, cfg);
      await queueEntryAlerts(db, cfg);
      await queueSignInNotices(db, cfg);
      await deliverOutbox(db, cfg, transport);
    } catch (e) {
      log.error({ err: e }, 'mail delivery pass failed'); // retried on the next pass; never crashes the server
    } finally {
      running = null;
    }
  })());
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return {
    tick,
    async stop() {
      clearInterval(timer);
      await running;
      transport.close();
    },
  };
}
