// Reconciliation runs (issue 16): for an agency and a period, every source with imports is matched
// against the query log (matching.ts), and the outcome is stored as a run with its figures and the
// SHA-256 of its canonical results. Unlogged records then join the month's check (checks/unlogged.ts).
//
// Canonical results (what results_sha256 covers; a re-run over the same data gives the same hash):
//   source part, per source — SHA-256 over lines, each ending in LF:
//     records: for each person in ascending user id: each record in (occurred_at, id) order as
//       `M<TAB>record id<TAB>entry id` (matched) or `L<TAB>record id` (unlogged), then each entry
//       left unmatched that counts as unconfirmed, in (queried_at, id) order, as `C<TAB>entry id`;
//     counts: each differing cell in (user id, day) order as `D<TAB>user id<TAB>YYYY-MM-DD<TAB>source<TAB>log`,
//       then `T<TAB>matched<TAB>unlogged<TAB>unconfirmed`;
//     both: each unknown account in code-point order as `A<TAB>account<TAB>records`.
//   run — SHA-256 over `nhi-audit reconciliation v1`, `agency code<TAB>period<TAB>window minutes`,
//     then per source in id order `S<TAB>code<TAB>kind<TAB>complete 1|0<TAB>source part`, each line
//     ending in LF.
import crypto from 'node:crypto';
import type { Config } from '../config.ts';
import type { Conn, Db } from '../db.ts';
import { allUnits, agencyIn, subtreeOf, unitByCode, type UnitRow } from '../accounts/units.ts';
import { reachOf, withinReach } from '../accounts/reach.ts';
import { recordEvent, SYSTEM_ACTOR } from '../events/service.ts';
import { dayOfIndex, isMonth, iso, localMonth, monthRange, now, rocMonth, taipeiDayIndex } from '../time.ts';
import { forbidden, notFound, validation, type FieldError } from '../problem.ts';
import { byTimeThenId, compareCounts, forEachByTime, StreamMatcher, type Item } from './matching.ts';
import * as repo from './results-repo.ts';
import { addUnloggedItems } from '../checks/unlogged.ts';
import { alertEthics, type AlertSettings } from '../mail/outbox.ts';
import type { Actor } from '../actor.ts';


/** Who reads reconciliation results within their reach (accounts/reach.ts), and who re-runs them. */
export const RESULT_READERS = ['planning_admin', 'admin', 'auditor', 'ethics'] as const;
export const RESULT_RUNNERS = ['planning_admin', 'admin', 'auditor'] as const;


export interface SourceOutcome {
  source: repo.SourceRow;
  imports: number;
  records: number;
  matched: number;
  unlogged: number;
  unconfirmed: number;
  countDifferences: number;
  unknownAccounts: number;
  unknownRecords: number;
  sha256: string;
  findings: Array<Record<string, unknown>>;
}

export interface RunOutcome {
  runId: number;
  unitId: number;
  period: string;
  generation: number;
  figures: { sources: number; sourceRecords: number; entries: number; matched: number; unlogged: number; unconfirmed: number; countDifferences: number; unknownAccounts: number; unknownRecords: number };
  sha256: string;
  checkItemsAdded: number;
  checkNote: string | null;
}

class LineHash {
  private h = crypto.createHash('sha256');
  private buf: string[] = [];
  line(s: string): void {
    this.buf.push(s, '\n');
    if (this.buf.length > 4000) this.flush();
  }
  private flush(): void {
    this.h.update(this.buf.join(''));
    this.buf = [];
  }
  digest(): string {
    this.flush();
    return this.h.digest('hex');
  }
}

/**
 * How the month's entries are read. 'index': each person's through the (user_id, queried_at) index,
 * one lookup into the table per entry. 'key': the agency's stretch of the log in key order, a batch
 * of people at a time (about 4 × cheaper a row, but it also reads the other agencies' entries
 * between). 'auto' takes the key order where the stretch holds at most KEY_READ_SPREAD × the
 * agency's entries. Both give the same results (an integration test checks).
 */
export type EntryRead = 'auto' | 'index' | 'key';
const KEY_READ_SPREAD = 4;
/**
 * Entries held in memory at once by a key-order read (about 170 bytes each on the heap): more means
 * another pass over the stretch. 400,000 keeps a month of a million under 500 MB (bench/results.md).
 */
