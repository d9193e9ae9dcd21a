import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";

/**
 * A whole-number query parameter between `min` and `max`, `fallback` when absent. Its default
 * shows in the API description, which parses an empty query to find it.
 */
export function wholeNumber(min: number, max: number, fallback: number) {
  return z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
    .optional()
    .transform((value) => value ?? fallback);
}

/**
 * Validates a request's query string against a zod object schema.
 * Unknown parameters are refused too, so a typo is not silently ignored.
 * @throws HTTPException 400 naming the first bad parameter.
 */
export function parseQuery<T extends z.ZodTypeAny>(c: Context, schema: T): z.infer<T> {
  const query = c.req.query();
  const result = schema.safeParse(query);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const name = issue.code === "unrecognized_keys" ? issue.keys.join(", ") : issue.path.join(".");
    const message = issue.code === "unrecognized_keys" ? "is not a known parameter" : issue.message;
    throw new HTTPException(400, {
      res: Response.json({ error: `invalid query parameter ${name}: ${message}`, parameter: name }, { status: 400 }),
    });
  }
  return result.data;
}
