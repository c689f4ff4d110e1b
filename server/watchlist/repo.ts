// The watch list's rows (knex only).
import type { Conn } from '../db.ts';
import { insertId } from '../db.ts';

export interface WatchRow { id: number; subject_type: string; subject_hmac: string; status: string; added_by: number | null; added_at: number; add_reason: string; removed_by: number | null; removed_at: number | null; remove_reason: string | null }

export const activeByHmac = (conn: Conn, hmac: string): Promise<WatchRow | undefined> => conn('watch_list').where({ subject_hmac: hmac, status: 'active' }).first();
export const byId = (conn: Conn, id: number): Promise<WatchRow | undefined> => conn('watch_list').where({ id }).first();
export const insertEntry = (conn: Conn, row: Omit<WatchRow, 'id' | 'status' | 'removed_by' | 'removed_at' | 'remove_reason'>) => insertId(conn, 'watch_list', { ...row, status: 'active' });
export const removeEntry = (conn: Conn, id: number, by: number, at: number, reason: string) =>
  conn('watch_list').where({ id, status: 'active' }).update({ status: 'removed', removed_by: by, removed_at: at, remove_reason: reason });
export const listEntries = (conn: Conn) =>
  conn('watch_list as w').leftJoin('users as a', 'a.id', 'w.added_by').leftJoin('users as r', 'r.id', 'w.removed_by').orderBy('w.id', 'desc')
    .select('w.id', 'w.subject_type', 'w.status', 'w.added_at', 'w.add_reason', 'w.removed_at', 'w.remove_reason', 'a.account as added_by_account', 'r.account as removed_by_account');

/** The identifiers (as HMAC) on the list now: for the monthly sample's flag and the alert scan. */
export const watchedHmacs = async (conn: Conn): Promise<Set<string>> =>
  (await conn.schema.hasTable('watch_list')) ? new Set(await conn('watch_list').where({ status: 'active' }).pluck('subject_hmac')) : new Set();