const KEY_READ_BATCH = 400_000;
/** How to read the entries (tests compare the ways; the default is 'auto' within KEY_READ_BATCH). */
export interface EntryReading { how?: EntryRead; batch?: number }

/** An async generator whose first page is asked for now, not when the caller first iterates it. */
function begun<T>(gen: AsyncGenerator<T>): AsyncIterable<T> {
  const first = gen.next();
  first.catch(() => undefined); // awaited when iterated, unless a failure stops the run first
  return {
    async *[Symbol.asyncIterator]() {
      for (let n = await first; !n.done; n = await gen.next()) yield n.value;
    },
  };
}

/** Matches one record source: person by person, both sides in time order. */
async function matchRecords(conn: Conn, source: repo.SourceRow & { importIds: number[] }, unitIds: Set<number>, period: string, windowMs: number, read: EntryReading): Promise<SourceOutcome> {
  const entryRead = read.how ?? 'auto';
  const batchLimit = read.batch ?? KEY_READ_BATCH;
  const [start, end] = monthRange(period);
  // Entries just outside the month still match records near its edges; they never count as unconfirmed.
  const [from, to] = [start - windowMs, end + windowMs];
  const people = new Set(await repo.recordPeople(conn, source.importIds));
  // Only where the source claims to be complete does an entry without a record count (unconfirmed):
  // for the people linked to it in the agency.
  const completeFor = new Set(source.complete ? await repo.linkedPeople(conn, source.id, [...unitIds]) : []);
  for (const p of completeFor) people.add(p);
  const out: SourceOutcome = { source, imports: source.importIds.length, records: 0, matched: 0, unlogged: 0, unconfirmed: 0, countDifferences: 0, unknownAccounts: 0, unknownRecords: 0, sha256: '', findings: [] };
  const hash = new LineHash();
  const sorted = [...people].sort((a, b) => a - b);

  const matchPerson = async (userId: number, recordPages: AsyncIterable<Item[]>, entries: AsyncIterable<Item[]>): Promise<void> => {
    // Outcomes are kept per person so the hash follows the records' order, not the order groups close.
    const recIds: number[] = [];
    const recAt: number[] = [];
    const matchOf = new Map<number, number>();
    const leftEntries: Array<{ id: number; at: number }> = [];
    const matcher = new StreamMatcher(windowMs, (p) => matchOf.set(p.record, p.entry), (side, it) => {
      if (side === 'entry') leftEntries.push({ id: it.id, at: it.at });
    });
    const records = (async function* () {
      for await (const page of recordPages) {
        for (const r of page) {
          recIds.push(r.id);
          recAt.push(r.at);
        }
        yield page;
      }
    })();
    await forEachByTime(records, entries, (side, item) => matcher.add(side, item));
    matcher.finish();
    for (let i = 0; i < recIds.length; i++) {
      const e = matchOf.get(recIds[i]);
      if (e != null) {
        out.matched++;
        hash.line(`M\t${recIds[i]}\t${e}`);
      } else {
        out.unlogged++;
        hash.line(`L\t${recIds[i]}`);
        out.findings.push({ kind: 'unlogged', source_record_id: recIds[i], user_id: userId, occurred_at: recAt[i] });
      }
    }
    out.records += recIds.length;
    if (completeFor.has(userId)) {
      leftEntries.sort((a, b) => a.at - b.at || a.id - b.id);
      for (const e of leftEntries) {
        if (e.at < start || e.at >= end) continue;
        out.unconfirmed++;
        hash.line(`C\t${e.id}`);
        out.findings.push({ kind: 'unconfirmed', entry_id: e.id, user_id: userId, occurred_at: e.at });
      }
    }
  };

  // The next person's records are asked for while this person's are matched (the database works on its own core).
  let nextRecords = sorted.length ? begun(repo.recordsOf(conn, sorted[0], source.importIds)) : undefined;
  const recordsOf = (i: number): AsyncIterable<Item[]> => {
    const these = nextRecords!;
    nextRecords = i + 1 < sorted.length ? begun(repo.recordsOf(conn, sorted[i + 1], source.importIds)) : undefined;
    return these;
  };
  const span = entryRead === 'index' ? undefined : await repo.entrySpan(conn, [...unitIds], from, to);
  const byKey = span != null && span.count > 0 && (entryRead === 'key' || span.maxId - span.minId + 1 <= KEY_READ_SPREAD * span.count);
  if (!byKey) {
    for (const [i, userId] of sorted.entries()) {
      const entries = (async function* () {
        for await (const page of repo.entriesOf(conn, userId, from, to)) {
          const mine = page.filter((e) => unitIds.has(e.unit));
          if (mine.length) yield mine;
        }
      })();
      await matchPerson(userId, recordsOf(i), entries);
    }
  } else {
    // Batches of people in ascending id (the hash's order), each batch's entries within the batch
    // limit: one pass over the stretch each. Counted per person only when they do not fit in one.
    const counts = span.count > batchLimit ? await repo.entryCounts(conn, sorted, from, to) : undefined;
    for (let i = 0; i < sorted.length; ) {
      const batch = new Map<number, Item[]>();
      let held = 0;
      while (i < sorted.length && (!counts || batch.size === 0 || held + (counts.get(sorted[i]) ?? 0) <= batchLimit)) {
        held += counts?.get(sorted[i]) ?? 0;
        batch.set(sorted[i++], []);
      }
      for await (const page of repo.entriesByKey(conn, [...unitIds], from, to, span.minId, span.maxId)) {
        for (const e of page) batch.get(e.user)?.push(e);
      }
      let k = i - batch.size;
      for (const [userId, list] of batch) {
        // Key order is nearly time order already: the sort has little to do.
        list.sort(byTimeThenId);
        batch.delete(userId);
        await matchPerson(userId, recordsOf(k++), (async function* () {
          if (list.length) yield list;
        })());
      }
    }
  }
  await unknownLines(conn, source, out, hash, false);
  out.sha256 = hash.digest();
  return out;
}

