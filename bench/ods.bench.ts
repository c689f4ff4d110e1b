// Benchmark (not a test): the annual filing workbook of one agency as OpenDocument (.ods, issue 19)
// against the same workbook as xlsx, in the same run, on MariaDB. Goals (issue 19, at 1 M entries):
// under 60 s, under 400 MB peak, within 1.5 × of the xlsx writer. Each writer runs in its own child
// process (its own maxRSS; annual.bench.ts's runChild), interleaved, BENCH_ROUNDS times each; the data is annual.bench.ts's.
//
//   BENCH_ENTRIES=200000 node --import tsx bench/ods.bench.ts
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDb } from '../server/db.ts';
import { adminDb, configFor as benchConfig, sizeServer } from './mariadb.ts';
import { generate, runChild } from './annual.bench.ts';
import { writeSection } from './results.ts';

async function bench(): Promise<void> {
  const total = Number(process.env.BENCH_ENTRIES ?? 1_000_000);
  const dbName = `nhi_bench_ods_${process.pid}`;
  const admin = adminDb();
  await admin.raw(`CREATE DATABASE IF NOT EXISTS \`${dbName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  const server = (await sizeServer(admin)).note;
  await admin.destroy();
  const db = createDb(benchConfig(dbName));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-ods-bench-'));
  try {
    await db.migrate.latest();
    process.stderr.write(`ods bench: generating ${total} entries…\n`);
    const unitId = await generate(db, total);
    await db.raw('select count(*) as n, sum(length(reason)) + sum(length(hash)) as s from query_logs');
    const load = [os.loadavg()[0]];
    const runs: Record<'xlsx' | 'ods', any[]> = { xlsx: [], ods: [] };
    for (let round = 0; round < Number(process.env.BENCH_ROUNDS ?? 2); round++) {
      for (const f of ['xlsx', 'ods'] as const) runs[f].push(await runChild(['annual', dbName, String(unitId), path.join(dir, `annual.${f}`)]));
    }
    load.push(os.loadavg()[0]);
    const best = (xs: any[]) => ({ ...xs.reduce((a, b) => (b.ms < a.ms ? b : a)), cpuMs: Math.min(...xs.map((x) => x.cpuMs)), maxRssMb: Math.max(...xs.map((x) => x.maxRssMb)) });
    const x = best(runs.xlsx);
    const o = best(runs.ods);
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    const row = (name: string, r: any, all: any[], goal: string) => `| ${Number(r.rows).toLocaleString('en')} | ${name} | ${s(r.ms)} (${all.map((v) => (v.ms / 1000).toFixed(1)).join(', ')} s) | ${s(r.cpuMs)} | ${r.maxRssMb.toFixed(0)} MB | ${(r.bytes / 1048576).toFixed(0)} MB | ${goal} |`;
    writeSection('ods', [
      '## Annual filing workbook as OpenDocument (.ods) against xlsx (issue 19)',
      '',
      `Measured ${new Date().toISOString().slice(0, 10)} on MariaDB (${process.platform}, ${os.cpus().length} CPUs shared with other work, Node ${process.version}; ${server}); \`BENCH_ENTRIES=${total} node --import tsx bench/ods.bench.ts\`.`,
      '',
      '| entries in the year (one agency) | writer | best wall time (runs) | CPU time of the writer | peak memory (maxRSS) | file | goal (at 1 M) |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      row('reports/annual.ts → .ods (reports/ods.ts)', o, runs.ods, '< 60 s, < 400 MB, ≤ 1.5 × xlsx'),
      row('reports/annual.ts → .xlsx (exceljs)', x, runs.xlsx, 'baseline'),
      '',
      `Ratio .ods / .xlsx in the same run: best wall time ×${(o.ms / x.ms).toFixed(2)}, CPU time ×${(o.cpuMs / x.cpuMs).toFixed(2)}, peak memory ×${(o.maxRssMb / x.maxRssMb).toFixed(2)}. 1-minute load average ${load[0].toFixed(1)} before and ${load[1].toFixed(1)} after.`,
      'Same code writes both (the ODS writer implements the part of exceljs\' streaming writer the workbook uses); the .ods rows go to a temporary file per sheet and are deflated into content.xml at the end.',
    ].join('\n'));
    console.log({ xlsx: x, ods: o, ratio: o.ms / x.ms });
  } finally {
    await db.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
    const a = adminDb();
    await a.raw(`DROP DATABASE IF EXISTS \`${dbName}\``);
    await a.destroy();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  bench().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
