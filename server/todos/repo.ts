// The to-do list reads each duty through the capability that owns it (their repos and services);
// the only table read here is the person's own account row, for their password's age.
import type { Conn } from '../db.ts';

export const ownPassword = (conn: Conn, userId: number): Promise<{ auth_source: string; password_changed_at: number | null; status: string } | undefined> =>
  conn('users').where({ id: userId }).first('auth_source', 'password_changed_at', 'status');