/** Matches one count-only source: per person and day, its count against the log's. */
async function matchCounts(conn: Conn, source: repo.SourceRow & { importIds: number[] }, unitIds: Set<number>, period: string): Promise<SourceOutcome> {
  const [start, end] = monthRange(period);
  const cells = (await repo.countCells(conn, source.importIds)).map((c) => ({ userId: c.userId, day: dayOfIndex(taipeiDayIndex(c.at)), count: c.count }));
  const people = new Set(cells.map((c) => c.userId));
  if (source.complete) for (const p of await repo.linkedPeople(conn, source.id, [...unitIds])) people.add(p);
  const log = (await repo.logDayCounts(conn, [...people], [...unitIds], start, end)).map((l) => ({ userId: l.userId, day: dayOfIndex(l.dayIndex), count: l.count }));
  const c = compareCounts(cells, log, source.complete);
  const hash = new LineHash();
  for (const d of c.differences) hash.line(`D\t${d.userId}\t${d.day}\t${d.source}\t${d.log}`);
  hash.line(`T\t${c.matched}\t${c.unlogged}\t${c.unconfirmed}`);
  const out: SourceOutcome = {
    source, imports: source.importIds.length, records: cells.reduce((s, x) => s + x.count, 0), matched: c.matched, unlogged: c.unlogged, unconfirmed: c.unconfirmed,
    countDifferences: c.differences.length, unknownAccounts: 0, unknownRecords: 0, sha256: '',
    findings: c.differences.map((d) => ({ kind: 'count-difference', user_id: d.userId, day: d.day, source_count: d.source, log_count: d.log })),
  };
  await unknownLines(conn, source, out, hash, true);
  out.sha256 = hash.digest();
  return out;
}

async function unknownLines(conn: Conn, source: repo.SourceRow & { importIds: number[] }, out: SourceOutcome, hash: LineHash, countOnly: boolean): Promise<void> {
  for (const u of await repo.unknownAccounts(conn, source.importIds, countOnly)) {
    out.unknownAccounts++;
    out.unknownRecords += u.records;
    if (countOnly) out.records += u.records;
    hash.line(`A\t${u.account}\t${u.records}`);
    out.findings.push({ kind: 'unknown-account', source_account: u.account.slice(0, 64), source_count: u.records });
  }
}

