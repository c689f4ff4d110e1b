// One error handler: problem+json for the API, an error page for browsers. Never a stack trace
// or SQL in a response; database outages are 503 with a clear message.
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { isDbUnavailable } from '../db.ts';
import { log } from '../log.ts';
import { fieldErrors, notFound, Problem, unavailable, validation } from '../problem.ts';
import { JSON_TOO_DEEP, tooDeepProblem } from './validate.ts';
import { renderPage } from './views.ts';

export const wantsJson = (req: Request): boolean =>
  req.path.startsWith('/api/') || (!!req.headers.accept && !req.accepts('html') && !!req.accepts('json'));

export function toProblem(err: unknown): Problem {
  if (err instanceof Problem) return err;
  if (err instanceof ZodError) return validation(fieldErrors(err));
  const e = err as { type?: string; status?: number; statusCode?: number; expose?: boolean };
  if (e?.type === JSON_TOO_DEEP) return tooDeepProblem();
  if (e?.type === 'entity.parse.failed') return validation([{ field: 'body', message: '請求內容不是有效的 JSON。' }], 'Malformed JSON body');
  if (e?.type === 'entity.too.large') return new Problem(413, 'payload-too-large', 'Payload too large', '請求內容過大。');
  if (e?.type === 'charset.unsupported' || e?.type === 'encoding.unsupported') return new Problem(415, 'unsupported-encoding', 'Unsupported encoding', '不支援的字元編碼。');
  if (isDbUnavailable(err)) return unavailable();
  const status = e?.status ?? e?.statusCode;
  if (status && status >= 400 && status < 500 && e.expose !== false) return new Problem(status, 'bad-request', 'Bad request', '請求格式不正確。');
  return new Problem(500, 'internal', 'Internal error', '系統發生錯誤，已記錄，請聯絡資訊人員。');
}

export const notFoundHandler: RequestHandler = (_req, _res, next) => next(notFound('找不到這個頁面或資源。'));

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const p = toProblem(err);
  if (p.status >= 500) log.error({ err, reqId: req.requestId, path: req.path }, 'request failed');
  if (res.headersSent) return void res.end();
  if (p.status === 503) res.setHeader('Retry-After', '5');
  if (wantsJson(req)) {
    res.status(p.status).type('application/problem+json').send(JSON.stringify(p.toJSON(req.originalUrl)));
    return;
  }
  try {
    renderPage(res, 'error', { title: `錯誤 ${p.status}`, problem: p }, p.status);
  } catch (renderErr) {
    log.error({ err: renderErr }, 'error page failed');
    res.status(p.status).type('text/plain').send(`${p.status} ${p.detail ?? p.title}`);
  }
};
