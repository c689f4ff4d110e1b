// Command line (DESIGN.md contract): migrate, bootstrap-admin, seed-demo, job run, verify-log,
// report …, plus capability commands. Exit codes: 0 done, 1 failure, 2 bad arguments or not yet
// available, 3 the period (or thing) is already done or running.
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createDb, withAdminDb, type Db } from './db.ts';
import { allCommands, allJobs, CAPABILITIES } from './capabilities.ts';
import type { CliArgs, DemoAccount } from './capability.ts';
import { runJob } from '../jobs/runner.ts';
import { bootstrapAdmin } from './accounts/bootstrap.ts';
import { configureLocale } from './web/locale.ts';
import { doctor, grantsSql, parseAccount } from './doctor.ts';

export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, ALREADY: 3 } as const;

/** Jobs named by the contract; those whose capability is not built yet answer "not yet available". */
export const CONTRACT_JOBS = ['monthly-sampling', 'retention', 'verify-log', 'account-review', 'password-expiry', 'annual-report'];

export function parseArgs(argv: string[]): CliArgs {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  // Every value of a flag given more than once (e.g. verify-log --head); flags keeps the last.
  const repeated: Record<string, string[]> = {};
  const set = (name: string, value: string) => void (flags[name] = value, (repeated[name] ??= []).push(value));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) set(a.slice(2, eq), a.slice(eq + 1));
      else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) set(a.slice(2), argv[++i]);
      else flags[a.slice(2)] = true;
    } else positional.push(a);
  }
  return { positional, flags, repeated };
}

const USAGE = `usage: nhi-audit <command>
  serve                                   start the web app (npm start)
  migrate [--down]                        bring the database to the latest schema (--down: roll back all)
  bootstrap-admin --account NAME          create the planning-department admin; prints a one-time password
  seed-demo [--password P] [--json]       demo county with users of every role and their data
  job run NAME [--period P] [--force]     run one job now (${CONTRACT_JOBS.join(', ')})
  verify-log [--witness PATH] [--public-key FILE] [--head SEQ:HASH]…
                                          check the query-log chain, its signed checkpoints, witnesses and printed heads
  checkpoint public-key | now | rotate --new-key FILE
                                          the checkpoint signing key's public half; sign the head now; rotate the key
  doctor [--grants-sql USER[@HOST]]       the configuration's health: database, account grants, checkpoint key, witness
                                          directory; exit 0 healthy, 1 with warnings. --grants-sql: the app account's GRANTs
  report annual --year Y [--unit CODE] [--format xlsx|ods] --out F.xlsx|F.ods
  report monthly-sheet --month YYYY-MM --unit CODE [--format xlsx|ods] --out F.xlsx|F.ods
  report verify FILE                      a workbook's sheet hashes against its cover (.xlsx or .ods)`;

