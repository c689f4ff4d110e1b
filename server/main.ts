// Process entry: configuration, database, migrations, jobs, listen; graceful shutdown on SIGTERM.
import type { Server } from 'node:http';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { signerFor } from './queries/checkpoints.ts';
import { createDb, withAdminDb, type Db } from './db.ts';
import { createApp } from './app.ts';
import { DbSessionStore } from './web/session-store.ts';
import { log } from './log.ts';
import { allJobs } from './capabilities.ts';
import { startSchedule, type Schedule } from '../jobs/schedule.ts';
import { configureLocale } from './web/locale.ts';
import { startOutboxWorker } from './mail/service.ts';
import { closePdfBrowser } from './web/pdf.ts';

export interface Running {
  server: Server;
  db: Db;
  schedule?: Schedule;
  stop(): Promise<void>;
}

export async function startServer(cfg: Config = loadConfig(), opts: { port?: number } = {}): Promise<Running> {
  configureLocale();
  // Checkpoints of the query log are signed with a key outside the database; production refuses
  // to run without one, and a bad key file stops any start (before the database is touched).
  if (cfg.NODE_ENV === 'production' && !cfg.CHECKPOINT_KEY_FILE) throw new ConfigError('CHECKPOINT_KEY_FILE', 'is required in production: checkpoints of the query log must be signed (a PEM Ed25519 private key)');
  const signer = signerFor(cfg);
  const db = createDb(cfg);
  await withAdminDb({ cfg, db }, (adb) => adb.migrate.latest()); // the app's own account cannot change the schema
  const users = await db('users').count({ n: '*' }).first();
  if (!Number(users?.n)) {
    log.warn('no accounts yet: create the first planning-department admin with `npx nhi-audit bootstrap-admin --account NAME`');
    process.stdout.write('尚無任何帳號。請執行 `npx nhi-audit bootstrap-admin --account 帳號` 建立計畫處管理者（會印出一次性密碼）。\n');
  }
  const sessions = new DbSessionStore(db, cfg.SESSION_IDLE_MINUTES * 60_000);
  const app = createApp({ cfg, db, sessions });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(opts.port ?? cfg.PORT, cfg.HOST, () => resolve(s));
    s.on('error', reject);
  });
  server.keepAliveTimeout = 5000;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : cfg.PORT;
  log.info({ port, db: cfg.DB_CLIENT }, 'listening');
  process.stdout.write(`NHI Query Audit listening on http://localhost:${port} (${cfg.DB_CLIENT})\n`);
  if (signer) log.info({ keyId: signer.keyId.slice(0, 16), witness: cfg.WITNESS_DIR }, 'query-log checkpoints signed');
  else {
    log.warn('CHECKPOINT_KEY_FILE is not set: query-log checkpoints are recorded UNSIGNED (development only)');
    process.stdout.write('checkpoints: unsigned (CHECKPOINT_KEY_FILE not set; development only)\n');
  }

  let schedule: Schedule | undefined;
  if (cfg.JOBS_ENABLED) {
    schedule = startSchedule({ cfg, db }, allJobs(), cfg.TZ_DISPLAY);
    void schedule.catchUp().catch((e) => log.error({ err: e }, 'catch-up failed'));
  }

  // Mail (issue 18): the outbox's delivery loop; without SMTP_URL it says once that mail is off.
  const outbox = cfg.JOBS_ENABLED ? startOutboxWorker(db, cfg) : null;

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      schedule?.stop();
      await outbox?.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 10_000).unref();
      });
      sessions.close();
      await closePdfBrowser();
      await db.destroy();
    })());
  return { server, db, schedule, stop };
}

/** Runs the server until SIGTERM/SIGINT: stop taking requests, finish those in flight, close the pool. */
export async function serveForever(): Promise<void> {
  const running = await startServer();
  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down');
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