export function runHash(agencyCode: string, period: string, windowMinutes: number, sources: SourceOutcome[]): string {
  const lines = ['nhi-audit reconciliation v1', `${agencyCode}\t${period}\t${windowMinutes}`];
  for (const s of sources) lines.push(`S\t${s.source.code}\t${s.source.kind}\t${s.source.complete ? 1 : 0}\t${s.sha256}`);
  return crypto.createHash('sha256').update(lines.map((l) => `${l}\n`).join('')).digest('hex');
}

export interface RunRequest {
  agency: UnitRow;
  period: string;
  trigger: 'import' | 'manual' | 'demo' | 'withdrawal';
  importId?: number | null;
  actor?: { id: number; account: string; ip?: string | null } | null;
}

/**
 * Reconciles an agency's period: matches every source with imports, stores the run (the earlier
 * one superseded) and adds each unlogged record to the month's check. Reads outside the write
 * transaction; writes in one.
 */
export async function runReconciliation(db: Db, cfg: Pick<Config, 'RECONCILE_WINDOW_MINUTES'> & AlertSettings, req: RunRequest, read: EntryReading = {}): Promise<RunOutcome> {
  const started = now();
  const units = await allUnits(db);
  const unitIds = new Set(subtreeOf(units, req.agency.id));
  const windowMinutes = cfg.RECONCILE_WINDOW_MINUTES;
  const windowMs = windowMinutes * 60_000;
  const sources = await repo.sourcesWithImports(db, [...unitIds], req.period);
  for (const s of sources) await repo.resolveLinks(db, s.id, s.importIds);
  const outcomes: SourceOutcome[] = [];
  for (const s of sources) outcomes.push(s.kind === 'counts' ? await matchCounts(db, s, unitIds, req.period) : await matchRecords(db, s, unitIds, req.period, windowMs, read));
  const [start, end] = monthRange(req.period);
  const entries = await repo.countEntries(db, [...unitIds], start, end);
  const sum = (k: keyof Pick<SourceOutcome, 'records' | 'matched' | 'unlogged' | 'unconfirmed' | 'countDifferences' | 'unknownAccounts' | 'unknownRecords'>) => outcomes.reduce((a, o) => a + o[k], 0);
  const figures = {
    sources: outcomes.length, sourceRecords: sum('records'), entries, matched: sum('matched'), unlogged: sum('unlogged'), unconfirmed: sum('unconfirmed'),
    countDifferences: sum('countDifferences'), unknownAccounts: sum('unknownAccounts'), unknownRecords: sum('unknownRecords'),
  };
  const sha256 = runHash(req.agency.code, req.period, windowMinutes, outcomes);
  return db.transaction(async (trx) => {
    const t = now();
    const generation = (await repo.latestGeneration(trx, req.agency.id, req.period)) + 1;
    await trx('reconcile_runs').where({ unit_id: req.agency.id, period: req.period, status: 'current' }).update({ status: 'superseded', superseded_at: t });
    const runId = await repo.insertRun(trx, {
      unit_id: req.agency.id, period: req.period, generation, status: 'current', window_minutes: windowMinutes, sources: figures.sources,
      source_records: figures.sourceRecords, entries, matched: figures.matched, unlogged: figures.unlogged, unconfirmed: figures.unconfirmed,
      count_differences: figures.countDifferences, unknown_accounts: figures.unknownAccounts, unknown_records: figures.unknownRecords,
      results_sha256: sha256, trigger: req.trigger, import_id: req.importId ?? null, created_by: req.actor?.id ?? null, started_at: started, finished_at: t,
    });
    await repo.insertRunSources(trx, outcomes.map((o) => ({
      run_id: runId, source_id: o.source.id, kind: o.source.kind, complete: o.source.complete, imports: o.imports, records: o.records, matched: o.matched,
      unlogged: o.unlogged, unconfirmed: o.unconfirmed, count_differences: o.countDifferences, unknown_accounts: o.unknownAccounts, unknown_records: o.unknownRecords, results_sha256: o.sha256,
    })));
    for (const o of outcomes) await repo.insertFindings(trx, o.findings.map((f) => ({ run_id: runId, source_id: o.source.id, ...f })));
    const unlogged = outcomes.flatMap((o) => o.findings.filter((f) => f.kind === 'unlogged').map((f) => ({ sourceRecordId: Number(f.source_record_id), userId: Number(f.user_id) })));
    const added = await addUnloggedItems(trx, req.agency, req.period, unlogged);
    await recordEvent(trx, req.actor ? { id: req.actor.id, account: req.actor.account, ip: req.actor.ip ?? null } : SYSTEM_ACTOR, {
      action: 'reconcile-run', targetType: 'reconcile_run', targetId: runId, unitId: req.agency.id,
      detail: { period: req.period, generation, trigger: req.trigger, sha256, ...figures, checkItemsAdded: added.added },
    });
    // Unlogged queries found: the ethics unit within reach hears of it in this same transaction,
    // once per agency, month and count (a re-run finding no more adds nothing).
    if (figures.unlogged) {
      await alertEthics(trx, cfg, { kind: 'unlogged', key: `${req.agency.id}:${req.period}:${figures.unlogged}`, unitId: req.agency.id, href: `/reconciliations/${runId}`, detail: `${rocMonth(req.period)}，${figures.unlogged} 筆` });
    }
    return { runId, unitId: req.agency.id, period: req.period, generation, figures, sha256, checkItemsAdded: added.added, checkNote: added.note };
  });
}

