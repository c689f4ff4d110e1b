// HTTP for mail preferences: reminders at once or in one daily digest. Mandatory duties'
// escalation, alerts and sign-in notices always go out and have no switch.
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import type { AccessEntry, Routes } from '../web/access.ts';
import { parseOr400 } from '../problem.ts';
import { now } from '../time.ts';
import { preferencesOf, setPreference } from './repo.ts';
import { mailEnabled } from './service.ts';

export const access: AccessEntry[] = [
  { method: 'GET', path: '/api/v1/me/mail-preferences', who: 'signed-in', units: 'self', note: 'own reminder preference (immediate or daily digest) and whether mail is on' },
  { method: 'PUT', path: '/api/v1/me/mail-preferences', who: 'signed-in', units: 'self', note: 'sets own reminder preference; alerts and escalations cannot be switched off' },
  { method: 'POST', path: '/accounts/me/mail-preferences', who: 'signed-in', units: 'self', note: 'the same from the form on 我的帳號' },
];

const body = z.object({ reminders: z.enum(['immediate', 'digest'], { message: '提醒方式須為「即時」(immediate) 或「每日彙整」(digest)' }) }).strict();

export function register(r: Routes, ctx: AppContext): void {
  r.get('/api/v1/me/mail-preferences', async (req, res) => {
    const p = (await preferencesOf(ctx.db, [req.actor!.id])).get(req.actor!.id) ?? 'immediate';
    res.json({ reminders: p, mail: mailEnabled(ctx.cfg), alwaysSent: ['escalation', 'alert', 'sign-in', 'lockout'] });
  });
  r.put('/api/v1/me/mail-preferences', async (req, res) => {
    const b = parseOr400(body, req.body);
    await setPreference(ctx.db, req.actor!.id, b.reminders, now());
    res.json({ reminders: b.reminders, mail: mailEnabled(ctx.cfg), alwaysSent: ['escalation', 'alert', 'sign-in', 'lockout'] });
  });
  r.post('/accounts/me/mail-preferences', async (req, res) => {
    const b = body.safeParse({ reminders: req.body?.reminders });
    if (!b.success) {
      req.session.flash = { kind: 'error', text: '提醒方式：請選擇「即時寄送」或「每日彙整」，未變更。' };
    } else {
      await setPreference(ctx.db, req.actor!.id, b.data.reminders, now());
      req.session.flash = { kind: 'ok', text: b.data.reminders === 'digest' ? '待辦提醒改為每日彙整一封。' : '待辦提醒改為即時寄送。' };
    }
    res.redirect(303, '/accounts/me#mail');
  });
}
