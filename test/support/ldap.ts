// A real OpenLDAP server for directory-login tests: /usr/sbin/slapd (Debian's slapd, installed by
// .ci/run) on a free loopback port with its own temporary configuration and mdb database, loaded
// with a small directory of county users by ldapadd. A missing slapd is a failure, never a skip.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const SLAPD = '/usr/sbin/slapd';
export const SUFFIX = 'dc=nantou,dc=gov,dc=tw';
export const ROOT_DN = `cn=admin,${SUFFIX}`;
export const ROOT_PW = 'Slapd-Test-Secret-1';
export const PEOPLE = `ou=people,${SUFFIX}`;
/** Entries marked employeeType=disabled are filtered out, as AD's userAccountControl filter does. */
export const FILTER = '(&(uid={{username}})(!(employeeType=disabled)))';

export interface DirUser { uid: string; password: string; name: string; disabled?: boolean }

export const COUNTY_DIRECTORY: DirUser[] = [
  { uid: 'soc.wang', password: 'Dir-Passw0rd-Wang', name: '王大同' },
  { uid: 'soc.lin', password: 'Dir-Passw0rd-Lin', name: '林美玲' },
  { uid: 'tax.chen', password: 'Dir-Passw0rd-Chen', name: '陳志明' },
  { uid: 'soc.left', password: 'Dir-Passw0rd-Left', name: '張離職', disabled: true },
];

export interface Slapd {
  url: string;
  port: number;
  /** The LDAP_* configuration keys pointing at this server. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ldif(users: DirUser[]): string {
  const head = `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: nantou\no: Nantou County\n\ndn: ${PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n`;
  return head + users.map((u) =>
    `dn: uid=${u.uid},${PEOPLE}\nobjectClass: inetOrgPerson\nuid: ${u.uid}\ncn: ${u.uid}\nsn: ${u.uid}\ndisplayName:: ${Buffer.from(u.name).toString('base64')}\nuserPassword: ${u.password}\n${u.disabled ? 'employeeType: disabled\n' : ''}`,
  ).join('\n');
}

export async function startSlapd(users: DirUser[] = COUNTY_DIRECTORY): Promise<Slapd> {
  if (!fs.existsSync(SLAPD)) {
    throw new Error(`${SLAPD} is not installed: install Debian's slapd and ldap-utils (listed in .ci/apt-packages) to run the directory-login tests`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nhi-slapd-'));
  fs.mkdirSync(path.join(dir, 'data'));
  const conf = path.join(dir, 'slapd.conf');
  fs.writeFileSync(conf, [
    ...['core', 'cosine', 'nis', 'inetorgperson'].map((s) => `include /etc/ldap/schema/${s}.schema`),
    `pidfile ${dir}/slapd.pid`,
    'modulepath /usr/lib/ldap',
    'moduleload back_mdb',
    'database mdb',
    'maxsize 10485760',
    `suffix "${SUFFIX}"`,
    `rootdn "${ROOT_DN}"`,
    `rootpw ${ROOT_PW}`,
    `directory ${dir}/data`,
    '',
  ].join('\n'));
  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  // -d 0 keeps slapd in the foreground, so the test owns the process and can stop it.
  const child: ChildProcess = spawn(SLAPD, ['-d', '0', '-h', `${url}/`, '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  let exited = false;
  child.on('exit', () => (exited = true));
  const ldifFile = path.join(dir, 'county.ldif');
  fs.writeFileSync(ldifFile, ldif(users));
  let loaded = false;
  for (let i = 0; i < 50 && !exited; i++) {
    await sleep(100);
    const r = spawnSync('ldapadd', ['-x', '-H', url, '-D', ROOT_DN, '-w', ROOT_PW, '-f', ldifFile], { encoding: 'utf8' });
    if (r.error) throw new Error(`ldapadd could not run (${r.error.message}): install ldap-utils`);
    if (r.status === 0) {
      loaded = true;
      break;
    }
    if (!/Can't contact LDAP server/.test(r.stderr)) throw new Error(`ldapadd failed: ${r.stderr}`);
  }
  if (!loaded) {
    child.kill('SIGKILL');
    throw new Error(`slapd did not start: ${stderr.slice(-2000)}`);
  }
  return {
    url,
    port,
    env: { LDAP_URL: url, LDAP_BIND_DN: ROOT_DN, LDAP_BIND_PASSWORD: ROOT_PW, LDAP_SEARCH_BASE: PEOPLE, LDAP_SEARCH_FILTER: FILTER, LDAP_TIMEOUT_MS: '2000' },
    async stop() {
      if (!exited) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([gone, sleep(5000)]);
        if (!exited) child.kill('SIGKILL');
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