/** Called by the import half after each import commits: reconciles that agency and period. */
export async function reconcileAfterImport(db: Db, cfg: Pick<Config, 'RECONCILE_WINDOW_MINUTES'> & AlertSettings, importId: number, actor?: RunRequest['actor']): Promise<RunOutcome> {
  const imp = await db('reconcile_imports').where({ id: importId }).first('unit_id', 'period');
  if (!imp) throw new Error(`import ${importId} not found`);
  const units = await allUnits(db);
  const agency = agencyIn(units, Number(imp.unit_id));
  if (!agency) throw new Error(`import ${importId}: unit ${imp.unit_id} belongs to no agency`);
  return runReconciliation(db, cfg, { agency, period: imp.period, trigger: 'import', importId, actor });
}

// ── Reading results (need to know: accounts/reach.ts) ─────────────────────────────────────────

const NO_RUN = '找不到此對帳紀錄。';

export function runJson(r: any, sources: any[] = []) {
  const n = (v: unknown) => Number(v ?? 0);
  return {
    id: n(r.id), unit: r.unit_code, unitName: r.unit_name, period: r.period, generation: n(r.generation), status: r.status, windowMinutes: n(r.window_minutes),
    figures: {
      sources: n(r.sources), sourceRecords: n(r.source_records), entries: n(r.entries), matched: n(r.matched), unlogged: n(r.unlogged), unconfirmed: n(r.unconfirmed),
      countDifferences: n(r.count_differences), unknownAccounts: n(r.unknown_accounts), unknownRecords: n(r.unknown_records),
    },
    coverage: coverage(n(r.matched), n(r.source_records) - n(r.unknown_records)),
    resultsSha256: r.results_sha256, trigger: r.trigger, startedAt: iso(n(r.started_at)), finishedAt: iso(n(r.finished_at)),
    sources: sources.map((s) => ({
      code: s.code, name: s.name, kind: s.kind, complete: Boolean(s.complete), imports: n(s.imports), records: n(s.records), matched: n(s.matched), unlogged: n(s.unlogged),
      unconfirmed: n(s.unconfirmed), countDifferences: n(s.count_differences), unknownAccounts: n(s.unknown_accounts), unknownRecords: n(s.unknown_records), resultsSha256: s.results_sha256,
    })),
  };
}

/** Share of the source's known-account records found in the log, one decimal; null when none. */
export function coverage(matched: number, records: number): number | null {
  return records > 0 ? Math.round((matched / records) * 1000) / 10 : null;
}

