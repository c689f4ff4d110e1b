// Directory login (LDAP / Active Directory). The ONLY module that touches passport-ldapauth and
// its ldapauth-fork/ldapjs stack: ldapjs 2 is decommissioned upstream, so everything else sees the
// small `Directory` interface below and this file can be swapped (e.g. for ldapts) alone.
// Authentication only: what a directory account may do still comes from this system.
import LdapStrategy from 'passport-ldapauth';
import LdapAuth from 'ldapauth-fork';
import type { Config } from '../config.ts';

export type DirectoryAuth = { kind: 'ok' } | { kind: 'invalid' } | { kind: 'unavailable'; reason: string };
export type DirectoryLookup = { kind: 'found' } | { kind: 'missing' } | { kind: 'unavailable'; reason: string };

export interface Directory {
  /** Checks the password against the directory. `invalid` covers unknown, disabled and wrong password alike. */
  authenticate(account: string, password: string): Promise<DirectoryAuth>;
  /** Whether the account still exists (and passes the filter, which excludes disabled entries). */
  lookup(account: string): Promise<DirectoryLookup>;
}

type LdapCfg = Pick<Config, 'LDAP_URL' | 'LDAP_BIND_DN' | 'LDAP_BIND_PASSWORD' | 'LDAP_SEARCH_BASE' | 'LDAP_SEARCH_FILTER' | 'LDAP_TIMEOUT_MS'>;

function serverOptions(cfg: LdapCfg) {
  return {
    url: cfg.LDAP_URL!,
    bindDN: cfg.LDAP_BIND_DN,
    bindCredentials: cfg.LDAP_BIND_PASSWORD,
    searchBase: cfg.LDAP_SEARCH_BASE ?? '',
    searchFilter: cfg.LDAP_SEARCH_FILTER,
    searchAttributes: ['dn', 'uid', 'cn'],
    timeout: cfg.LDAP_TIMEOUT_MS,
    connectTimeout: cfg.LDAP_TIMEOUT_MS,
    reconnect: false,
  };
}

/** Settles once, whatever the directory library does afterwards (late errors, double callbacks). */
function once<T>(timeoutMs: number, onTimeout: T, start: (settle: (v: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve) => {
    let done = false;
    const settle = (v: T) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(v);
    };
    const timer = setTimeout(() => settle(onTimeout), timeoutMs + 500);
    try {
      start(settle);
    } catch (e) {
      settle(onTimeout);
    }
  });
}

const isConnectionProblem = (e: unknown): boolean => {
  const err = e as { code?: string; name?: string; message?: string };
  return !!err && (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND'].includes(err.code ?? '') || /ConnectionError|TimeoutError|connect/i.test(`${err.name} ${err.message}`));
};

export function ldapDirectory(cfg: LdapCfg): Directory {
  return {
    authenticate(account, password) {
      const unavailable: DirectoryAuth = { kind: 'unavailable', reason: 'timeout' };
      return once<DirectoryAuth>(cfg.LDAP_TIMEOUT_MS, unavailable, (settle) => {
        const strategy = new LdapStrategy({
          server: serverOptions(cfg),
          credentialsLookup: () => ({ username: account, password }),
          handleErrorsAsFailures: false,
        });
        // Drive the strategy directly: no passport middleware, so the result maps to our service.
        const s = strategy as unknown as Record<string, unknown>;
        s.success = () => settle({ kind: 'ok' });
        s.fail = (info: unknown, status?: number) => {
          // A connection error reported as a failure still means the directory did not answer.
          settle(status === 500 || isConnectionProblem(info) ? { kind: 'unavailable', reason: String((info as Error)?.message ?? info) } : { kind: 'invalid' });
        };
        s.error = (err: unknown) => settle(isConnectionProblem(err) || !(err as Error)?.name?.endsWith?.('CredentialsError') ? { kind: 'unavailable', reason: String((err as Error)?.message ?? err) } : { kind: 'invalid' });
        s.redirect = () => settle({ kind: 'invalid' });
        s.pass = () => settle({ kind: 'invalid' });
        strategy.authenticate({ body: {}, query: {} } as never, {});
      });
    },
    lookup(account) {
      const unavailable: DirectoryLookup = { kind: 'unavailable', reason: 'timeout' };
      return once<DirectoryLookup>(cfg.LDAP_TIMEOUT_MS, unavailable, (settle) => {
        const client = new LdapAuth(serverOptions(cfg) as never);
        const close = () => {
          try {
            client.close(() => undefined);
          } catch {
            /* already closed */
          }
        };
        client.on('error', (e: unknown) => {
          settle({ kind: 'unavailable', reason: String((e as Error)?.message ?? e) });
          close();
        });
        (client as unknown as { _findUser(u: string, cb: (e: unknown, user?: unknown) => void): void })._findUser(account, (e, user) => {
          if (e) settle({ kind: 'unavailable', reason: String((e as Error)?.message ?? e) });
          else settle(user ? { kind: 'found' } : { kind: 'missing' });
          close();
        });
      });
    },
  };
}

/** The configured directory, or null when directory login is off (no LDAP_URL). */
export function directoryFor(cfg: LdapCfg): Directory | null {
  return cfg.LDAP_URL ? ldapDirectory(cfg) : null;
}