/** Deterministic pseudo-random numbers (mulberry32) so demo data is the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function runCli(argv: string[], io: { out?: (s: string) => void; err?: (s: string) => void } = {}): Promise<number> {
  const out = io.out ?? ((s: string) => process.stdout.write(s + '\n'));
  const err = io.err ?? ((s: string) => process.stderr.write(s + '\n'));
  const args = parseArgs(argv);
  const [cmd, sub] = args.positional;
  if (!cmd || cmd === 'help' || args.flags.help) {
    out(USAGE);
    return cmd ? EXIT.OK : EXIT.USAGE;
  }
  if (cmd === 'serve') {
    const { serveForever } = await import('./main.ts');
    try {
      await serveForever();
    } catch (e) {
      err(e instanceof ConfigError ? e.message : `failed to start: ${(e as Error).message}`);
      return EXIT.FAILURE;
    }
    return await new Promise<number>(() => undefined); // runs until a signal ends the process
  }

  let cfg: Config;
  try {
    cfg = loadConfig();
  } catch (e) {
    err(e instanceof ConfigError ? e.message : String(e));
    return EXIT.USAGE;
  }
  configureLocale();
  const db = createDb(cfg);
  try {
    return await dispatch(cfg, db, args, cmd, sub, out, err);
  } catch (e) {
    err(`error: ${(e as Error).message}`);
    return EXIT.FAILURE;
  } finally {
    await db.destroy();
  }
}

async function dispatch(cfg: Config, db: Db, args: CliArgs, cmd: string, sub: string | undefined, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const ctx = { cfg, db };
  switch (cmd) {
    case 'migrate': {
      // Schema changes need more than the app's own account holds: DATABASE_ADMIN_URL when set.
      if (args.flags.down) {
        await withAdminDb(ctx, (adb) => adb.migrate.rollback(undefined, true));
        out('rolled back all migrations');
        return EXIT.OK;
      }
      const [batch, done] = await withAdminDb(ctx, (adb) => adb.migrate.latest());
      out(done.length ? `migrated (batch ${batch}): ${done.join(', ')}` : 'already at the latest schema');
      return EXIT.OK;
    }
    case 'doctor': {
      const target = args.flags['grants-sql'];
      if (target !== undefined) {
        const account = typeof target === 'string' ? parseAccount(target) : null;
        if (!account) {
          err('doctor --grants-sql USER[@HOST]: a MariaDB account name (letters, digits, _ . $ -), host % when absent');
          return EXIT.USAGE;
        }
        if (cfg.DB_CLIENT !== 'mysql') {
          err('doctor --grants-sql: grants do not apply to SQLite (DB_CLIENT=sqlite)');
          return EXIT.USAGE;
        }
        for (const line of await grantsSql(db, account)) out(line);
        return EXIT.OK;
      }
      const r = await doctor(cfg, db);
      for (const line of r.lines) out(line);
      for (const w of r.warnings) out(`WARNING: ${w}`);
      out(r.warnings.length ? `${r.warnings.length} warning${r.warnings.length > 1 ? 's' : ''}` : 'healthy');
      return r.warnings.length ? EXIT.FAILURE : EXIT.OK;
    }
    case 'bootstrap-admin': {
      const account = args.flags.account;
      if (typeof account !== 'string' || !/^[A-Za-z0-9._-]{3,64}$/.test(account)) {
        err('bootstrap-admin: --account NAME is required (3–64 letters, digits, . _ -)');
        return EXIT.USAGE;
      }
      await db.migrate.latest();
      const name = typeof args.flags.name === 'string' ? args.flags.name : undefined;
      const r = await bootstrapAdmin(db, cfg, account, name);
      if (!r.created) {
        err(`a planning-department admin already exists (${r.existing}); nothing created`);
        return EXIT.ALREADY;
      }
      out(`created planning-department admin "${r.account}". Sign in with this one-time password and set your own at once:`);
      out(r.password);
      return EXIT.OK;
    }
    case 'seed-demo': {
      const password = typeof args.flags.password === 'string' ? args.flags.password : 'Demo-Passw0rd-2026';
      await db.migrate.latest();
      const random = seededRandom(20260101);
      const accounts: DemoAccount[] = [];
      for (const c of CAPABILITIES) if (c.seedDemo) accounts.push(...(await c.seedDemo(ctx, { password, random })));
      if (args.flags.json) out(JSON.stringify({ accounts }));
      else out(`demo county seeded: ${accounts.length} accounts (password: the one given with --password, or the default in README)`);
      return EXIT.OK;
    }
    case 'job': {
      if (sub !== 'run' || !args.positional[2]) {
        err('usage: job run NAME [--period P] [--force]');
        return EXIT.USAGE;
      }
      const name = args.positional[2];
      const job = allJobs().find((j) => j.name === name);
      if (!job) {
        err(CONTRACT_JOBS.includes(name) ? `job ${name}: not yet available` : `unknown job ${name}; known: ${allJobs().map((j) => j.name).join(', ')}`);
        return EXIT.USAGE;
      }
      if (args.flags.period === true) {
        err(`--period needs a value (${job.periodFormat})`);
        return EXIT.USAGE;
      }
      await db.migrate.latest();
      const outcome = await runJob(ctx, job, { period: args.flags.period as string | undefined, force: !!args.flags.force });
      switch (outcome.status) {
        case 'ran':
          out(`${name}: done (run ${outcome.runId}, generation ${outcome.generation})${outcome.covered == null ? '' : outcome.covered ? `: ${outcome.covered} agencies` : ': empty run, no agency had work'}`);
          if (outcome.result !== undefined) out(JSON.stringify(outcome.result));
          return EXIT.OK;
        case 'bad-period':
          err(outcome.message);
          return EXIT.USAGE;
        case 'already-done':
        case 'already-running':
          err(outcome.message);
          return EXIT.ALREADY;
        case 'failed':
          err(`${name}: failed: ${outcome.error}`);
          return EXIT.FAILURE;
      }
      return EXIT.FAILURE;
    }
    default: {
      const commands = allCommands();
      const two = sub ? commands.find((c) => c.name === `${cmd} ${sub}`) : undefined;
      const command = two ?? commands.find((c) => c.name === cmd);
      if (command) return command.run(ctx, args, out);
      const planned = ['verify-log', 'report', 'checks'];
      err(planned.includes(cmd) ? `${cmd}${sub ? ' ' + sub : ''}: not yet available` : `unknown command ${cmd}\n${USAGE}`);
      return EXIT.USAGE;
    }
  }
}
