// Job definitions. Capabilities contribute theirs through their `jobs` field (server/capability.ts).
import type { Config } from '../server/config.ts';
import type { Db } from '../server/db.ts';

export interface JobContext {
  cfg: Config;
  db: Db;
  /** Reports progress (0..1) for long jobs; shown by exports. */
  progress?: (fraction: number, note?: string) => void;
}

export interface JobDef {
  name: string;
  /** node-cron expression in Asia/Taipei; absent for on-demand jobs. */
  cron?: string;
  /** What --period looks like, for messages. */
  periodFormat: string;
  /** The period a scheduled run at `at` works on (e.g. the previous month). */
  periodFor(at: number): string;
  /** null when valid, else a message naming the problem. */
  validatePeriod(period: string, at: number): string | null;
  run(ctx: JobContext, period: string, scope: RunScope): Promise<unknown>;
  /**
   * Per-agency jobs (issue 17): the agencies still owed this period's work (jobs/coverage.ts).
   * A period that is done re-runs without --force for just these, as a top-up generation.
   */
  pending?(ctx: JobContext, period: string): Promise<number[]>;
}

/** What one run is to do: its lock row, and for a per-agency job the agencies it covers. */
export interface RunScope {
  runId: number;
  /** Agencies to cover; null: every agency (a forced run, or a job that is not per agency). */
  only: number[] | null;
  /** all: the period's first or a forced run; missing: a top-up for owed agencies; agency: one, from the web. */
  kind: 'all' | 'missing' | 'agency';
}
