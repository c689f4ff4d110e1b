// The integrity page and its API: checkpoints and witness files for the ethics unit.
import type { AppContext } from '../context.ts';
import type { AccessEntry, Routes } from '../web/access.ts';
import { renderPage, type NavEntry } from '../web/views.ts';
import path from 'node:path';
import { iso, rocYear } from '../time.ts';
import { attachmentAs } from '../web/attachment.ts';
import { integrityView, witnessFilePath, KIND_LABELS, READERS } from './service.ts';

export const access: AccessEntry[] = [
  { method: 'GET', path: '/integrity', who: READERS, units: 'all', note: 'checkpoint key, signed checkpoints and witness files (county-wide holders only)' },
  { method: 'GET', path: '/integrity/witness/:file', who: READERS, units: 'all', note: 'one witness file, for the ethics unit to keep its own copy' },
  { method: 'GET', path: '/api/v1/checkpoints', who: READERS, units: 'all', note: 'the signed checkpoints and witness files as JSON' },
];

/** The menu entries of this part (server/capability.ts `nav`). */
export const nav: NavEntry[] = [
  { href: '/integrity', label: '日誌完整性', roles: [...READERS], order: 16 },
];

export function register(r: Routes, ctx: AppContext): void {
  r.get('/integrity', async (req, res) => {
    renderPage(res, 'integrity/index', { title: '日誌完整性', v: await integrityView(ctx.db, ctx.cfg, req.actor!), KIND_LABELS });
  });
  r.get('/integrity/witness/:file', async (req, res) => {
    const p = await witnessFilePath(ctx.db, ctx.cfg, req.actor!, String(req.params.file));
    const name = String(req.params.file);
    const m = /^witness-(\d{4})-(\d{2})\.jsonl$/.exec(name);
    attachmentAs(res, m ? `日誌見證檔_${rocYear(Number(m[1]))}年${Number(m[2])}月.jsonl` : name, name);
    res.sendFile(path.resolve(p), { headers: { 'Content-Type': 'application/x-ndjson' } });
  });
  r.get('/api/v1/checkpoints', async (req, res) => {
    const v = await integrityView(ctx.db, ctx.cfg, req.actor!);
    res.json({
      publicKey: v.key, lastVerify: v.lastVerify && { ...v.lastVerify, at: iso(v.lastVerify.at) },
      witness: v.files.map((f) => ({ name: f.name, lines: f.lines, bytes: f.bytes, modifiedAt: iso(f.modifiedAt) })),
      items: v.checkpoints.map((c) => ({ ...c, at: iso(c.at) })),
    });
  });
}
