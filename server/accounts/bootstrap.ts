// `bootstrap-admin`: the first planning-department admin, with a one-time password that must be
// changed at first sign-in (clause 3(二)1(3)). Printed once to the operator's terminal only.
import crypto from 'node:crypto';
import type { Config } from '../config.ts';
import type { Db } from '../db.ts';
import { now } from '../time.ts';
import { hashPassword } from '../auth/passwords.ts';
import { recordEvent, SYSTEM_ACTOR } from '../events/service.ts';

/** A random password that satisfies the policy (upper, lower, digit, length ≥ 16). */
export function oneTimePassword(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  const pick = (set: string) => set[crypto.randomInt(set.length)];
  const chars = [pick('ABCDEFGHJKLMNPQRSTUVWXYZ'), pick('abcdefghijkmnopqrstuvwxyz'), pick('23456789')];
  while (chars.length < 18) chars.push(pick(alphabet));
  for (let i = chars.length - 1; i > 0; i--) {
    const j = crypto.randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join('');
}

export async function ensurePlanningUnit(db: Db, cfg: Pick<Config, 'COUNTY_NAME'>): Promise<number> {
  const existing = await db('units').where({ kind: 'planning' }).first('id');
  if (existing) return existing.id;
  const [id] = await db('units').insert({ code: 'PLAN', name: `${cfg.COUNTY_NAME}計畫處`, kind: 'planning', parent_id: null, has_sections: true, status: 'active', created_at: now() });
  return Number(id);
}

export type BootstrapResult = { created: true; account: string; password: string } | { created: false; existing: string };

export async function bootstrapAdmin(db: Db, cfg: Config, account: string, name = '計畫處系統管理者'): Promise<BootstrapResult> {
  const existing = await db('users as u').join('user_roles as r', 'r.user_id', 'u.id').where('r.role', 'planning_admin').first('u.account');
  if (existing) return { created: false, existing: existing.account };
  if (await db('users').where({ account }).first('id')) return { created: false, existing: account };
  const unitId = await ensurePlanningUnit(db, cfg);
  const password = oneTimePassword();
  const hash = await hashPassword(password);
  const t = now();
  await db.transaction(async (trx) => {
    const [id] = await trx('users').insert({
      account, name, unit_id: unitId, rank: 'division_chief', auth_source: 'local', password_hash: hash, password_changed_at: t,
      must_change_password: true, status: 'active', created_at: t, updated_at: t,
    });
    await trx('user_roles').insert({ user_id: Number(id), role: 'planning_admin', granted_at: t });
    await trx('password_history').insert({ user_id: Number(id), password_hash: hash, created_at: t });
    await recordEvent(trx, SYSTEM_ACTOR, { action: 'bootstrap-admin', targetType: 'user', targetId: Number(id), unitId });
  });
  return { created: true, account, password };
}
