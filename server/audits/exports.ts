// Background exports with visible progress. A row in export_jobs carries progress 0..1; its
// active_key (unique, set only while running) makes two exports of the same agency and year at
// once run once: the second caller joins the first. Start and finish are recorded as events.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.ts';
import type { Db } from '../db.ts';
import { isUniqueViolation, parseJson } from '../db.ts';
import { now, rocYear } from '../time.ts';
import { rocCompact } from '../web/attachment.ts';
import { recordEvent, SYSTEM_ACTOR, type EventActor } from '../events/service.ts';
import { writeAnnualWorkbook } from '../../reports/annual.ts';
import { writeAuditPackage } from '../../reports/audit-package.ts';
import { isPartialFile } from '../../reports/cells.ts';
import { STALE_MS } from '../../jobs/lock.ts';
import type { WorkbookFormat } from '../../reports/cells.ts';

/** The kinds of export, each written under EXPORT_DIR/<kind>/. */
export const EXPORT_KINDS = ['annual', 'audit-package'] as const;
/** `format` absent is xlsx (exports made before issue 19 have none). */
export type ExportParams = (
  | { kind: 'annual'; year: number; unitId: number | null }
  | { kind: 'audit-package'; from: string; to: string; unitId: number | null }
) & { format?: WorkbookFormat };

const extOf = (p: ExportParams): WorkbookFormat => p.format ?? 'xlsx';
/** The params' format part: none for xlsx, so its exports keep the keys and names they had. */
export const formatParam = (f: WorkbookFormat): { format?: WorkbookFormat } => (f === 'xlsx' ? {} : { format: f });

const running = new Map<number, Promise<void>>();

export function activeKey(p: ExportParams): string {
  const key = p.kind === 'annual' ? `annual:${p.unitId ?? 'county'}:${p.year}` : `audit-package:${p.unitId ?? 'county'}:${p.from}:${p.to}`;
  return extOf(p) === 'xlsx' ? key : `${key}:${extOf(p)}`;
}

/**
 * The name a person saves the workbook under (「115年度_社會及勞動處_報府資料.xlsx」), and an ASCII
 * fallback for the Content-Disposition header; `agency` null is the county's summary.
 */
export function exportFileName(p: ExportParams, agency: { code: string; name: string } | null): { name: string; ascii: string } {
  const ext = extOf(p);
  if (p.kind === 'annual') return { name: `${rocYear(p.year)}年度_${agency?.name ?? '全縣彙總'}_報府資料.${ext}`, ascii: `annual-${p.year}-${agency?.code ?? 'county'}.${ext}` };
  return { name: `稽核資料_${agency?.name ?? '全縣彙總'}_${rocCompact(p.from)}-${rocCompact(p.to)}.${ext}`, ascii: `audit-package-${p.from}-${p.to}-${agency?.code ?? 'county'}.${ext}` };
}

/** Starts an export in the background, or joins the one already running for the same thing. */
export async function startExport(ctx: { db: Db; cfg: Config }, actor: EventActor, p: ExportParams): Promise<{ id: number; joined: boolean }> {
  const { db } = ctx;
  const key = activeKey(p);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const id = await db.transaction(async (trx) => {
        const [id] = await trx('export_jobs').insert({ kind: p.kind, unit_id: p.unitId, params: JSON.stringify(p), active_key: key, status: 'running', progress: 0, requested_by: actor.id, requested_at: now() });
        await recordEvent(trx, actor, { action: 'export-started', targetType: 'export', targetId: Number(id), unitId: p.unitId, detail: { ...p } });
        return Number(id);
      });
      const job = runExport(ctx, id, p, actor).finally(() => running.delete(id));
      running.set(id, job);
      return { id, joined: false };
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      const cur = await db('export_jobs').where({ active_key: key }).first();
      if (!cur) continue; // finished meanwhile: try again
      if (now() - Number(cur.requested_at) > STALE_MS && !running.has(cur.id)) {
        // Abandoned by a process that died: release the key and start afresh.
        await db('export_jobs').where({ id: cur.id, active_key: key }).update({ status: 'failed', active_key: null, error: 'abandoned', finished_at: now() });
        continue;
      }
      return { id: cur.id, joined: true };
    }
  }
  throw new Error(`could not start export ${key}`);
}

function fileFor(cfg: Config, id: number, p: ExportParams): { dir: string; name: string } {
  const scope = p.unitId ?? 'county';
  const name = p.kind === 'annual' ? `annual-${p.year}-${scope}-${id}.${extOf(p)}` : `audit-package-${p.from}-${p.to}-${scope}-${id}.${extOf(p)}`;
  return { dir: path.resolve(cfg.EXPORT_DIR, p.kind), name };
}

