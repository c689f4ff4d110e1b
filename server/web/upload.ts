// File uploads (multipart/form-data) for the few routes that take a file, e.g. a reconciliation
// import. A route declares itself with declareUpload; the body is read only for a signed-in person
// the route's access entry admits, into memory up to the route's limit, before the CSRF check (a
// form's `_csrf` field comes first in the body). A file over the limit is refused without being
// read whole: at a Content-Length above it as soon as the file part begins, else when the limit is
// reached; the rest of the body is left unread and the connection closed after the answer.
import type { Request, RequestHandler } from 'express';
import Busboy from 'busboy';
import type { Config } from '../config.ts';
import { accessFor, type Audience } from './access.ts';
import { Problem } from '../problem.ts';

export interface Upload { fileName: string; mime: string; bytes: Buffer }

declare global {
  namespace Express {
    interface Request {
      /** The uploaded file (form field `file`) of a declared upload route. */
      upload?: Upload;
      /** Why the upload was not taken (too large, malformed); the route answers it. */
      uploadProblem?: Problem;
    }
  }
}

type Limit = (cfg: Config) => number;
interface UploadRoute { method: string; path: string; pattern: RegExp; maxBytes: Limit }
const routes: UploadRoute[] = [];

/** Declares a route that takes one file in the multipart field `file`, of at most `maxBytes(cfg)` bytes (the app's configuration). */
export function declareUpload(method: 'POST', path: string, maxBytes: Limit): void {
  const pattern = new RegExp(`^${path.split('/').map((s) => (s.startsWith(':') ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}$`);
  const had = routes.find((r) => r.method === method && r.path === path);
  if (had) had.maxBytes = maxBytes;
  else routes.push({ method, path, pattern, maxBytes });
}

/** The request's full path (under a mount point such as app.use('/api', …) req.path is relative). */
const fullPath = (req: Request): string => (req.originalUrl ?? req.url).split('?')[0];
const routeOf = (req: Request): UploadRoute | undefined => routes.find((r) => r.method === req.method && r.pattern.test(fullPath(req)));
export const isMultipart = (req: Request): boolean => /^multipart\/form-data\b/i.test(req.headers['content-type'] ?? '');
/** A multipart request to a declared upload route (the API's JSON-only rule lets it through). */
export const isUploadRequest = (req: Request): boolean => isMultipart(req) && !!routeOf(req);

const admits = (who: Audience, roles: readonly string[]): boolean =>
  who === 'public' || who === 'signed-in' || who === 'signed-in-or-token' || (Array.isArray(who) && roles.some((r) => (who as readonly string[]).includes(r)));

const mb = (n: number) => Math.round((n / 1048576) * 10) / 10;
const tooLarge = (max: number) =>
  new Problem(413, 'file-too-large', 'Payload too large', `檔案超過上限 ${mb(max)} MB，未讀取、未儲存任何資料；請分割檔案後再匯入。`, [{ field: 'file', message: `檔案超過上限 ${mb(max)} MB` }]);
const malformed = () =>
  new Problem(400, 'malformed-upload', 'Malformed upload', '上傳內容不是有效的 multipart/form-data。', [{ field: 'file', message: '上傳內容格式不正確，請重新選擇檔案後再送出' }]);

/** Reads the file and fields of a declared upload route (see the file comment). */
export function multipartUploads(cfg: Config): RequestHandler {
  return (req, res, next) => {
    if (!isMultipart(req)) return next();
    const route = routeOf(req);
    if (!route) return next();
    const entry = accessFor(route.method, route.path);
    // Nobody the route would refuse gets a byte read: its guard answers them.
    if (!req.actor || !entry || !admits(entry.who, req.actor.roles)) return next();
    const max = route.maxBytes(cfg);
    const declared = Number(req.headers['content-length'] ?? NaN);
    let bb: ReturnType<typeof Busboy>;
    try {
      bb = Busboy({ headers: req.headers, defParamCharset: 'utf8', limits: { files: 1, fileSize: max, fields: 40, fieldSize: 16_384, parts: 60, headerPairs: 20 } });
    } catch {
      req.uploadProblem = malformed();
      req.body = {};
      return next();
    }
    const fields: Record<string, string> = {};
    let upload: Upload | undefined;
    let done = false;
    let read = 0;
    const finish = (problem?: Problem) => {
      if (done) return;
      done = true;
      if (problem) {
        // Stop reading: what is left of the body is never read; the connection ends after the answer.
        req.unpipe(bb);
        req.pause();
        res.setHeader('Connection', 'close');
        req.uploadProblem = problem;
      } else if (upload) req.upload = upload;
      req.body = fields;
      next();
    };
    bb.on('field', (name, value) => {
      if (!Object.hasOwn(fields, name) && name !== '__proto__') fields[name] = value;
    });
    bb.on('file', (name, stream, info) => {
      if (name !== 'file' || upload || done) return void stream.resume();
      if (Number.isFinite(declared) && declared > max + 65_536) return void finish(tooLarge(max));
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => finish(tooLarge(max)));
      stream.on('end', () => {
        if (!done && !(stream as { truncated?: boolean }).truncated) upload = { fileName: info.filename ?? '', mime: info.mimeType, bytes: Buffer.concat(chunks) };
      });
    });
    bb.on('close', () => finish());
    bb.on('error', () => finish(malformed()));
    // Whatever comes around the file (preamble, fields) is bounded too.
    req.on('data', (c: Buffer) => {
      read += c.length;
      if (read > max + 1_048_576) finish(tooLarge(max));
    });
    req.on('error', () => finish(malformed()));
    req.pipe(bb);
  };
}
