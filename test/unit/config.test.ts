import crypto from 'node:crypto';
import { expect } from 'chai';
import { ConfigError, DEV_SECRETS, parseConfig } from '../../server/config.ts';

const expectKey = (env: Record<string, string>, key: string) => {
  try {
    parseConfig(env);
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    expect((e as ConfigError).key).to.equal(key);
    expect((e as Error).message).to.contain(key);
    return;
  }
  expect.fail(`expected a configuration error naming ${key}`);
};

describe('configuration', () => {
  it('has working defaults: SQLite under ./data, port 3000, Asia/Taipei', () => {
    const c = parseConfig({});
    expect(c.DB_CLIENT).to.equal('sqlite');
    expect(c.DATABASE_URL).to.equal('./data/nhi-audit.sqlite');
    expect(c.PORT).to.equal(3000);
    expect(c.TZ_DISPLAY).to.equal('Asia/Taipei');
    expect(c.subjectEncKey.length).to.equal(32);
  });
  it('names the key of an invalid value', () => {
    expectKey({ PORT: 'eighty' }, 'PORT');
    expectKey({ DB_CLIENT: 'oracle' }, 'DB_CLIENT');
    expectKey({ TZ_DISPLAY: 'Mars/Olympus' }, 'TZ_DISPLAY');
    expectKey({ DB_CLIENT: 'mysql' }, 'DATABASE_URL');
    expectKey({ DB_CLIENT: 'mysql', DATABASE_URL: 'postgres://x' }, 'DATABASE_URL');
    expectKey({ SUBJECT_ENC_KEY: 'dG9vLXNob3J0' }, 'SUBJECT_ENC_KEY');
  });
  it('takes DATABASE_ADMIN_URL only on MariaDB and only for the same database as DATABASE_URL', () => {
    const mysql = { DB_CLIENT: 'mysql', DATABASE_URL: 'mysql://nhi:a@db:3306/nhi_audit' };
    expect(parseConfig({ ...mysql, DATABASE_ADMIN_URL: 'mysql://admin:b@db:3306/nhi_audit' }).DATABASE_ADMIN_URL).to.equal('mysql://admin:b@db:3306/nhi_audit');
    expectKey({ DATABASE_ADMIN_URL: 'mysql://admin:b@db:3306/nhi_audit' }, 'DATABASE_ADMIN_URL');
    expectKey({ ...mysql, DATABASE_ADMIN_URL: 'mysql://admin:b@db:3306/other' }, 'DATABASE_ADMIN_URL');
    expectKey({ ...mysql, DATABASE_ADMIN_URL: 'postgres://admin@db/nhi_audit' }, 'DATABASE_ADMIN_URL');
  });
  it('refuses policy values weaker than the rules and the security baseline', () => {
    expectKey({ RETENTION_YEARS: '4' }, 'RETENTION_YEARS');
    expectKey({ PASSWORD_MIN_LENGTH: '8' }, 'PASSWORD_MIN_LENGTH');
    expectKey({ PASSWORD_MAX_AGE_DAYS: '120' }, 'PASSWORD_MAX_AGE_DAYS');
    expectKey({ LOCKOUT_THRESHOLD: '6' }, 'LOCKOUT_THRESHOLD');
    expectKey({ SAMPLE_RATE_PERCENT: '2.5' }, 'SAMPLE_RATE_PERCENT');
    expectKey({ SAMPLE_MINIMUM: '9' }, 'SAMPLE_MINIMUM');
  });
  const good = {
    NODE_ENV: 'production',
    SESSION_SECRET: crypto.randomBytes(36).toString('base64'),
    SUBJECT_ENC_KEY: crypto.randomBytes(32).toString('base64'),
    SUBJECT_HMAC_KEY: crypto.randomBytes(36).toString('hex'),
  };
  const expectRefused = (env: Record<string, string>, key: string, why: RegExp) => {
    expectKey(env, key);
    expect(() => parseConfig(env)).to.throw(why);
  };
  it('in production refuses missing or example secrets and names which', () => {
    expect(parseConfig(good).NODE_ENV).to.equal('production');
    expectKey({ ...good, SESSION_SECRET: '' }, 'SESSION_SECRET');
    expectKey({ ...good, SESSION_SECRET: 'change-me-session-secret-at-least-32-characters' }, 'SESSION_SECRET');
    expectKey({ ...good, SUBJECT_ENC_KEY: '' }, 'SUBJECT_ENC_KEY');
    expectKey({ ...good, SUBJECT_HMAC_KEY: 'change-me-subject-hmac-key-at-least-32-characters' }, 'SUBJECT_HMAC_KEY');
  });
  it('in production refuses the built-in development keys and keys of repeated bytes, naming the key', () => {
    // The development keys, as the configuration would read them, in any of the three places (and hex).
    for (const key of ['SESSION_SECRET', 'SUBJECT_ENC_KEY', 'SUBJECT_HMAC_KEY'] as const) {
      for (const dev of Object.values(DEV_SECRETS).filter((d) => key === 'SUBJECT_ENC_KEY' || d.length >= 32)) expectRefused({ ...good, [key]: dev }, key, /development key/);
    }
    expectRefused({ ...good, SUBJECT_ENC_KEY: Buffer.from(DEV_SECRETS.SUBJECT_ENC_KEY, 'base64').toString('hex') }, 'SUBJECT_ENC_KEY', /development key/);
    // What a development configuration actually uses is refused too.
    const dev = parseConfig({});
    expectRefused({ ...good, SESSION_SECRET: dev.SESSION_SECRET }, 'SESSION_SECRET', /development key/);
    expectRefused({ ...good, SUBJECT_HMAC_KEY: dev.SUBJECT_HMAC_KEY }, 'SUBJECT_HMAC_KEY', /development key/);
    expectRefused({ ...good, SUBJECT_ENC_KEY: dev.subjectEncKey.toString('base64') }, 'SUBJECT_ENC_KEY', /development key/);
    // Repeated bytes: 32 zero bytes (base64 and hex), all 'a', a two-character pattern.
    expectRefused({ ...good, SUBJECT_ENC_KEY: Buffer.alloc(32, 0).toString('base64') }, 'SUBJECT_ENC_KEY', /repeated bytes/);
    expectRefused({ ...good, SUBJECT_ENC_KEY: '00'.repeat(32) }, 'SUBJECT_ENC_KEY', /repeated bytes/);
    expectRefused({ ...good, SUBJECT_ENC_KEY: Buffer.alloc(32, 'a').toString('base64') }, 'SUBJECT_ENC_KEY', /repeated bytes/);
    expectRefused({ ...good, SESSION_SECRET: 'a'.repeat(40) }, 'SESSION_SECRET', /repeated bytes/);
    expectRefused({ ...good, SUBJECT_HMAC_KEY: 'ab'.repeat(20) }, 'SUBJECT_HMAC_KEY', /repeated bytes/);
    expectRefused({ ...good, SUBJECT_HMAC_KEY: Buffer.alloc(36, 0xff).toString('base64') }, 'SUBJECT_HMAC_KEY', /repeated bytes/);
    // Outside production the same values are allowed (development and tests).
    expect(parseConfig({ SESSION_SECRET: 'a'.repeat(40), SUBJECT_ENC_KEY: '00'.repeat(32) }).NODE_ENV).to.equal('development');
  });
});

describe('.env.example', () => {
  it('documents every configuration key and parses as a valid configuration', async () => {
    const fs = await import('node:fs');
    const { parse } = await import('dotenv');
    const example = parse(fs.readFileSync(new URL('../../.env.example', import.meta.url)));
    const cfg = parseConfig(example);
    const documented = new Set(Object.keys(example));
    const keys = Object.keys(cfg).filter((k) => /^[A-Z][A-Z0-9_]+$/.test(k));
    expect(keys.filter((k) => !documented.has(k)), 'keys missing from .env.example').to.deep.equal([]);
  });
});
