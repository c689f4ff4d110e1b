// `npm run bench`: runs every bench/*.bench.ts (each in its own process, calling its default
// export), then records the machine and the run in bench/results.md. Each benchmark writes its own
// section of results.md between <!-- bench:NAME --> markers; this file keeps the machine and run
// table sections up to date. Benchmarks are not tests: they need MariaDB (MYSQL_URL).
//
//   npm run bench                      every benchmark
//   npm run bench -- queries sampling  only those whose file name contains a given word
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RESULTS, upsertSection } from './results.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

function machine(): string {
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  return `${os.cpus().length} CPUs (nproc), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, ${cpu}, ${os.type()} ${os.release()}, Node ${process.version}`;
}

async function mariadbVersion(): Promise<string> {
  try {
    const mysql = await import('mysql2/promise');
    const c = await mysql.createConnection({ uri: process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306', connectTimeout: 3000 });
    const [rows] = await c.query('select version() as v');
    await c.end();
    return String((rows as any)[0].v);
  } catch (e) {
    return `unreachable (${(e as Error).message})`;
  }
}


function runOne(file: string): Promise<{ code: number; ms: number }> {
  const started = performance.now();
  const script = `const m = await import(${JSON.stringify(pathToFileURL(file).href)}); if (typeof m.default !== 'function') { console.error('no default export'); process.exit(2); } await m.default(); process.exit(0);`;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'inherit', env: process.env });
    p.on('close', (code) => resolve({ code: code ?? 1, ms: performance.now() - started }));
    p.on('error', () => resolve({ code: 1, ms: performance.now() - started }));
  });
}

async function main(): Promise<number> {
  const words = process.argv.slice(2);
  const files = fs.readdirSync(here).filter((f) => f.endsWith('.bench.ts')).sort().filter((f) => !words.length || words.some((w) => f.includes(w)));
  if (!files.length) {
    console.error(`no benchmark matches ${words.join(' ')}`);
    return 2;
  }
  const runs: Array<{ file: string; code: number; ms: number }> = [];
  for (const f of files) {
    console.log(`\n=== ${f} ===`);
    const r = await runOne(path.join(here, f));
    runs.push({ file: f, ...r });
    console.log(`${f}: ${r.code === 0 ? 'done' : `failed (exit ${r.code})`} in ${(r.ms / 1000).toFixed(1)} s`);
  }
  let text = fs.existsSync(RESULTS) ? fs.readFileSync(RESULTS, 'utf8') : '# Benchmarks\n';
  const date = new Date().toISOString();
  text = upsertSection(text, 'machine', `## Machine of the last \`npm run bench\`\n\n${date.slice(0, 16).replace('T', ' ')} UTC — ${machine()}; MariaDB ${await mariadbVersion()}.`);
  const table = ['## Last run', '', '| benchmark | result | wall time |', '| --- | --- | --- |', ...runs.map((r) => `| \`bench/${r.file}\` | ${r.code === 0 ? 'done' : `failed (exit ${r.code})`} | ${(r.ms / 1000).toFixed(1)} s |`)].join('\n');
  text = upsertSection(text, 'runs', table);
  fs.writeFileSync(RESULTS, text);
  return runs.every((r) => r.code === 0) ? 0 : 1;
}

const self = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (self) main().then((code) => process.exit(code), (e) => { console.error(e); process.exit(1); });
