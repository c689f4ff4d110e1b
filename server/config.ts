// Configuration: read once from the environment (and ./.env when present), validated with zod.
// An invalid value stops the process with a message naming the key.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { parse as parseDotenv } from 'dotenv';

/** Values that ship in .env.example; production refuses to start with them. */
export const EXAMPLE_SECRETS = new Set([
  'change-me-session-secret-at-least-32-characters',
  'change-me-subject-enc-key-base64-32-bytes',
  'change-me-subject-hmac-key-at-least-32-characters',
]);

// Development-only keys so `npm start` works with no configuration. Production refuses them.
const DEV_SESSION_SECRET = 'dev-only-session-secret-not-for-production-use';
const DEV_ENC_KEY = Buffer.alloc(32, 7).toString('base64');
const DEV_HMAC_KEY = 'dev-only-subject-hmac-key-not-for-production-use';
export const DEV_SECRETS = { SESSION_SECRET: DEV_SESSION_SECRET, SUBJECT_ENC_KEY: DEV_ENC_KEY, SUBJECT_HMAC_KEY: DEV_HMAC_KEY } as const;

/** Fewer distinct byte values than this in a key is a repeated pattern, not a secret (random keys have ~30). */
const MIN_DISTINCT_BYTES = 8;

/** The key as typed and, when it reads as hex or base64, as the bytes it encodes. */
function keyMaterial(value: string): Buffer[] {
  const out = [Buffer.from(value, 'utf8')];
  if (/^(?:[0-9a-fA-F]{2})+$/.test(value)) out.push(Buffer.from(value, 'hex'));
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) out.push(Buffer.from(value, 'base64'));
  return out;
}

/** Why production refuses a secret (example, built-in development key, repeated bytes), or null. */
export function weakSecret(value: string): string | null {
  if (EXAMPLE_SECRETS.has(value)) return 'is the example value; set a real secret in production';
  const dev = Object.values(DEV_SECRETS).flatMap(keyMaterial);
  if (keyMaterial(value).some((b) => b.length > 0 && dev.some((d) => d.equals(b)))) return 'is the built-in development key; set a real secret in production';
  if (keyMaterial(value).some((b) => b.length > 0 && new Set(b).size < MIN_DISTINCT_BYTES)) {
    return 'is a key of repeated bytes; generate a random one (openssl rand -base64 32)';
  }
  return null;
}

