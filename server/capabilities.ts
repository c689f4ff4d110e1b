// Every capability in one list: its routes and access entries, jobs, command-line commands and
// demo data. Each capability folder exports one `Capability` (capability.ts) from its index.ts.
import type { Capability, Command } from './capability.ts';
import type { JobDef } from '../jobs/registry.ts';
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

export const CAPABILITIES: Capability[] = [
  { name: 'home', access: home.access, register: home.register, nav: home.nav, jobs: [home.pruneSessionsJob] },
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
