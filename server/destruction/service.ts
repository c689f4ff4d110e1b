// Query log destruction by two-person approval (clause 4(二), 檔案法 §12; issue 15). Retention
// never deletes on its own: the daily retention job prepares one destruction list (銷毀目錄) per
// agency of the entries past the retention period; a planning-department admin and an ethics
// officer approve it (two different people, each approval current for 30 days); only then are the
// entries' personal fields blanked, and a signed destruction statement and checkpoint recorded.
// Entries whose clerk is under an open investigation are never listed.
import crypto from 'node:crypto';
import type { Config } from '../config.ts';
import type { Conn, Db } from '../db.ts';
import { allUnits, subtreeOf, agencyIn, type UnitRow } from '../accounts/units.ts';
import { reachOf } from '../accounts/reach.ts';
import { recordEvent, SYSTEM_ACTOR, type EventActor } from '../events/service.ts';
import { chainHash, segmentLine, type EntryFields } from '../queries/chain.ts';
import { recordCheckpoint, recordDestruction, type CheckpointSettings } from '../queries/checkpoints.ts';
import { retentionCutoffDate } from '../queries/rules.ts';
import { localDate, now, startOfLocalDay } from '../time.ts';
import { conflict, forbidden, notFound } from '../problem.ts';
import * as repo from './repo.ts';
import { approvalProblem, currentApprovals, dutiesOf, readyApprovals, DUTY_LABELS, type Approval, type Duty } from './rules.ts';
import type { Actor } from '../actor.ts';

export type DestructionSettings = Pick<Config, 'RETENTION_YEARS'> & CheckpointSettings;

const PAGE = 5000;
const eventActor = (p: Actor): EventActor => ({ id: p.id, account: p.account, ip: p.ip ?? null });

/** Who owns lists: each agency (its subtree), and the planning department (its own units, without the agencies). */
function owners(units: UnitRow[]): Array<{ unit: UnitRow; unitIds: number[] }> {
  return units.filter((u) => u.kind === 'agency' || u.kind === 'planning').map((unit) => ({
    unit, unitIds: unit.kind === 'agency' ? subtreeOf(units, unit.id) : subtreeOf(units, unit.id).filter((id) => !agencyIn(units, id)),
  }));
}
const ownerOf = (units: UnitRow[], unitId: number) => owners(units).find((o) => Number(o.unit.id) === Number(unitId));

interface Scan { count: number; firstSeq: number; lastSeq: number; firstAt: number; lastAt: number; segment: string; changed: number | null }

/**
 * Reads the covered entries in seq order: their count, span and segment hash, and the first one
 * whose content no longer matches its hash (a changed entry is evidence: never destroyed).
 */
async function scan(conn: Conn, c: repo.Coverage): Promise<Scan> {
  const h = crypto.createHash('sha256');
  const s: Scan = { count: 0, firstSeq: 0, lastSeq: 0, firstAt: Infinity, lastAt: -Infinity, segment: '', changed: null };
  for (let after = (c.fromSeq ?? 1) - 1; ;) {
    const rows = await repo.coveredPage(conn, c, after, PAGE);
    for (const r of rows) {
      const seq = Number(r.seq);
      if (!s.count) s.firstSeq = seq;
      s.count++;
      s.lastSeq = seq;
      s.firstAt = Math.min(s.firstAt, Number(r.queried_at));
      s.lastAt = Math.max(s.lastAt, Number(r.queried_at));
      if (s.changed == null && chainHash(r.prev_hash, r as EntryFields & { seq: number }) !== r.hash) s.changed = seq;
      h.update(segmentLine(seq, r.prev_hash, r.hash));
    }
    if (rows.length < PAGE) break;
    after = Number(rows[rows.length - 1].seq);
  }
  s.segment = h.digest('hex');
  return s;
}

