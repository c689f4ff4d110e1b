#!/usr/bin/env node
// Runs the whole suite on SQLite, then the database-touching tests again on MariaDB/MySQL when
// one is reachable (MYSQL_URL, default mysql://root@127.0.0.1:3306). REQUIRE_MYSQL=1 makes an
// unreachable server a failure instead of a skip. Ends with one line: N passed, N failed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';

const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const requireMysql = process.env.REQUIRE_MYSQL === '1';
const extra = process.argv.slice(2); // e.g. a file or --grep
const totals = { passed: 0, failed: 0, skipped: 0 };
let broken = false;

function mocha(label, env, specs) {
  const statsFile = path.join(os.tmpdir(), `nhi-mocha-${process.pid}-${label}.json`);
  fs.rmSync(statsFile, { force: true });
  console.log(`\n=== ${label} ===`);
  const args = ['node_modules/mocha/bin/mocha.js', '--reporter', 'test/support/reporter.cjs', '--reporter-option', `stats=${statsFile}`, ...(extra.length ? extra : specs)];
  const r = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  let stats;
  try {
    stats = JSON.parse(fs.readFileSync(statsFile, 'utf8'));
  } catch {
    stats = null;
  }
  if (!stats) {
    console.log(`${label}: the test runner did not finish (exit ${r.status}, signal ${r.signal})`);
    totals.failed += 1;
    broken = true;
    return;
  }
  totals.passed += stats.passes;
  totals.failed += stats.failures;
  totals.skipped += stats.pending;
  if (r.status !== 0 && stats.failures === 0) {
    console.log(`${label}: mocha exited ${r.status} with no failing test counted`);
    totals.failed += 1;
  }
}

async function mysqlReachable() {
  try {
    const conn = await mysql.createConnection({ uri: MYSQL_URL, connectTimeout: 3000 });
    await conn.query('select 1');
    await conn.end();
    return true;
  } catch (e) {
    console.log(`MariaDB/MySQL at ${MYSQL_URL} is not reachable: ${e.message}`);
    return false;
  }
}

const all = ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/browser/**/*.test.ts'];
mocha('sqlite', { TEST_DB: 'sqlite', NODE_ENV: 'test' }, all);
if (await mysqlReachable()) {
  mocha('mariadb', { TEST_DB: 'mysql', MYSQL_URL, NODE_ENV: 'test' }, ['test/integration/**/*.test.ts']);
} else if (requireMysql) {
  console.log('REQUIRE_MYSQL=1 and MariaDB/MySQL is unreachable: failing the run');
  totals.failed += 1;
} else {
  console.log('MariaDB/MySQL unreachable: database tests ran on SQLite only (set REQUIRE_MYSQL=1 to fail instead)');
}
console.log('');
console.log(`${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);
process.exit(totals.failed > 0 || broken || totals.skipped > 0 ? 1 : 0);