/** GET /api/v1/reconciliations?period&unit: the current run of each agency and period within reach. */
export async function listRuns(conn: Conn, actor: Actor, q: { period?: string; unit?: string }) {
  const errors: FieldError[] = [];
  if (q.period !== undefined && !isMonth(q.period)) errors.push({ field: 'period', message: '期間格式應為 YYYY-MM' });
  const units = await allUnits(conn);
  const reach = reachOf(units, actor);
  let unitIds: number[] | undefined = reach.countyWide ? undefined : reach.unitIds;
  if (q.unit !== undefined) {
    const u = await unitByCode(conn, q.unit);
    const agency = u ? agencyIn(units, u.id) : undefined;
    if (!u) errors.push({ field: 'unit', message: '找不到此機關代碼' });
    else if (!agency) errors.push({ field: 'unit', message: '此單位不屬於任何業務機關' });
    else if (!reach.unitIds.includes(agency.id)) throw forbidden('此機關不在您的權責範圍內。');
    else unitIds = [agency.id];
  }
  if (errors.length) throw validation(errors);
  const runs = await repo.currentRuns(conn, { period: q.period, unitIds });
  const sources = runs.length ? await repo.runSources(conn, runs.map((r: any) => Number(r.id))) : [];
  const items = runs.map((r: any) => runJson(r, sources.filter((s: any) => Number(s.run_id) === Number(r.id))));
  return { items, total: items.length };
}

/** A run within reach (404 otherwise, as for no run). */
export async function loadRun(conn: Conn, actor: Actor, id: number) {
  const r = Number.isInteger(id) && id > 0 ? await repo.runById(conn, id) : undefined;
  if (!r || !withinReach(await allUnits(conn), actor, Number(r.unit_id))) throw notFound(NO_RUN);
  return r;
}

export const FINDING_KINDS = ['unlogged', 'unconfirmed', 'count-difference', 'unknown-account'] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

export function findingJson(f: any) {
  return {
    id: Number(f.id), kind: f.kind, source: f.source_code, sourceRecordId: f.source_record_id == null ? null : Number(f.source_record_id),
    entryId: f.entry_id == null ? null : Number(f.entry_id), account: f.account ?? null, sourceAccount: f.source_account ?? null,
    at: f.occurred_at == null ? null : iso(Number(f.occurred_at)), day: f.day ?? null,
    subject: f.record_subject_mask ?? f.entry_subject_mask ?? null, opCode: f.record_op_code ?? f.entry_op_code ?? null,
    sourceCount: f.source_count == null ? null : Number(f.source_count), logCount: f.log_count == null ? null : Number(f.log_count),
  };
}

/** A run with its sources and a page of findings (by id; `after` the last id seen). */
export async function runDetail(conn: Conn, actor: Actor, id: number, page: { kind?: FindingKind; after?: number; limit?: number } = {}) {
  const r = await loadRun(conn, actor, id);
  const sources = await repo.runSources(conn, [Number(r.id)]);
  const limit = Math.min(1000, Math.max(1, page.limit ?? 200));
  const findings = await repo.findingsOf(conn, Number(r.id), { kind: page.kind, after: page.after, limit });
  const counts = await repo.findingCounts(conn, Number(r.id));
  const history = await conn('reconcile_runs').where({ unit_id: r.unit_id, period: r.period }).orderBy('generation', 'desc')
    .select('id', 'generation', 'status', 'results_sha256', 'trigger', 'finished_at', 'matched', 'unlogged', 'unconfirmed');
  return { run: r, sources, findings, counts, history, json: { ...runJson(r, sources), findings: { items: findings.map(findingJson), total: page.kind ? counts[page.kind] ?? 0 : Object.values(counts).reduce((a, b) => a + b, 0), counts } } };
}

/** Re-runs the reconciliation of an agency and period within the actor's reach. */
export async function rerun(db: Db, cfg: Pick<Config, 'RECONCILE_WINDOW_MINUTES'>, actor: Actor, input: { unit: string; period: string }) {
  const errors: FieldError[] = [];
  if (!isMonth(input.period)) errors.push({ field: 'period', message: '期間格式應為 YYYY-MM' });
  else if (input.period > localMonth(now())) errors.push({ field: 'period', message: '期間不可在未來' });
  const units = await allUnits(db);
  const u = await unitByCode(db, input.unit);
  const agency = u ? agencyIn(units, u.id) : undefined;
  if (!u) errors.push({ field: 'unit', message: '找不到此機關代碼' });
  else if (!agency) errors.push({ field: 'unit', message: '此單位不屬於任何業務機關' });
  else if (!withinReach(units, actor, agency.id)) throw forbidden('此機關不在您的權責範圍內。');
  if (errors.length) throw validation(errors);
  return runReconciliation(db, cfg, { agency: agency!, period: input.period, trigger: 'manual', actor });
}
