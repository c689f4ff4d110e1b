// Writing to the outbox, in the caller's transaction (issue 18). Kept apart from service.ts (the
// to-do list, reminders, delivery) so capabilities whose events cause a mail — reconciliation, the
// integrity check — can queue it in their own transaction without importing the to-do list.
import type { Conn } from '../db.ts';
import type { Config } from '../config.ts';
import { allUnits } from '../accounts/units.ts';
import { reachOf } from '../accounts/reach.ts';
import { whereActiveNow } from '../accounts/active.ts';
import { now, rocDateTime } from '../time.ts';
import { recordedSince, recordEvent, SYSTEM_ACTOR } from '../events/service.ts';
import * as repo from './repo.ts';
import { alertMessage, headerText, isAddress, type Message } from './rules.ts';

export const mailEnabled = (cfg: Pick<Config, 'SMTP_URL'>): boolean => !!cfg.SMTP_URL;
export const baseUrl = (cfg: Pick<Config, 'PUBLIC_URL' | 'PORT'>): string => cfg.PUBLIC_URL ?? `http://localhost:${cfg.PORT}`;

export interface Outgoing { kind: string; dedupeKey: string; recipientId: number; message: Message }

/**
 * Queues messages to people, in the caller's transaction. A person without a valid address gets
 * a row marked 'no-address' (kept, so the gap is visible) and nothing is sent.
 */
export async function enqueue(conn: Conn, cfg: Pick<Config, 'SMTP_URL'>, list: Outgoing[], at = now()): Promise<void> {
  if (!mailEnabled(cfg) || !list.length) return;
  const people = await repo.addressesOf(conn, [...new Set(list.map((m) => m.recipientId))]);
  await repo.insertMessages(conn, list.map((m) => {
    const email = people.get(m.recipientId)?.email?.trim() ?? null;
    const ok = isAddress(email);
    return {
      kind: m.kind, dedupe_key: m.dedupeKey.slice(0, 191), recipient_id: m.recipientId, to_address: ok ? email : null,
      subject: headerText(m.message.subject, 200), body: m.message.body, status: ok ? 'pending' : 'no-address', next_attempt_at: at, created_at: at,
    };
  }));
}

export interface Staff { id: number; account: string; name: string; unit_id: number; roles: string[] }

/** Every account active now, with its roles. */
export async function activeStaff(conn: Conn): Promise<Staff[]> {
  const users = await whereActiveNow(conn('users as u'), 'u.').select('u.id', 'u.account', 'u.name', 'u.unit_id');
  const roles = new Map<number, string[]>();
  for (const r of await conn('user_roles').select('user_id', 'role')) roles.set(Number(r.user_id), [...(roles.get(Number(r.user_id)) ?? []), r.role]);
  return users.map((u: any) => ({ id: Number(u.id), account: u.account, name: u.name, unit_id: Number(u.unit_id), roles: roles.get(Number(u.id)) ?? [] }));
}

export type AlertSettings = Partial<Pick<Config, 'SMTP_URL' | 'PUBLIC_URL' | 'PORT'>>;

/** Labels of the alerts a capability raises in its own transaction. */
export const EVENT_ALERT_LABELS = {
  'chain-break': '查詢日誌或系統事件之雜湊鏈驗證失敗（疑遭竄改）',
  unlogged: '對帳發現未登錄之查詢',
} as const;

/**
 * An alert to the ethics unit (政風), in the transaction of the event that causes it. It is
 * recorded as an event (`alert.<kind>`, shown on the /alerts page within reach, with or without
 * mail) and queued as mail to each ethics account whose reach covers `unitId` (null, or
 * `countyWide`: only the county-wide ones, i.e. the planning department's). `key` names the cause
 * once: a second call about it adds neither event nor mail. The text is the label, the time, the
 * unit and a link: never a subject, name or mask. Returns the number of mails queued.
 */
export async function alertEthics(conn: Conn, cfg: AlertSettings, a: { kind: keyof typeof EVENT_ALERT_LABELS; key: string; unitId: number | null; countyWide?: boolean; href: string; detail?: string; at?: number }): Promise<number> {
  const at = a.at ?? now();
  const action = `alert.${a.kind}`;
  // A key is about one day's or one run's cause: looking back two days finds any repeat.
  if (!(await recordedSince(conn, { action, targetId: a.key, since: at - 2 * 86_400_000 }))) {
    await recordEvent(conn, SYSTEM_ACTOR, { action, targetType: 'alert', targetId: a.key, unitId: a.countyWide ? null : a.unitId, detail: { href: a.href, ...(a.detail ? { detail: a.detail } : {}) } });
  }
  if (!cfg.SMTP_URL) return 0;
  const units = await allUnits(conn);
  const unitName = a.unitId == null ? null : units.find((u) => u.id === a.unitId)?.name ?? null;
  const what = `${EVENT_ALERT_LABELS[a.kind]}${a.detail ? `（${a.detail}）` : ''}`;
  const message = alertMessage(what, null, unitName, rocDateTime(at), baseUrl({ PUBLIC_URL: cfg.PUBLIC_URL, PORT: cfg.PORT ?? 3000 }), a.href);
  const out: Outgoing[] = [];
  for (const s of (await activeStaff(conn)).filter((x) => x.roles.includes('ethics'))) {
    const r = reachOf(units, { unitId: s.unit_id, roles: s.roles as any });
    if (!r.countyWide && (a.countyWide || a.unitId == null || !r.unitIds.includes(a.unitId))) continue;
    out.push({ kind: 'alert', dedupeKey: `${a.kind}:${a.key}:${s.id}`, recipientId: s.id, message });
  }
  await enqueue(conn, { SMTP_URL: cfg.SMTP_URL }, out, at);
  return out.length;
}

/** The person's reminder preference (immediate unless they chose the daily digest). */
export const reminderPreferenceOf = async (conn: Conn, userId: number): Promise<'immediate' | 'digest'> =>
  (await repo.preferencesOf(conn, [userId])).get(userId) === 'digest' ? 'digest' : 'immediate';
