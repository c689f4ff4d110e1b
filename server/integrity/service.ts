// The log's integrity as the ethics unit (政風) sees it (issue 15): the checkpoint key's
// fingerprint, the signed checkpoints, and the witness files kept apart from the database, each
// checkpoint marked when the witness holds it too, so the unit can take its own copies and compare.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.ts';
import type { Db } from '../db.ts';
import { allUnits } from '../accounts/units.ts';
import { isCountyWide } from '../accounts/reach.ts';
import { publishedKey } from '../queries/checkpoints.ts';
import { notFound } from '../problem.ts';
import * as repo from './repo.ts';

export const READERS = ['ethics', 'auditor', 'planning_admin'] as const;
const WITNESS_FILE = /^witness-\d{4}-\d{2}\.jsonl$/;
export const KIND_LABELS: Record<string, string> = { hourly: '每小時', retention: '保存期限清除', print: '列印', manual: '手動', destruction: '銷毀', rotation: '金鑰更換' };

type Settings = Pick<Config, 'CHECKPOINT_KEY_FILE' | 'WITNESS_DIR'>;
const witnessDir = (cfg: Settings): string => cfg.WITNESS_DIR ?? './data/witness';

/** The county's chain is county-wide knowledge: only county-wide holders of the reading roles see it. */
async function mustBeCountyWide(db: Db, person: { unitId: number; roles: readonly string[] }): Promise<void> {
  if (!isCountyWide(await allUnits(db), person)) throw notFound();
}

export interface WitnessFile { name: string; lines: number; bytes: number; modifiedAt: number }

function witnessFiles(cfg: Settings): { files: WitnessFile[]; signatures: Set<string> } {
  const dir = witnessDir(cfg);
  const signatures = new Set<string>();
  if (!fs.existsSync(dir)) return { files: [], signatures };
  const files = fs.readdirSync(dir).filter((f) => WITNESS_FILE.test(f)).sort().reverse().map((name) => {
    const p = path.join(dir, name);
    const text = fs.readFileSync(p, 'utf8');
    let lines = 0;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      lines++;
      try {
        const sig = JSON.parse(line)?.signature;
        if (typeof sig === 'string') signatures.add(sig);
      } catch { /* an unreadable line is verify-log's to report */ }
    }
    const st = fs.statSync(p);
    return { name, lines, bytes: st.size, modifiedAt: st.mtimeMs };
  });
  return { files, signatures };
}

export async function integrityView(db: Db, cfg: Settings, person: { unitId: number; roles: readonly string[] }) {
  await mustBeCountyWide(db, person);
  const { files, signatures } = witnessFiles(cfg);
  const rows = await repo.recentCheckpoints(db, 100);
  const last = await repo.lastVerifyRun(db);
  return {
    key: publishedKey(cfg),
    witnessDir: path.resolve(witnessDir(cfg)),
    files,
    checkpoints: rows.map((r: any) => ({
      id: Number(r.id), kind: r.kind, seq: r.seq == null ? null : Number(r.seq), hash: r.hash, count: r.entry_count == null ? null : Number(r.entry_count),
      at: Number(r.signed_at), keyId: r.key_id, signed: !!r.signature, witnessed: !!r.signature && signatures.has(r.signature),
      events: (() => { try { return JSON.parse(r.payload)?.events?.seq ?? null; } catch { return null; } })(),
    })),
    lastVerify: last ? { ok: last.status === 'done', at: last.finished_at == null ? null : Number(last.finished_at), error: last.error ?? null } : null,
  };
}

/** One witness file's path, for its download; only a well-named file that exists. */
export async function witnessFilePath(db: Db, cfg: Settings, person: { unitId: number; roles: readonly string[] }, name: string): Promise<string> {
  await mustBeCountyWide(db, person);
  const p = path.join(witnessDir(cfg), name);
  if (!WITNESS_FILE.test(name) || !fs.existsSync(p)) throw notFound('找不到此見證檔。');
  return p;
}