async function runExport(ctx: { db: Db; cfg: Config }, id: number, p: ExportParams, actor: EventActor): Promise<void> {
  const { db, cfg } = ctx;
  const { dir, name } = fileFor(cfg, id, p);
  fs.mkdirSync(dir, { recursive: true });
  const out = path.join(dir, name);
  let lastWrite = 0;
  let lastValue = 0;
  // Progress is written at most every 500 ms or 5 %, so polling pages see it move without a write per row.
  const progress = (f: number, note?: string) => {
    const t = Date.now();
    if (f < 1 && t - lastWrite < 500 && f - lastValue < 0.05) return;
    lastWrite = t;
    lastValue = f;
    void db('export_jobs').where({ id, status: 'running' }).update({ progress: Math.min(0.99, Math.max(0, f)), note: note ?? null }).catch(() => undefined);
  };
  try {
    await new Promise((r) => setImmediate(r));
    const result = p.kind === 'annual'
      ? await writeAnnualWorkbook(db, { year: p.year, unitId: p.unitId, out, countyName: cfg.COUNTY_NAME, progress, checkpoints: cfg })
      : await writeAuditPackage(db, { from: p.from, to: p.to, unitId: p.unitId, out, countyName: cfg.COUNTY_NAME, progress });
    await db.transaction(async (trx) => {
      await trx('export_jobs').where({ id }).update({ status: 'done', progress: 1, note: '完成', active_key: null, finished_at: now(), file_name: name, file_path: out, sha256: result.sha256, bytes: result.bytes, result: JSON.stringify(result) });
      await recordEvent(trx, actor, { action: 'export-finished', targetType: 'export', targetId: id, unitId: p.unitId, detail: { kind: p.kind, sha256: result.sha256 } });
    });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    await db('export_jobs').where({ id }).update({ status: 'failed', active_key: null, finished_at: now(), error: message.slice(0, 2000) }).catch(() => undefined);
    await recordEvent(db, actor ?? SYSTEM_ACTOR, { action: 'export-finished', outcome: 'failed', targetType: 'export', targetId: id, unitId: p.unitId, detail: { kind: p.kind } }).catch(() => undefined);
  }
}

/** Waits until the export is no longer running (in this process or another) and returns its row. */
export async function awaitExport(db: Db, id: number, timeoutMs = 30 * 60_000): Promise<any> {
  const mine = running.get(id);
  if (mine) await mine;
  const until = Date.now() + timeoutMs;
  for (;;) {
    const row = await db('export_jobs').where({ id }).first();
    if (!row || row.status !== 'running' || Date.now() > until) return row;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The newest finished export of exactly these parameters whose file is still kept, or undefined:
 * what a GET of a report answers (a GET never starts one).
 */
export async function latestDone(db: Db, p: ExportParams): Promise<any> {
  const key = activeKey(p);
  for (let before = Number.MAX_SAFE_INTEGER; ;) {
    const rows: any[] = await db('export_jobs').where({ kind: p.kind, status: 'done' }).where('id', '<', before)
      .where((q) => (p.unitId == null ? q.whereNull('unit_id') : q.where('unit_id', p.unitId))).whereNotNull('file_path').orderBy('id', 'desc').limit(100);
    if (!rows.length) return undefined;
    const hit = rows.find((r) => activeKey(parseJson<any>(r.params, {})) === key);
    if (hit) return hit;
    before = Number(rows[rows.length - 1].id);
  }
}

export function exportView(row: any) {
  const params = parseJson<any>(row.params, {});
  return {
    id: row.id, kind: row.kind, status: row.status, progress: Number(row.progress), note: row.note ?? null, params,
    sha256: row.sha256 ?? null, bytes: row.bytes == null ? null : Number(row.bytes), error: row.status === 'failed' ? '產製失敗，請稍後再試。' : null,
    requestedAt: new Date(Number(row.requested_at)).toISOString(), finishedAt: row.finished_at == null ? null : new Date(Number(row.finished_at)).toISOString(),
  };
}

// ---------------------------------------------------------------------------------------------
// Retention of export files

/**
 * Removes export files older than EXPORT_KEEP_DAYS: they hold names, accounts and masked subjects,
 * and a fresh copy can be made at any time. A workbook filed with the county (annual_filings) is
 * the filing's own copy and is kept. The export row stays as the record (its file_path cleared);
 * half-written files left by a crash (`*.partial-*`, a day old) go too. Only files inside
 * EXPORT_DIR are ever touched. One event records what was removed.
 */
export async function pruneExports(ctx: { db: Db; cfg: Config }): Promise<{ removed: number; partials: number; kept: number }> {
  const { db, cfg } = ctx;
  const root = path.resolve(cfg.EXPORT_DIR);
  const inside = (f: string) => path.resolve(f).startsWith(root + path.sep);
  const cutoff = now() - cfg.EXPORT_KEEP_DAYS * 86_400_000;
  const filed = db('annual_filings').whereNotNull('export_id').select('export_id');
  const old: any[] = await db('export_jobs').whereNotNull('file_path').whereNot('status', 'running').where('finished_at', '<', cutoff).whereNotIn('id', filed).select('id', 'file_path');
  let removed = 0;
  for (const row of old) {
    if (!inside(row.file_path)) continue; // not a file this system wrote: left alone
    fs.rmSync(row.file_path, { force: true });
    await db('export_jobs').where({ id: row.id }).update({ file_path: null, note: `檔案已逾保存期限（${cfg.EXPORT_KEEP_DAYS} 日）刪除` });
    removed++;
  }
  let partials = 0;
  for (const kind of EXPORT_KINDS) {
    const dir = path.join(root, kind);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir)) {
      const f = path.join(dir, name);
      if (isPartialFile(name) && fs.statSync(f).mtimeMs < Date.now() - 86_400_000) {
        fs.rmSync(f, { force: true });
        partials++;
      }
    }
  }
  const kept = Number((await db('export_jobs').whereNotNull('file_path').count({ n: '*' }).first())?.n ?? 0);
  if (removed || partials) await recordEvent(db, SYSTEM_ACTOR, { action: 'exports.pruned', targetType: 'export', targetId: 'export-files', detail: { removed, partials, keepDays: cfg.EXPORT_KEEP_DAYS } });
  return { removed, partials, kept };
}
