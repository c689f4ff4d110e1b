// SQL of query log destruction: the entries a list covers, the lists, their approvals, and the
// blanking of an approved list's entries (the one place entries change after they are written).
import type { Knex } from 'knex';
import type { Conn } from '../db.ts';
import { insertId, isMysql } from '../db.ts';
import type { Approval, Duty } from './rules.ts';

export interface DestructionRow {
  id: number;
  unit_id: number;
  cutoff: string;
  from_date: string;
  to_date: string;
  first_seq: number;
  last_seq: number;
  entry_count: number;
  segment_hash: string;
  status: string;
  prepared_at: number;
  void_reason: string | null;
  closed_at: number | null;
  checkpoint_id: number | null;
}

/** What selects a list's entries: its agency's units, queried before the cut-off, not yet destroyed, not held. */
export interface Coverage { unitIds: number[]; before: number; heldUsers: number[]; fromSeq?: number; toSeq?: number }

/**
 * Accounts whose entries are held: the clerks whose entries an open investigation points at
 * (directly or through its check item). Their entries are evidence and are never destroyed
 * while the investigation is open.
 */
export async function heldUsers(conn: Conn): Promise<number[]> {
  const direct = conn('investigations as i').join('query_logs as q', 'q.id', 'i.entry_id').where('i.status', 'open').distinct('q.user_id as u');
  const viaItem = conn('investigations as i').join('check_items as ci', 'ci.id', 'i.check_item_id').join('query_logs as q', 'q.id', 'ci.entry_id').where('i.status', 'open').distinct('q.user_id as u');
  const rows = [...(await direct), ...(await viaItem)];
  return [...new Set(rows.map((r: any) => Number(r.u)))].sort((a, b) => a - b);
}

/** Narrows a query of query_logs to the entries the coverage selects. */
const coverageOf = (q: Knex.QueryBuilder, c: Coverage): Knex.QueryBuilder =>
  q.whereIn('unit_id', c.unitIds).andWhere('queried_at', '<', c.before).whereNull('destruction_id')
    .modify((b) => {
      if (c.heldUsers.length) b.whereNotIn('user_id', c.heldUsers);
      if (c.fromSeq != null) b.andWhere('seq', '>=', c.fromSeq);
      if (c.toSeq != null) b.andWhere('seq', '<=', c.toSeq);
    });

/** The covered entries after `afterSeq`, in seq order, with every recorded field (their hashes are rechecked). */
export const coveredPage = (conn: Conn, c: Coverage, afterSeq: number, limit: number): Promise<any[]> =>
  coverageOf(conn('query_logs'), c).andWhere('seq', '>', afterSeq).orderBy('seq').limit(limit).select('*');

/** The entries a destruction blanked, in seq order (for its list after the fact). */
export const destroyedPage = (conn: Conn, destructionId: number, afterSeq: number, limit: number): Promise<any[]> =>
  conn('query_logs').where({ destruction_id: destructionId }).andWhere('seq', '>', afterSeq).orderBy('seq').limit(limit)
    .select('id', 'seq', 'prev_hash', 'hash', 'user_id', 'account', 'unit_id', 'queried_at', 'op_code', 'scope_code');

/**
 * Blanks the personal fields of the covered entries and ties them to the destruction: the
 * subject's HMAC, ciphertext and mask, the case number, the reason and the client address. What
 * stays (seq, links, clerk, time, operation code) is the destruction list itself.
 */
export async function blankCoveredEntries(conn: Conn, c: Coverage, destructionId: number): Promise<number> {
  return coverageOf(conn('query_logs'), c).update({ destruction_id: destructionId, subject_hmac: '', subject_cipher: '', subject_mask: '', case_no: '', reason: '', client_ip: null });
}

/** A destroyed batch entry's subjects go with it: their HMACs would otherwise still answer "who queried this person". */
export async function dropBatchSubjects(conn: Conn, destructionId: number): Promise<number> {
  const ids = conn('query_logs').where({ destruction_id: destructionId, subject_type: 'batch' }).select('id');
  return conn('batch_subjects').whereIn('entry_id', ids).del();
}

export const openListOf = (conn: Conn, unitId: number): Promise<DestructionRow | undefined> => conn('destructions').where({ unit_id: unitId, status: 'prepared' }).first();
export const listById = (conn: Conn, id: number): Promise<DestructionRow | undefined> => conn('destructions').where({ id }).first();
export const listsIn = (conn: Conn, unitIds: number[] | null, limit = 200): Promise<DestructionRow[]> =>
  conn('destructions').modify((q) => void (unitIds && q.whereIn('unit_id', unitIds))).orderBy('id', 'desc').limit(limit).select('*');
export const insertList = (conn: Conn, row: Omit<DestructionRow, 'id' | 'void_reason' | 'closed_at' | 'checkpoint_id'>): Promise<number> => insertId(conn, 'destructions', row as unknown as Record<string, unknown>);
export const closeList = (conn: Conn, id: number, patch: { status: 'executed' | 'void'; closed_at: number; void_reason?: string | null; checkpoint_id?: number | null }) =>
  conn('destructions').where({ id, status: 'prepared' }).update(patch);

export async function approvalsOf(conn: Conn, ids: number[]): Promise<Map<number, Approval[]>> {
  const out = new Map<number, Approval[]>();
  if (!ids.length) return out;
  const rows = await conn('destruction_approvals').whereIn('destruction_id', ids).orderBy('id').select('destruction_id', 'duty', 'user_id', 'account', 'approved_at');
  for (const r of rows) {
    const list = out.get(Number(r.destruction_id)) ?? [];
    list.push({ duty: r.duty as Duty, userId: Number(r.user_id), account: r.account, at: Number(r.approved_at) });
    out.set(Number(r.destruction_id), list);
  }
  return out;
}
export const insertApproval = (conn: Conn, a: { destruction_id: number; duty: Duty; user_id: number; account: string; approved_at: number }) => conn('destruction_approvals').insert(a);
/** Locks the list's row until the transaction ends: a locking read on MariaDB, a write first on SQLite (which then holds its write lock). */
export async function lockList(conn: Conn, id: number): Promise<DestructionRow | undefined> {
  if (isMysql(conn)) return conn('destructions').where({ id }).forUpdate().first();
  await conn('destructions').where({ id }).update({ id });
  return conn('destructions').where({ id }).first();
}
