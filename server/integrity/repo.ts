// SQL of the integrity page: the signed checkpoints and the last verify-log run.
import type { Conn } from '../db.ts';

export const recentCheckpoints = (conn: Conn, limit: number) =>
  conn('signed_checkpoints').orderBy('id', 'desc').limit(limit).select('id', 'kind', 'seq', 'hash', 'entry_count', 'signed_at', 'key_id', 'signature', 'payload');
export const lastVerifyRun = (conn: Conn) =>
  conn('job_runs').where({ job: 'verify-log' }).whereIn('status', ['done', 'failed']).orderBy('id', 'desc').first('status', 'finished_at', 'result', 'error');