/** The retention cut-off (clause 4(一)4: at least five years) as a Taipei date and its first instant. */
export function cutoffOf(cfg: Pick<Config, 'RETENTION_YEARS'>): { cutoff: string; before: number } {
  const cutoff = retentionCutoffDate(localDate(now()), Math.max(5, cfg.RETENTION_YEARS));
  return { cutoff, before: startOfLocalDay(cutoff) };
}

/**
 * Prepares a destruction list for each agency that has entries past retention and no list
 * awaiting approval. Lists nothing of an agency with a changed entry (reported as a failed event).
 */
export async function prepareLists(db: Db, cfg: Pick<Config, 'RETENTION_YEARS'>): Promise<Array<{ id: number; agency: string; count: number }>> {
  const { cutoff, before } = cutoffOf(cfg);
  const units = await allUnits(db);
  const held = await repo.heldUsers(db);
  const made: Array<{ id: number; agency: string; count: number }> = [];
  for (const o of owners(units)) {
    if (await repo.openListOf(db, o.unit.id)) continue;
    const c: repo.Coverage = { unitIds: o.unitIds, before, heldUsers: held };
    const s = await scan(db, c);
    if (!s.count) continue;
    if (s.changed != null) {
      await recordEvent(db, SYSTEM_ACTOR, { action: 'query-log.destruction-prepare', outcome: 'failed', targetType: 'query_log', unitId: o.unit.id, detail: { cutoff, changedSeq: s.changed } });
      continue;
    }
    const id = await db.transaction(async (trx) => {
      const listId = await repo.insertList(trx, { unit_id: o.unit.id, cutoff, from_date: localDate(s.firstAt), to_date: localDate(s.lastAt), first_seq: s.firstSeq, last_seq: s.lastSeq, entry_count: s.count, segment_hash: s.segment, status: 'prepared', prepared_at: now() });
      await recordEvent(trx, SYSTEM_ACTOR, { action: 'query-log.destruction-prepare', targetType: 'destruction', targetId: listId, unitId: o.unit.id, detail: { cutoff, count: s.count, firstSeq: s.firstSeq, lastSeq: s.lastSeq, segment: s.segment } });
      return listId;
    });
    made.push({ id, agency: o.unit.code, count: s.count });
  }
  return made;
}

export type Outcome = { id: number; executed: true; count: number; statementId: number } | { id: number; executed: false; reason: string };

/**
 * Carries out an approved list, in one transaction: the entries are read again and must be exactly
 * those approved (same count, same segment hash, none changed), else the list is voided and a new
 * one is prepared at the next run. Needs an account that may update query_logs (DATABASE_ADMIN_URL).
 */
export async function executeList(db: Db, cfg: CheckpointSettings, id: number): Promise<Outcome> {
  return db.transaction(async (trx) => {
    const list = await repo.lockList(trx, id);
    if (!list || list.status !== 'prepared') return { id, executed: false, reason: 'not awaiting destruction' };
    const approvals = (await repo.approvalsOf(trx, [id])).get(id) ?? [];
    const ready = readyApprovals(approvals, now());
    if (!ready) return { id, executed: false, reason: 'not approved by both duties within 30 days' };
    const units = await allUnits(trx);
    const o = ownerOf(units, list.unit_id);
    if (!o) return { id, executed: false, reason: 'the agency no longer exists' };
    const c: repo.Coverage = { unitIds: o.unitIds, before: startOfLocalDay(list.cutoff), heldUsers: await repo.heldUsers(trx), fromSeq: Number(list.first_seq), toSeq: Number(list.last_seq) };
    const s = await scan(trx, c);
    if (s.count !== Number(list.entry_count) || s.segment !== list.segment_hash || s.changed != null) {
      const why = s.changed != null ? `entry seq ${s.changed} was changed after the list was prepared` : 'the entries differ from the approved list (an investigation opened or closed, or entries were changed)';
      await repo.closeList(trx, id, { status: 'void', closed_at: now(), void_reason: why });
      await recordEvent(trx, SYSTEM_ACTOR, { action: 'query-log.destruction-void', outcome: 'failed', targetType: 'destruction', targetId: id, unitId: list.unit_id, detail: { reason: why } });
      return { id, executed: false, reason: why };
    }
    const n = await repo.blankCoveredEntries(trx, c, id);
    if (n !== s.count) throw new Error(`destruction #${id}: ${n} entries blanked where ${s.count} were approved: rolled back`);
    await repo.dropBatchSubjects(trx, id);
    const statement = await recordDestruction(trx, cfg, {
      destruction: id, agency: o.unit.code, cutoff: list.cutoff, firstSeq: s.firstSeq, lastSeq: s.lastSeq, count: s.count, segment: s.segment,
      approvals: ready.map((a) => ({ duty: a.duty, account: a.account, at: a.at })),
    });
    await recordCheckpoint(trx, cfg, 'destruction');
    await repo.closeList(trx, id, { status: 'executed', closed_at: now(), checkpoint_id: statement.id });
    await recordEvent(trx, SYSTEM_ACTOR, { action: 'query-log.destruction', targetType: 'destruction', targetId: id, unitId: list.unit_id,
      detail: { count: s.count, firstSeq: s.firstSeq, lastSeq: s.lastSeq, segment: s.segment, approvedBy: ready.map((a) => `${a.duty}:${a.account}`), signed: statement.signed } });
    return { id, executed: true, count: s.count, statementId: statement.id };
  });
}

