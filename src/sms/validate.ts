/**
 * Zod validator middleware for the SMS routes, in hono's way: `validate('query' | 'param', …)` is
 * hono's own validator (read with `c.req.valid(target)`); `body('text' | 'json', …)` reads the
 * body whatever its content type (iExec clients push secrets as text/plain, and a session body
 * that is not JSON is a malformed request, not a transport error) and leaves it in `c.var.body`.
 * A failure throws the SealworkError that `refuse` builds from the first zod issue (or the promise
 * it returns rejects, for refusals that must be audited first).
 */
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { validator } from 'hono/validator';
import type { z } from 'zod';

export type ZodIssue = z.core.$ZodIssue;

/** Builds the refusal of a value that failed its schema. */
export type Refuse = (issue: ZodIssue, input: unknown) => Error | Promise<never>;

/**
 * The zod check options of a refinement that refuses with its own error (`build(input)`, where
 * `input` is what the validator was given: the query, the parameters, the body).
 */
export const refusal = (build: (input: unknown) => Error) => ({ params: { refusal: build }, abort: true });

/** Refuse with what the failing refinement declared (see `refusal`), else with `fallback`. */
export const declaredOr =
  (fallback: Refuse): Refuse =>
  (issue, input) => {
    const build = (issue as { params?: { refusal?: (input: unknown) => Error } }).params?.refusal;
    return build ? build(input) : fallback(issue, input);
  };

async function parse<S extends z.ZodType>(schema: S, input: unknown, refuse: Refuse): Promise<z.output<S>> {
  const r = await schema.safeParseAsync(input);
  if (r.success) return r.data;
  throw await refuse(r.error.issues[0]!, input);
}

/** Validate the query string or the path parameters. */
export const validate = <T extends 'query' | 'param', S extends z.ZodType>(
  target: T,
  schema: S,
  refuse: Refuse,
) => validator(target, (value) => parse(schema, value, refuse));

/** Read and validate the body: as text, or as JSON (`undefined` when it does not parse). */
export const body = <S extends z.ZodType>(kind: 'text' | 'json', schema: S, refuse: Refuse) =>
  createMiddleware<{ Variables: { body: z.output<S> } }>(async (c, next) => {
    const text = await c.req.text();
    let input: unknown = text;
    if (kind === 'json')
      try {
        input = JSON.parse(text);
      } catch {
        input = undefined;
      }
    c.set('body', await parse(schema, input, refuse));
    await next();
  });

/** The context a handler sees after `validate(…)` of `T`'s targets and `body(…)` of a `B`. */
export type Validated<T extends Partial<Record<'query' | 'param', object>>, B = string> = Context<
  { Variables: { body: B } },
  string,
  { out: T }
>;
