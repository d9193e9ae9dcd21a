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
    throw badParameter(name, message);
  }
  return result.data;
}

/** The 400 answer for a query parameter that was refused, in {@link parseQuery}'s words. */
export function badParameter(name: string, message: string): HTTPException {
  return new HTTPException(400, {
    res: Response.json({ error: `invalid query parameter ${name}: ${message}`, parameter: name }, { status: 400 }),
  });
}

/**
 * A keyset cursor query parameter (`before`): the position its opaque text stands for, refused
 * when the text is not one `decode` reads.
 */
export function cursorParameter<T>(decode: (text: string) => T | null) {
  return z
    .string()
    .optional()
    .transform((text, context): T | undefined => {
      if (text === undefined || text === "") return undefined;
      const cursor = decode(text);
      if (cursor === null) {
        context.addIssue({ code: "custom", message: "is not a cursor from a page before (next_before)" });
        return z.NEVER;
      }
      return cursor;
    });
}
