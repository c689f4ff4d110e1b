import type { Capability, Command } from '../capability.ts';
import type { JobDef } from '../../jobs/registry.ts';
import { dayPeriod } from '../../jobs/periods.ts';
import { deliverOutbox, mailEnabled, queueAlerts, queueEntryAlerts, queueSignInNotices, runReminders, transportFor } from './service.ts';
import { statusCounts } from './repo.ts';
import { access, register } from './routes.ts';

/** 08:00 Taipei daily: reminders of duties falling due, and escalation of overdue ones (issue 18). */
export const mailRemindersJob: JobDef = {
  name: 'mail-reminders',
  cron: '0 8 * * *',
  ...dayPeriod,
  run: (ctx) => runReminders(ctx.db, ctx.cfg),
};

/** `mail deliver`: one delivery pass now (alerts queued, then the outbox sent); `mail status`: the outbox by status. */
const deliverCommand: Command = {
  name: 'mail deliver',
  usage: 'mail deliver   — queue alerts and send what is due in the outbox now',
  async run(ctx, _args, out) {
    if (!mailEnabled(ctx.cfg)) {
      out('SMTP_URL is not set: mail is off');
      return 0;
    }
    const transport = transportFor(ctx.cfg);
    try {
      const alerts = (await queueAlerts(ctx.db, ctx.cfg)) + (await queueEntryAlerts(ctx.db, ctx.cfg)) + (await queueSignInNotices(ctx.db, ctx.cfg));
      const r = await deliverOutbox(ctx.db, ctx.cfg, transport);
      out(JSON.stringify({ alerts, ...r }));
      return 0;
    } finally {
      transport.close();
    }
  },
};
const statusCommand: Command = {
  name: 'mail status',
  usage: 'mail status    — outbox messages by status',
  async run(ctx, _args, out) {
    out(JSON.stringify(await statusCounts(ctx.db)));
    return 0;
  },
};

/** Mail: the outbox, its delivery, reminders, escalation and alerts to the ethics unit. */
export const mail: Capability = {
  name: 'mail',
  access,
  register,
  jobs: [mailRemindersJob],
  commands: [deliverCommand, statusCommand],
};
