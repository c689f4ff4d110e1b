// The ethics unit's watch list (政風關注名單, issue 18): identifiers kept only as their keyed HMAC,
// added and removed with a reason, each change an event; seen and changed only by ethics staff. A
// query of a listed subject alerts ethics (server/mail) and is a risk flag in the monthly sample.
import type { Db } from '../db.ts';
import type { Config } from '../config.ts';
import { fieldError, forbidden, notFound, conflict } from '../problem.ts';
import { subjectHmac, subjectProblem, type Subject } from '../queries/subject.ts';
import { recordEvent } from '../events/service.ts';
import { textProblem } from '../text.ts';
import { now } from '../time.ts';
import * as repo from './repo.ts';
import type { Actor } from '../actor.ts';


const mustBeEthics = (p: Actor) => {
  if (!p.roles.includes('ethics')) throw forbidden('僅政風人員可以查看或維護關注名單。');
};
function reasonOf(reason: unknown, field = 'reason'): string {
  const r = typeof reason === 'string' ? reason.trim() : '';
  if (r.length < 4) throw fieldError(field, '請填寫理由（至少 4 個字）');
  if (r.length > 500) throw fieldError(field, '理由過長（最多 500 字）');
  const p = textProblem(r);
  if (p) throw fieldError(field, p);
  return r;
}

/** Adds a subject; the value itself is never stored (nor put in the event). */
export async function addWatch(db: Db, cfg: Pick<Config, 'SUBJECT_HMAC_KEY'>, p: Actor, input: { subject: Subject; reason: string }): Promise<number> {
  mustBeEthics(p);
  // One limit for the page and the API: a longer value is no identifier, and is never hashed.
  if ([...String(input.subject?.value ?? '')].length > 200) throw fieldError('subject.value', '查詢條件過長（最多 200 字）');
  const problem = subjectProblem(input.subject);
  if (problem) throw fieldError('subject', problem);
  if (input.subject.type === 'other') throw fieldError('subject.type', '關注名單僅接受身分證號、居留證號或姓名加出生日期');
  const reason = reasonOf(input.reason);
  const hmac = subjectHmac(cfg.SUBJECT_HMAC_KEY, input.subject);
  return db.transaction(async (trx) => {
    if (await repo.activeByHmac(trx, hmac)) throw conflict('watch-list-duplicate', '此對象已在關注名單中。');
    const at = now();
    const id = await repo.insertEntry(trx, { subject_type: input.subject.type, subject_hmac: hmac, added_by: p.id, added_at: at, add_reason: reason });
    await recordEvent(trx, { id: p.id, account: p.account, ip: p.ip ?? null }, { action: 'watch-list.add', targetType: 'watch_list', targetId: id, unitId: p.unitId, detail: { reason } });
    return id;
  });
}

export async function removeWatch(db: Db, p: Actor, id: number, reasonIn: string): Promise<void> {
  mustBeEthics(p);
  const reason = reasonOf(reasonIn);
  await db.transaction(async (trx) => {
    const row = await repo.byId(trx, id);
    if (!row) throw notFound('找不到此關注名單項目。');
    if (!(await repo.removeEntry(trx, id, p.id, now(), reason))) throw conflict('watch-list-removed', '此項目已移除。');
    await recordEvent(trx, { id: p.id, account: p.account, ip: p.ip ?? null }, { action: 'watch-list.remove', targetType: 'watch_list', targetId: id, unitId: p.unitId, detail: { reason } });
  });
}

/** The list with its history (removed entries stay, with who and why); no identifier, no mask. */
export async function listWatch(db: Db, p: Actor) {
  mustBeEthics(p);
  return (await repo.listEntries(db)).map((r: any) => ({
    id: Number(r.id), subjectType: r.subject_type, status: r.status, addedAt: Number(r.added_at), addedBy: r.added_by_account, reason: r.add_reason,
    removedAt: r.removed_at == null ? null : Number(r.removed_at), removedBy: r.removed_by_account ?? null, removeReason: r.remove_reason ?? null,
  }));
}
