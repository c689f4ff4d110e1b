// The query log is append-only: no code deletes query_logs rows, and none updates them but an
// approved destruction (blanking its entries) and the subject key rotation (DESIGN.md, clause 6;
// issue 15). A static check over the source.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(path.join(dir, d.name)) : d.name.endsWith('.ts') ? [path.join(dir, d.name)] : []));
}

describe('query log is append-only in code', () => {
  it('nothing deletes query_logs rows; only blankCoveredEntries and rotateSubjectKey update them', () => {
    const offenders: string[] = [];
    for (const f of [...files(path.join(root, 'server')), ...files(path.join(root, 'jobs')), ...files(path.join(root, 'reports'))]) {
      const text = fs.readFileSync(f, 'utf8');
      // Statements touching query_logs that change rows: knex chains and raw SQL.
      const re = /(?:\(\s*['"`]query_logs['"`]\s*\)|\btable\b)[^;]*?\.(update|del|delete|truncate)\s*\(|\b(UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+`?query_logs\b/g;
      for (const m of text.matchAll(re)) {
        const before = text.slice(0, m.index);
        const fn = [...before.matchAll(/export (?:async )?function (\w+)/g)].pop()?.[1] ?? '?';
        const rel = path.relative(root, f);
        const line = text.slice(m.index, text.indexOf('\n', m.index));
        // doctor asks MariaDB whether its account may UPDATE/DELETE the log with statements that match no row, rolled back.
        const probe = rel === path.join('server', 'doctor.ts') && fn === 'doctor' && /^(UPDATE|DELETE FROM) query_logs (SET seq = seq )?WHERE 1 = 0'/.test(line);
        const update = m[1] === 'update' || m[2] === 'UPDATE';
        const allowed = probe || (update && ((rel === path.join('server', 'queries', 'service.ts') && fn === 'rotateSubjectKey') || (rel === path.join('server', 'destruction', 'repo.ts') && fn === 'blankCoveredEntries')));
        if (!allowed && (m[0].includes('query_logs') || (rel.endsWith(path.join('queries', 'service.ts')) && m[0].includes('table')))) offenders.push(`${rel} (${fn}): ${m[0].slice(0, 60)}`);
      }
    }
    expect(offenders).to.deep.equal([]);
  });
});
