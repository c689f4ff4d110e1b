// The run lock: a job runs once per (job, period), even with several instances. A unique
// (job, period, generation) row inserted in a transaction decides; the loser is told the period
// is already running or done. A finished period re-runs only when forced, as a new generation,
// so the earlier run stays as history. A per-agency job's top-up (agencies still owed the work,
// jobs/coverage.ts) is also a new generation, taken the same way: one at a time per period.
import os from 'node:os';
import type { Db } from '../server/db.ts';
import { isUniqueViolation } from '../server/db.ts';
import { now } from '../server/time.ts';

/** A 'running' row older than this is taken as abandoned by a crashed process. */
export const STALE_MS = 6 * 3_600_000;

export type LockOutcome =
  | { kind: 'acquired'; runId: number; generation: number }
  | { kind: 'running'; since: number }
  | { kind: 'done'; finishedAt: number };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isBusy = (e: unknown) => /SQLITE_BUSY/.test(String((e as { code?: string })?.code ?? ''));

export async function acquire(db: Db, job: string, period: string, opts: { force?: boolean; trigger?: string; topUp?: boolean; scope?: string } = {}): Promise<LockOutcome> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.transaction(async (trx) => {
        const last = await trx('job_runs').where({ job, period }).orderBy('generation', 'desc').first();
        const t = now();
        if (last?.status === 'running') {
          if (t - Number(last.started_at) < STALE_MS) return { kind: 'running', since: Number(last.started_at) } as const;
          await trx('job_runs').where({ id: last.id }).update({ status: 'failed', finished_at: t, error: 'abandoned: no finish recorded' });
        }
        if (last?.status === 'done' && !opts.force && !opts.topUp) return { kind: 'done', finishedAt: Number(last.finished_at) } as const;
        const generation = (last?.generation ?? 0) + 1;
        const [id] = await trx('job_runs').insert({
          job, period, generation, status: 'running', forced: !!opts.force && last?.status === 'done',
          trigger: opts.trigger ?? 'manual', scope: opts.scope ?? 'all', host: os.hostname().slice(0, 100), pid: process.pid, started_at: t,
        });
        return { kind: 'acquired', runId: Number(id), generation } as const;
      });
    } catch (e) {
      if (isUniqueViolation(e)) {
        const row = await db('job_runs').where({ job, period }).orderBy('generation', 'desc').first();
        return row?.status === 'done' ? { kind: 'done', finishedAt: Number(row.finished_at) } : { kind: 'running', since: Number(row?.started_at ?? now()) };
      }
      // Two SQLite processes racing: the loser's write is refused as busy; look again.
      if (isBusy(e) && attempt < 20) {
        await sleep(25 + Math.random() * 50);
        continue;
      }
      throw e;
    }
  }
}

/** `covered`: agencies the run did work for (per-agency jobs; 0 is an empty run), else null. */
export async function finish(db: Db, runId: number, result: unknown, covered: number | null = null): Promise<void> {
  await db('job_runs').where({ id: runId }).update({ status: 'done', finished_at: now(), result: JSON.stringify(result ?? null), covered });
}

export async function fail(db: Db, runId: number, error: unknown): Promise<void> {
  const message = error instanceof Error ? error.message : String(error);
  await db('job_runs').where({ id: runId }).update({ status: 'failed', finished_at: now(), error: message.slice(0, 2000) });
}
