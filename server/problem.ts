// The domain's errors, in the one shape of RFC 9457 problem details. Services, rules and commands
// throw these; they know nothing of HTTP beyond the status that classifies them. The web layer
// (web/errors.ts) renders them as application/problem+json for the API or as a page for browsers;
// commands print them (toJSON) and map them to exit codes.
import type { z } from 'zod';
export interface FieldError {
  field: string;
  message: string;
}

const BASE = 'https://nhi-audit.local/problems/';

export class Problem extends Error {
  constructor(
    public readonly status: number,
    /** Stable short type, e.g. 'validation', 'not-found'; rendered as a URI. */
    public readonly kind: string,
    public readonly title: string,
    public readonly detail?: string,
    public readonly errors: FieldError[] = [],
    public readonly extra: Record<string, unknown> = {},
  ) {
    super(detail ?? title);
    this.name = 'Problem';
  }
  get type(): string {
    return BASE + this.kind;
  }
  toJSON(instance?: string): Record<string, unknown> {
    return {
      type: this.type,
      title: this.title,
      status: this.status,
      ...(this.detail ? { detail: this.detail } : {}),
      ...(instance ? { instance } : {}),
      ...(this.errors.length ? { errors: this.errors } : {}),
      ...this.extra,
    };
  }
}

export const problemType = (kind: string): string => BASE + kind;

export const validation = (errors: FieldError[], detail = '輸入資料有誤，請依欄位訊息修正。') =>
  new Problem(400, 'validation', 'Validation failed', detail, errors);
export const fieldError = (field: string, message: string) => validation([{ field, message }], message);
export const unauthorized = (detail = '請先登入。') => new Problem(401, 'unauthorized', 'Authentication required', detail);
export const forbidden = (detail = '您沒有執行此操作的權限。') => new Problem(403, 'forbidden', 'Forbidden', detail);
export const notFound = (detail = '找不到指定的資料。') => new Problem(404, 'not-found', 'Not found', detail);
export const conflict = (kind: string, detail: string) => new Problem(409, kind, 'Conflict', detail);
export const unavailable = (detail = '資料庫暫時無法使用，資料未寫入，請稍後再試。') =>
  new Problem(503, 'database-unavailable', 'Service unavailable', detail);

export function fieldErrors(error: z.ZodError): FieldError[] {
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    const field = issue.path.length ? issue.path.map(String).join('.') : 'body';
    if (seen.has(field)) continue;
    seen.add(field);
    out.push({ field, message: issue.message });
  }
  return out;
}

/** Parses input with the schema or throws a 400 problem naming each bad field. */
export function parseOr400<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input ?? {});
  if (!r.success) throw validation(fieldErrors(r.error));
  return r.data;
}
