// Application log (pino). Never put personal data here: no national IDs, names or subjects.
import pino from 'pino';

export const log = pino({
  level: process.env.LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info'),
  base: { app: 'nhi-audit' },
  redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.subject', '*.value'], remove: true },
});
