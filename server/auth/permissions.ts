import type { Conn } from '../db.ts';

/** The user's NHI query permission set as {scope, opCode} pairs (clause 3(二)1(1)). */
export async function permissionsOf(conn: Conn, userId: number): Promise<Array<{ scope: string; opCode: string }>> {
  const rows = await conn('user_permissions as p')
    .join('scopes as s', 's.id', 'p.scope_id')
    .join('op_codes as o', 'o.id', 'p.op_code_id')
    .where('p.user_id', userId)
    .orderBy(['s.sort', 'o.code'])
    .select('s.code as scope', 'o.code as opCode');
  return rows.map((r: any) => ({ scope: r.scope, opCode: r.opCode }));
}