/** Carries out every list approved by both duties. */
export async function executeReady(db: Db, cfg: CheckpointSettings): Promise<Outcome[]> {
  const open = await repo.listsIn(db, null, 10_000);
  const approvals = await repo.approvalsOf(db, open.filter((l) => l.status === 'prepared').map((l) => Number(l.id)));
  const out: Outcome[] = [];
  for (const l of open) if (l.status === 'prepared' && readyApprovals(approvals.get(Number(l.id)) ?? [], now())) out.push(await executeList(db, cfg, Number(l.id)));
  return out;
}

/** The retention job: prepares the lists, then carries out those approved. */
export async function runRetention(db: Db, cfg: DestructionSettings): Promise<{ cutoff: string; prepared: Array<{ id: number; agency: string; count: number }>; executed: Outcome[] }> {
  const prepared = await prepareLists(db, cfg);
  const executed = await executeReady(db, cfg);
  return { cutoff: cutoffOf(cfg).cutoff, prepared, executed };
}

// ---------------------------------------------------------------------------------------------
// For people: lists within reach, approval

export const VIEWERS = ['planning_admin', 'ethics', 'auditor', 'admin'] as const;

export interface ListView {
  id: number; unitId: number; agency: string; agencyCode: string; cutoff: string; fromDate: string; toDate: string; firstSeq: number; lastSeq: number; count: number;
  segmentHash: string; status: string; preparedAt: number; closedAt: number | null; voidReason: string | null;
  approvals: Array<Approval & { current: boolean }>; current: Partial<Record<Duty, Approval>>; canApprove: Duty[];
}

function view(l: repo.DestructionRow, units: UnitRow[], approvals: Approval[], duties: Duty[], person: Actor, at: number): ListView {
  const u = units.find((x) => Number(x.id) === Number(l.unit_id));
  const current = currentApprovals(approvals, at);
  return {
    id: Number(l.id), unitId: Number(l.unit_id), agency: u?.name ?? '', agencyCode: u?.code ?? '', cutoff: l.cutoff, fromDate: l.from_date, toDate: l.to_date,
    firstSeq: Number(l.first_seq), lastSeq: Number(l.last_seq), count: Number(l.entry_count), segmentHash: l.segment_hash, status: l.status, preparedAt: Number(l.prepared_at),
    closedAt: l.closed_at == null ? null : Number(l.closed_at), voidReason: l.void_reason,
    approvals: approvals.map((a) => ({ ...a, current: Object.values(current).includes(a) })), current,
    canApprove: duties.filter((d) => !approvalProblem(l.status, approvals, duties, d, person.id, at)),
  };
}

