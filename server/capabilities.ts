// Every capability in one list: its routes and access entries, jobs, command-line commands and
// demo data. Each capability folder exports one `Capability` from its index.ts.
import type { AppContext } from './context.ts';
import type { AccessEntry, Routes } from './web/access.ts';
import type { JobContext, JobDef } from '../jobs/registry.ts';
import * as home from './web/home.ts';
import * as auth from './auth/routes.ts';
import { access as authAccess } from './auth/access.ts';
import { accounts } from './accounts/index.ts';
import { queries } from './queries/index.ts';
import { checks } from './checks/index.ts';
import { audits } from './audits/index.ts';
import { dashboard } from './dashboard/index.ts';
import { alerts } from './alerts/index.ts';
import { reconcile } from './reconcile/index.ts';
import { destruction } from './destruction/index.ts';
import { integrity } from './integrity/index.ts';
import { todos } from './todos/index.ts';
import { mail } from './mail/index.ts';
import { watchlist } from './watchlist/index.ts';

export interface CliArgs {
  positional: string[];
  flags: Record<string, string | true>;
  /** Every value of each flag, in order (a flag may be repeated). */
  repeated?: Record<string, string[]>;
}

export interface Command {
  /** e.g. 'verify-log', 'report annual', 'checks verify' */
  name: string;
  usage: string;
  /** Returns the process exit code. */
  run(ctx: JobContext, args: CliArgs, out: (line: string) => void): Promise<number>;
}

export interface DemoAccount {
  account: string;
  roles: string[];
  unit: string;
}

export interface DemoOptions {
  password: string;
  /** Fixed so demo data is the same on every run. */
  random: () => number;
}

export interface Capability {
  name: string;
  access?: AccessEntry[];
  register?(r: Routes, ctx: AppContext): void;
  jobs?: JobDef[];
  commands?: Command[];
  /** Adds this capability's demo data; returns accounts it created. Runs in capability order. */
  seedDemo?(ctx: JobContext, opts: DemoOptions): Promise<DemoAccount[]>;
}

export const CAPABILITIES: Capability[] = [
  { name: 'home', access: home.access, register: home.register, jobs: [home.pruneSessionsJob] },
  { name: 'auth', access: authAccess, register: auth.register },
  accounts,
  queries,
  checks,
  audits,
  dashboard,
  alerts,
  reconcile,
  destruction,
  integrity,
  todos,
  mail,
  watchlist,
];

export const allJobs = (): JobDef[] => CAPABILITIES.flatMap((c) => c.jobs ?? []);
export const allCommands = (): Command[] => CAPABILITIES.flatMap((c) => c.commands ?? []);
