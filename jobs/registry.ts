// Job definitions. Capabilities contribute theirs through CAPABILITY_JOBS in server/capabilities.ts.
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
  run(ctx: JobContext, period: string): Promise<unknown>;
}