/** The lists whose agency lies within the person's reach, newest first. */
export async function listsFor(db: Db, person: Actor): Promise<ListView[]> {
  const units = await allUnits(db);
  const reach = reachOf(units, person);
  const lists = await repo.listsIn(db, reach.countyWide ? null : reach.unitIds);
  const approvals = await repo.approvalsOf(db, lists.map((l) => Number(l.id)));
  const duties = dutiesOf(units, person);
  const at = now();
  return lists.map((l) => view(l, units, approvals.get(Number(l.id)) ?? [], duties, person, at));
}

/** One list, when its agency lies within reach; else not found (its existence is not told). */
export async function listFor(db: Conn, person: Actor, id: number): Promise<ListView> {
  const units = await allUnits(db);
  const l = await repo.listById(db, id);
  if (!l || !reachOf(units, person).unitIds.includes(Number(l.unit_id))) throw notFound('找不到此銷毀目錄。');
  const approvals = (await repo.approvalsOf(db, [id])).get(id) ?? [];
  return view(l, units, approvals, dutiesOf(units, person), person, now());
}

/** Lists awaiting an approval this person could give (for the home page). */
export async function awaitingMe(db: Db, person: Actor): Promise<number> {
  return (await listsFor(db, person)).filter((l) => l.canApprove.length).length;
}

/**
 * Approves a list under one duty. Returns whether the list is now approved by both duties (the
 * caller then carries it out under the admin account).
 */
export async function approve(db: Db, person: Actor, id: number, duty: Duty): Promise<{ ready: boolean }> {
  await listFor(db, person, id); // reach first: out of reach is not found
  const units = await allUnits(db);
  const duties = dutiesOf(units, person);
  if (!duties.includes(duty)) throw forbidden(duties.length ? `您不具「${DUTY_LABELS[duty]}」身分，不能以此身分核准。` : '只有計畫處管理者或政風人員可以核准銷毀目錄。');
  return db.transaction(async (trx) => {
    const l = (await repo.lockList(trx, id))!;
    const approvals = (await repo.approvalsOf(trx, [id])).get(id) ?? [];
    const at = now();
    const problem = approvalProblem(l.status, approvals, duties, duty, person.id, at);
    if (problem) throw conflict('destruction-approval', problem);
    await repo.insertApproval(trx, { destruction_id: id, duty, user_id: person.id, account: person.account, approved_at: at });
    await recordEvent(trx, eventActor(person), { action: 'query-log.destruction-approve', targetType: 'destruction', targetId: id, unitId: Number(l.unit_id), detail: { duty } });
    return { ready: !!readyApprovals([...approvals, { duty, userId: person.id, account: person.account, at }], at) };
  });
}

/**
 * The list's entries for its workbook, in seq order: those a carried-out list blanked, or those a
 * list awaiting approval covers now.
 */
export async function* listEntries(db: Conn, l: ListView): AsyncGenerator<Array<{ seq: number; queriedAt: number; account: string; opCode: string; hash: string }>> {
  const units = await allUnits(db);
  const o = ownerOf(units, l.unitId);
  const c: repo.Coverage | null = o && l.status !== 'executed' ? { unitIds: o.unitIds, before: startOfLocalDay(l.cutoff), heldUsers: await repo.heldUsers(db), fromSeq: l.firstSeq, toSeq: l.lastSeq } : null;
  for (let after = l.firstSeq - 1; ;) {
    const rows = c ? await repo.coveredPage(db, c, after, PAGE) : await repo.destroyedPage(db, l.id, after, PAGE);
    if (!rows.length) return;
    yield rows.map((r: any) => ({ seq: Number(r.seq), queriedAt: Number(r.queried_at), account: r.account, opCode: r.op_code, hash: r.hash }));
    if (rows.length < PAGE) return;
    after = Number(rows[rows.length - 1].seq);
  }
}