const bool = z
  .enum(['0', '1', 'true', 'false', 'yes', 'no'])
  .transform((v) => v === '1' || v === 'true' || v === 'yes');
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM');

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  DB_CLIENT: z.enum(['sqlite', 'mysql']).default('sqlite'),
  DATABASE_URL: z.string().min(1).optional(),
  // MariaDB only: the account for the few writes the app's own account may not make (migrate,
  // the retention purge, rotate-subject-key); the app's account has no UPDATE/DELETE on query_logs.
  DATABASE_ADMIN_URL: z.string().min(1).optional(),
  DB_POOL_MAX: int(1, 200).default(10),
  SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  SUBJECT_ENC_KEY: z.string().optional(),
  SUBJECT_ENC_KEY_PREVIOUS: z.string().optional(),
  SUBJECT_HMAC_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  TRUST_PROXY: z.string().default('loopback'),
  COOKIE_SECURE: bool.default(false),
  TZ_DISPLAY: z.string().default('Asia/Taipei'),
  COUNTY_NAME: z.string().default('南投縣政府'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  JOBS_ENABLED: bool.default(true),
  // Password and session policy: defaults are the floors of clause 3(二)1(5) and 資通系統防護基準.
  PASSWORD_MIN_LENGTH: int(12, 128).default(12),
  PASSWORD_HISTORY: int(5, 24).default(5),
  PASSWORD_MAX_AGE_DAYS: int(1, 90).default(90),
  PASSWORD_MIN_AGE_DAYS: int(1, 30).default(1),
  LOCKOUT_THRESHOLD: int(1, 5).default(5),
  LOCKOUT_MINUTES: int(15, 1440).default(15),
  ACTIVATION_HOURS: int(1, 72).default(72),
  SESSION_IDLE_MINUTES: int(1, 15).default(15),
  SESSION_ABSOLUTE_HOURS: int(1, 24).default(12),
  LOGIN_RATE_PER_MINUTE: int(1, 1000).default(20),
  ACCOUNT_IDLE_DAYS: int(1, 365).default(90),
  OFFICE_HOURS_START: hhmm.default('08:00'),
  OFFICE_HOURS_END: hhmm.default('18:00'),
  // Query log and checks: retention below 5 years is refused (clause 4(一)4, 5(二)).
  RETENTION_YEARS: int(5, 100).default(5),
  REASON_MIN_LENGTH: int(2, 200).default(4),
  // Searches by a person's identifier per account and hour; past it the search is refused (429) and ethics alerted.
  SUBJECT_SEARCH_PER_HOUR: int(1, 1000).default(30),
  SAMPLE_RATE_PERCENT: z.coerce.number().min(3).max(100).default(3),
  SAMPLE_MINIMUM: int(10, 100000).default(10),
  // Risk-flagged items added per rule per agency and month, on top of the random sample.
  CHECK_FLAG_ITEMS_MAX: int(1, 100000).default(50),
  // Reconciliation (issue 16): a source record and an entry match when this many minutes apart or fewer, either way.
  RECONCILE_WINDOW_MINUTES: int(1, 1440).default(30),
  // Audits: where background exports (annual workbooks, audit packages) are written.
  EXPORT_DIR: z.string().min(1).default('./data/exports'),
  // Export files (names, accounts, masked subjects) are removed this many days after they were
  // made, except a workbook filed with the county, which is the filing's own copy.
  EXPORT_KEEP_DAYS: int(1, 3650).default(30),
  // Reconciliation imports (issue 16): the largest source file read, refused before it is read whole.
  RECONCILE_MAX_FILE_MB: int(1, 100).default(20),
  // Signed checkpoints of the query log: a PEM Ed25519 private key kept by the IT unit, outside the
  // database (production refuses to start without one), and the witness directory, kept apart
  // from the database's storage.
  CHECKPOINT_KEY_FILE: z.string().min(1).optional(),
  WITNESS_DIR: z.string().min(1).default('./data/witness'),
  // The signed sheets as PDF (issue 19) are printed by headless Chromium: its program. Without it
  // those downloads answer 503 and say so; the pages themselves still print from the browser.
  CHROMIUM_PATH: z.string().min(1).default('/usr/bin/chromium'),
  // Mail (issue 18): the county's SMTP relay (smtp:// or smtps://; none: in-app only), the sender,
  // the link base in mails, days of warning before a due date, and the outbox's delivery attempts.
  SMTP_URL: z.string().optional(),
  MAIL_FROM: z.string().default('nhi-audit@localhost'),
  PUBLIC_URL: z.string().optional(),
  MAIL_REMINDER_DAYS: int(0, 60).default(3),
  MAIL_MAX_ATTEMPTS: int(1, 100).default(12),
  LDAP_URL: z.string().optional(),
  LDAP_BIND_DN: z.string().optional(),
  LDAP_BIND_PASSWORD: z.string().optional(),
  LDAP_SEARCH_BASE: z.string().optional(),
  LDAP_SEARCH_FILTER: z.string().default('(uid={{username}})'),
  LDAP_TIMEOUT_MS: int(100, 60000).default(5000),
});

export type RawConfig = z.infer<typeof schema>;
export interface Config extends RawConfig {
  DATABASE_URL: string;
  SESSION_SECRET: string;
  SUBJECT_HMAC_KEY: string;
  /** AES-256 key bytes decoded from SUBJECT_ENC_KEY. */
  subjectEncKey: Buffer;
  subjectEncKeyPrevious?: Buffer;
}

export class ConfigError extends Error {
  constructor(public readonly key: string, message: string) {
    super(`configuration ${key}: ${message}`);
    this.name = 'ConfigError';
  }
}

function decodeKey(key: string, value: string): Buffer {
  const buf = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  if (buf.length !== 32) throw new ConfigError(key, 'must be 32 bytes, as base64 or 64 hex digits');
  return buf;
}

/** Reads .env (if present) without overriding the real environment. */
export function readDotenv(dir = process.cwd()): Record<string, string> {
  const file = path.join(dir, '.env');
  if (!fs.existsSync(file)) return {};
  return parseDotenv(fs.readFileSync(file));
}

