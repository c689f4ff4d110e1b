#!/usr/bin/env node
// Makes sure the Debian packages of .ci/apt-packages (slapd, Chromium, LibreOffice, …) are installed
// before any test runs: `npm test` and `.ci/run` both call this. As root with apt-get it installs the
// missing ones; otherwise it stops with one line giving the command to run, then "0 passed, 1 failed"
// so the run still ends with the count. Silent when nothing is missing. Plain Node, no dependencies:
// .ci/run calls it before `npm ci`.
// For test/unit/setup.test.ts: NHI_SETUP_PACKAGES (the list), NHI_SETUP_AS_ROOT (1/0) and
// NHI_SETUP_POLICY_RC (where the temporary policy-rc.d goes) replace the real ones.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const listFile = process.env.NHI_SETUP_PACKAGES || path.join(root, '.ci/apt-packages');
const policyRc = process.env.NHI_SETUP_POLICY_RC || '/usr/sbin/policy-rc.d';
const asRoot = process.env.NHI_SETUP_AS_ROOT ? process.env.NHI_SETUP_AS_ROOT === '1' : process.getuid?.() === 0;

function stop(line) {
  console.log(line);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
process.on('uncaughtException', (e) => stop(`test/setup.js: ${e.message}`));

const wanted = fs.readFileSync(listFile, 'utf8').split('\n').flatMap((l) => l.replace(/#.*/, '').trim().split(/\s+/)).filter(Boolean);

// One dpkg-query for the whole list; a package it does not know is missing too (it says so on stderr).
const q = spawnSync('dpkg-query', ['-W', '-f', '${Package}\t${db:Status-Status}\n', ...wanted], { encoding: 'utf8' });
if (q.error) {
  // Not Debian: nothing to check against; the tests that need these programs say what is missing.
  console.log(`No dpkg-query here: not checking the Debian packages of ${path.relative(root, listFile)}`);
  process.exit(0);
}
const installed = new Set(q.stdout.split('\n').filter((l) => l.endsWith('\tinstalled')).map((l) => l.split('\t')[0]));
const missing = wanted.filter((p) => !installed.has(p));
if (missing.length === 0) process.exit(0);

const hasAptGet = !spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).error;
if (!asRoot || !hasAptGet) {
  const sudo = asRoot ? '' : 'sudo ';
  stop(`Missing Debian packages for the tests; run: ${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${missing.join(' ')}`);
}

// Package scripts must not start system services (slapd on :389); the tests start their own. An
// existing policy-rc.d (Docker images ship one) is put back afterwards.
const previous = fs.existsSync(policyRc) ? { text: fs.readFileSync(policyRc), mode: fs.statSync(policyRc).mode } : null;
const log = path.join(os.tmpdir(), `nhi-setup-${process.pid}.log`);
const fd = fs.openSync(log, 'w');
const ignoreSignal = () => {}; // Ctrl-C stops apt-get; we still put policy-rc.d back
process.on('SIGINT', ignoreSignal).on('SIGTERM', ignoreSignal);
let failed = null;
try {
  fs.writeFileSync(policyRc, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  fs.chmodSync(policyRc, 0o755);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', ...missing]]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', fd, fd], env });
    if (r.status !== 0) {
      failed = `apt-get ${args[0]} failed (${r.signal ?? `exit ${r.status}`}) installing: ${missing.join(' ')}`;
      break;
    }
  }
} finally {
  fs.closeSync(fd);
  if (previous) {
    fs.writeFileSync(policyRc, previous.text);
    fs.chmodSync(policyRc, previous.mode);
  } else {
    fs.rmSync(policyRc, { force: true });
  }
}
const output = fs.readFileSync(log, 'utf8');
fs.rmSync(log, { force: true });
if (failed) {
  const tail = output.trimEnd().split('\n').slice(-30).join('\n');
  if (tail) console.log(tail);
  stop(failed);
}
console.log(`Installed Debian packages: ${missing.join(' ')}`);
