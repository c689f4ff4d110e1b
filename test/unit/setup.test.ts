// test/setup.js, which `npm test` and .ci/run start with: pointed at a package list of its own and a
// policy-rc.d path in a temporary directory, with the real dpkg-query and a stub apt-get that only
// writes down how it was called (nothing is installed).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SCRIPT = path.resolve(import.meta.dirname, '../setup.js');
const PRESENT = 'coreutils'; // essential on Debian, always installed
const ABSENT = ['nhi-test-absent-a', 'nhi-test-absent-b'];
const LIST = `# comment line\n${PRESENT} ${ABSENT[0]}\n\n${ABSENT[1]} # trailing comment\n`;
const COUNT_LINE = '0 passed, 1 failed';

// The stub records each call with what it saw: DEBIAN_FRONTEND and what policy-rc.d answers then.
const STUB_APT_GET = `#!/bin/sh
[ "$1" = "--version" ] && exit 0
"$NHI_SETUP_POLICY_RC" >/dev/null 2>&1; policy=$?
echo "$* | $DEBIAN_FRONTEND | $policy" >> "$(dirname "$0")/calls"
if [ "$1" = "install" ] && [ -n "$STUB_APT_FAIL" ]; then echo "E: stub apt-get refuses"; exit 100; fi
exit 0
`;

describe('test/setup.js: the Debian packages npm test needs', () => {
  let dir: string;
  let bin: string;
  let policyRc: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-setup-'));
    bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'apt-get'), STUB_APT_GET, { mode: 0o755 });
    policyRc = path.join(dir, 'policy-rc.d');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  // asRoot 'real': no override, the child's own uid decides (made non-root below when we are root).
  function run(list: string, asRoot: '0' | '1' | 'real', extra: Record<string, string> = {}) {
    const listFile = path.join(dir, 'apt-packages');
    fs.writeFileSync(listFile, list);
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}`, NHI_SETUP_PACKAGES: listFile, NHI_SETUP_AS_ROOT: asRoot, NHI_SETUP_POLICY_RC: policyRc, ...extra };
    let user = {};
    if (asRoot === 'real') {
      delete env.NHI_SETUP_AS_ROOT;
      if (process.getuid!() === 0) {
        fs.chmodSync(dir, 0o755);
        user = { uid: 65534, gid: 65534 }; // nobody
      }
    }
    const r = spawnSync(process.execPath, [SCRIPT], { env, encoding: 'utf8', timeout: 30_000, ...user });
    const callsFile = path.join(bin, 'calls');
    const calls = fs.existsSync(callsFile) ? fs.readFileSync(callsFile, 'utf8').trim().split('\n') : [];
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, lines: r.stdout.trimEnd().split('\n'), calls };
  }

  it('missing packages and not root: stops with one line giving the exact command, then the count; installs nothing', () => {
    const r = run(LIST, '0');
    expect(r.status).to.equal(1);
    expect(r.lines).to.deep.equal([`Missing Debian packages for the tests; run: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${ABSENT.join(' ')}`, COUNT_LINE]);
    expect(r.calls).to.deep.equal([]);
    expect(fs.existsSync(policyRc)).to.equal(false);
  });

  it('missing packages as a real non-root user: the same line, nothing installed', () => {
    const r = run(LIST, 'real');
    expect(r.status).to.equal(1);
    expect(r.lines).to.deep.equal([`Missing Debian packages for the tests; run: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${ABSENT.join(' ')}`, COUNT_LINE]);
    expect(r.calls).to.deep.equal([]);
  });

  it('missing packages as root without apt-get: the same one line, without sudo', () => {
    // Only dpkg-query on PATH: no apt-get to install with.
    fs.rmSync(path.join(bin, 'apt-get'));
    const dpkgQuery = spawnSync('sh', ['-c', 'command -v dpkg-query'], { encoding: 'utf8' }).stdout.trim();
    fs.symlinkSync(dpkgQuery, path.join(bin, 'dpkg-query'));
    const r = run(LIST, '1', { PATH: bin });
    expect(r.status).to.equal(1);
    expect(r.lines).to.deep.equal([`Missing Debian packages for the tests; run: apt-get update && apt-get install -y --no-install-recommends ${ABSENT.join(' ')}`, COUNT_LINE]);
  });

  it('every package present: exits 0 and says nothing, even as root', () => {
    const r = run(`# only present ones\n${PRESENT}\n`, '1');
    expect(r.status).to.equal(0);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.equal('');
    expect(r.calls).to.deep.equal([]);
  });

  it('no dpkg-query (not Debian): one note, exit 0, nothing installed', () => {
    const r = run(LIST, '1', { PATH: bin });
    expect(r.status).to.equal(0);
    expect(r.lines).to.have.length(1);
    expect(r.lines[0]).to.match(/^No dpkg-query here: not checking the Debian packages of /);
    expect(r.calls).to.deep.equal([]);
  });

  it('as root with apt-get: updates, then installs only the missing packages, non-interactively, with services kept from starting', () => {
    const r = run(LIST, '1');
    expect(r.status).to.equal(0);
    expect(r.calls).to.deep.equal([
      'update -qq | noninteractive | 101',
      `install -y -qq --no-install-recommends ${ABSENT.join(' ')} | noninteractive | 101`,
    ]);
    expect(r.lines).to.deep.equal([`Installed Debian packages: ${ABSENT.join(' ')}`]);
    // The policy-rc.d that kept services from starting was temporary.
    expect(fs.existsSync(policyRc)).to.equal(false);
  });

  it('as root, a failed apt-get: shows its output, ends with the count, and puts an existing policy-rc.d back', () => {
    const own = '#!/bin/sh\n# the machine\'s own policy\nexit 0\n';
    fs.writeFileSync(policyRc, own, { mode: 0o750 });
    const r = run(LIST, '1', { STUB_APT_FAIL: '1' });
    expect(r.status).to.equal(1);
    expect(r.calls).to.have.length(2);
    expect(r.calls[1]).to.match(/ \| 101$/);
    expect(r.lines.slice(-3)).to.deep.equal(['E: stub apt-get refuses', `apt-get install failed (exit 100) installing: ${ABSENT.join(' ')}`, COUNT_LINE]);
    expect(fs.readFileSync(policyRc, 'utf8')).to.equal(own);
    expect(fs.statSync(policyRc).mode & 0o777).to.equal(0o750);
  });
});