/** Parses and validates configuration; throws ConfigError naming the key. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') cleaned[k] = v;
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ConfigError(String(issue.path[0] ?? '?'), issue.message);
  }
  const raw = result.data;
  const prod = raw.NODE_ENV === 'production';
  const need = (key: 'SESSION_SECRET' | 'SUBJECT_ENC_KEY' | 'SUBJECT_HMAC_KEY', dev: string): string => {
    const v = raw[key];
    if (prod && !v) throw new ConfigError(key, 'is required in production');
    const weak = prod && v ? weakSecret(v) : null;
    if (weak) throw new ConfigError(key, weak);
    if (v && EXAMPLE_SECRETS.has(v) && !prod) return dev;
    return v ?? dev;
  };
  const databaseUrl = raw.DATABASE_URL ?? (raw.DB_CLIENT === 'sqlite' ? './data/nhi-audit.sqlite' : undefined);
  if (!databaseUrl) throw new ConfigError('DATABASE_URL', 'is required when DB_CLIENT=mysql');
  if (raw.DB_CLIENT === 'mysql' && !/^mysql:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'must look like mysql://user:pass@host:port/db when DB_CLIENT=mysql');
  }
  if (raw.DATABASE_ADMIN_URL) {
    if (raw.DB_CLIENT !== 'mysql') throw new ConfigError('DATABASE_ADMIN_URL', 'applies only when DB_CLIENT=mysql (SQLite has no accounts)');
    if (!/^mysql:\/\//.test(raw.DATABASE_ADMIN_URL)) throw new ConfigError('DATABASE_ADMIN_URL', 'must look like mysql://user:pass@host:port/db');
    // The purge must delete from the very log the app writes, not from a namesake elsewhere.
    const dbName = (url: string) => new URL(url).pathname.replace(/^\//, '');
    if (dbName(raw.DATABASE_ADMIN_URL) !== dbName(databaseUrl)) throw new ConfigError('DATABASE_ADMIN_URL', 'must name the same database as DATABASE_URL');
  }
  if (raw.OFFICE_HOURS_START >= raw.OFFICE_HOURS_END) {
    throw new ConfigError('OFFICE_HOURS_END', 'must be later than OFFICE_HOURS_START');
  }
  try {
    new Intl.DateTimeFormat('en', { timeZone: raw.TZ_DISPLAY });
  } catch {
    throw new ConfigError('TZ_DISPLAY', 'is not a known IANA time zone');
  }
  mailProblems(raw);
  const encKey = need('SUBJECT_ENC_KEY', DEV_ENC_KEY);
  return {
    ...raw,
    DATABASE_URL: databaseUrl,
    SESSION_SECRET: need('SESSION_SECRET', DEV_SESSION_SECRET),
    SUBJECT_ENC_KEY: encKey,
    SUBJECT_HMAC_KEY: need('SUBJECT_HMAC_KEY', DEV_HMAC_KEY),
    subjectEncKey: decodeKey('SUBJECT_ENC_KEY', encKey),
    subjectEncKeyPrevious: raw.SUBJECT_ENC_KEY_PREVIOUS
      ? decodeKey('SUBJECT_ENC_KEY_PREVIOUS', raw.SUBJECT_ENC_KEY_PREVIOUS)
      : undefined,
  };
}

/** Mail settings (issue 18): a malformed value stops the start naming its key. */
function mailProblems(raw: RawConfig): void {
  if (raw.SMTP_URL) {
    let u: URL | null = null;
    try { u = new URL(raw.SMTP_URL); } catch { /* reported below */ }
    if (!u || !['smtp:', 'smtps:'].includes(u.protocol) || !u.hostname || /[\r\n]/.test(raw.SMTP_URL)) {
      throw new ConfigError('SMTP_URL', 'must look like smtp://[user:pass@]host[:port] or smtps://…');
    }
  }
  // One plain address (an optional display name is set in the mail code): no header can ride in on it.
  if (!/^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$/.test(raw.MAIL_FROM)) throw new ConfigError('MAIL_FROM', 'must be one e-mail address, like nhi-audit@county.gov.tw');
  if (raw.PUBLIC_URL) {
    let u: URL | null = null;
    try { u = new URL(raw.PUBLIC_URL); } catch { /* reported below */ }
    if (!u || !['http:', 'https:'].includes(u.protocol)) throw new ConfigError('PUBLIC_URL', 'must be the address people open, like https://nhi-audit.county.gov.tw');
  }
}

let loaded: Config | undefined;

/** The process configuration: environment over .env, parsed once. */
export function loadConfig(): Config {
  if (!loaded) loaded = parseConfig({ ...readDotenv(), ...process.env });
  return loaded;
}
