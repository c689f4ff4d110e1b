// The capability contract: what each capability folder's index.ts exports (one `Capability`), and
// the shapes of its commands and demo data. Kept apart from the list (capabilities.ts) so that a
// capability's index imports only this contract, never the list that imports it back.
import type { AppContext } from './context.ts';
import type { AccessEntry, Routes } from './web/access.ts';
import type { NavEntry } from './web/views.ts';
import type { HomePanel } from './web/home.ts';
import type { JobContext, JobDef } from '../jobs/registry.ts';

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
  /** Its menu entries (grouped by duty in web/views.ts) and home-page panels, wired by createApp. */
  nav?: NavEntry[];
  homePanels?: HomePanel[];
  jobs?: JobDef[];
  commands?: Command[];
  /** Adds this capability's demo data; returns accounts it created. Runs in capability order. */
  seedDemo?(ctx: JobContext, opts: DemoOptions): Promise<DemoAccount[]>;
}
