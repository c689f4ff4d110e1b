// zod → field errors. One place turns a schema failure into a problem naming each field.
import type { z } from 'zod';
import { validation, type FieldError } from './problem.ts';

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

/** For forms: the parsed value, or field messages keyed by field for re-showing the form. */
export function parseForm<S extends z.ZodType>(schema: S, input: unknown): { ok: true; value: z.infer<S> } | { ok: false; errors: Record<string, string> } {
  const r = schema.safeParse(input ?? {});
  if (r.success) return { ok: true, value: r.data };
  const errors: Record<string, string> = {};
  for (const e of fieldErrors(r.error)) errors[e.field] = e.message;
  return { ok: false, errors };
}
