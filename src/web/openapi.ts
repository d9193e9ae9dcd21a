import { zodToJsonSchema } from "zod-to-json-schema";
import { z } from "zod";
import { metricsSummarySchema } from "../db/build-metrics.js";
import { alertRulesSchema } from "../domain/alert-rules.js";
import { alertsAnswerSchema, pageQuery, testAlertAnswerSchema } from "./alert-routes.js";
import { buildDetailSchema, buildsAnswerSchema, buildsQuery, failuresAnswerSchema, failuresQuery, summaryQuery, syncAnswerSchema } from "./api-routes.js";
import { queueQuery, usageQuery } from "./runner-api-routes.js";
import { queueReportSchema, usageReportSchema } from "./runner-insights.js";

type JsonSchema = Record<string, unknown>;

/**
 * JSON Schema (draft 2020-12, OpenAPI 3.1's dialect) of a zod schema. Answers are described as
 * sent (dates as date-time strings); request bodies and query parameters as a client writes
 * them: a query parameter as the value it stands for (`limit` is an integer from 1 to 500), not
 * as the text the URL carries.
 */
function schema(zod: z.ZodTypeAny, io: "answer" | "body" | "query" = "answer"): JsonSchema {
  const { $schema: _ignored, ...rest } = zodToJsonSchema(zod, {
    // 2019-09 output is valid 2020-12 for these schemas: null as a type, numeric exclusive bounds.
    target: "jsonSchema2019-09",
    $refStrategy: "none",
    ...(io === "answer" ? {} : { effectStrategy: "input" as const }),
    ...(io === "query" ? { pipeStrategy: "output" as const } : io === "body" ? { pipeStrategy: "input" as const } : {}),
  }) as JsonSchema;
  return numericBounds(rest) as JsonSchema;
}

/** `minimum: x, exclusiveMinimum: true` (draft 4's form, which the converter may give) as 2020-12's `exclusiveMinimum: x`. */
function numericBounds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(numericBounds);
  if (typeof node !== "object" || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = numericBounds(value);
  for (const [exclusive, bound] of [["exclusiveMinimum", "minimum"], ["exclusiveMaximum", "maximum"]] as const) {
    if (out[exclusive] === true && typeof out[bound] === "number") {
      out[exclusive] = out[bound];
      delete out[bound];
    } else if (out[exclusive] === false) delete out[exclusive];
  }
  return out;
}

/**
 * Query parameters from a zod object schema, each with its own schema and, where the schema
 * fills one in, its default (found by parsing an empty query).
 */
function parameters(query: z.AnyZodObject, descriptions: Record<string, string>) {
  const object = schema(query, "query") as { properties: Record<string, JsonSchema>; required?: string[] };
  const defaults = query.parse({}) as Record<string, unknown>;
  return Object.entries(object.properties).map(([name, s]) => ({
    name,
    in: "query",
    required: object.required?.includes(name) ?? false,
    description: descriptions[name],
    schema: defaults[name] === undefined ? s : { ...s, default: defaults[name] },
  }));
}

const errorSchema = schema(
  z.object({
    error: z.string().describe("What was wrong, for a person"),
    parameter: z.string().optional().describe("The query parameter refused"),
    field: z.string().optional().describe("The body field refused"),
  }),
);
const json = (description: string, body: JsonSchema) => ({ description, content: { "application/json": { schema: body } } });
const error = (description: string) => json(description, errorSchema);

/** Answers every authenticated route may give, besides its own. */
const guarded = {
  "401": {
    ...error("No valid credentials: a login or a bearer token is configured and none valid was sent"),
    headers: { "WWW-Authenticate": { description: 'Bearer realm="runboard"', schema: { type: "string" } } },
  },
  "429": {
    ...error("Too many requests from this token or address, or too many invalid tokens: wait Retry-After seconds"),
    headers: { "Retry-After": { description: "Seconds to wait", schema: { type: "integer", minimum: 0 } } },
  },
};

/** The OpenAPI 3.1 description of the JSON API, generated from the same zod schemas that validate it. */
export function createOpenApiDocument(baseUrl: string) {
  return {
    openapi: "3.1.0",
    jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
    info: {
      title: "Runboard API",
      version: "1",
      description:
        "Workflow runs and jobs recorded from GitHub Actions, their metrics, and alerts. Times are ISO 8601 in UTC; durations are seconds. " +
        "Send `Authorization: Bearer <token>` (API_TOKEN, or a token made on /account); a logged-in browser's session cookie works too. " +
        "Where neither a login nor API_TOKEN is configured (this machine only), the API is open.",
    },
    servers: [{ url: baseUrl }],
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "API_TOKEN, or a user's token from /account" },
        session: { type: "apiKey", in: "cookie", name: "runboard_session", description: "A logged-in browser's session" },
      },
    },
    // The empty requirement: open where no login and no API_TOKEN are configured.
    security: [{ bearer: [] }, { session: [] }, {}],
    paths: {
      "/health": {
        get: {
          operationId: "getHealth",
          summary: "Whether the server and its database answer",
          security: [],
          responses: {
            "200": json("Healthy", schema(z.object({ status: z.literal("ok"), database: z.literal("ok") }))),
            "503": json("The database does not answer", schema(z.object({ status: z.literal("error"), database: z.string(), reason: z.string() }))),
          },
        },
      },
      "/openapi.json": {
        get: {
          operationId: "getOpenApiDocument",
          summary: "This description",
          security: [],
          responses: { "200": json("The OpenAPI 3.1 document", { type: "object" }) },
        },
      },
      "/metrics": {
        get: {
          operationId: "getMetrics",
          summary: "Every metric in Prometheus's text format (version 0.0.4), for a scraper",
          responses: {
            "200": { description: "The scrape", content: { "text/plain": { schema: { type: "string" } } } },
            ...guarded,
          },
        },
      },
      "/api/builds": {
        get: {
          operationId: "listBuilds",
          summary: "Builds, newest first",
          parameters: parameters(buildsQuery, {
            limit: "Page size",
            offset: "Builds to skip (not with before)",
            before:
              "Keyset paging, for deep pages: the builds after this cursor, the previous answer's next_before (opaque). " +
              "Its cost does not grow with the depth, and builds that arrive meanwhile neither shift nor repeat a page",
            status: "queued, running, success, failed, cancelled or skipped",
            repository: "owner/name",
            branch: "Branch name",
            workflow: "Workflow name",
            triggered_by: "GitHub login that triggered the run",
          }),
          responses: { "200": json("A page of builds", schema(buildsAnswerSchema)), "400": error("A query parameter was refused"), ...guarded },
        },
      },
      "/api/builds/{id}": {
        get: {
          operationId: "getBuild",
          summary: "One build with its provider and the jobs of its current attempt",
          parameters: [{ name: "id", in: "path", required: true, description: "The build's id", schema: { type: "integer", minimum: 0 } }],
          responses: { "200": json("The build", schema(buildDetailSchema)), "404": error("No such build (or not one this caller may see)"), ...guarded },
        },
      },
      "/api/metrics/summary": {
        get: {
          operationId: "getMetricsSummary",
          summary: "Counts, success rate and durations over a window",
          parameters: parameters(summaryQuery, {
            days: "Window in days",
            repository: "owner/name",
            branch: "Branch name",
            workflow: "Workflow name",
          }),
          responses: { "200": json("The summary", schema(metricsSummarySchema)), "400": error("A query parameter was refused"), ...guarded },
        },
      },
      "/api/sync": {
        get: {
          operationId: "getSync",
          summary: "How current each installation's data is, and the progress of the history import",
          responses: { "200": json("Each installation's sync state", schema(syncAnswerSchema)), ...guarded },
        },
      },
      "/api/failures": {
        get: {
          operationId: "listTopFailures",
          summary: "The failure signatures seen most in a window (the normalised error line of failed jobs), per repository",
          parameters: parameters(failuresQuery, {
            days: "Window in days",
            limit: "Signatures at most",
            repository: "owner/name",
            workflow: "Workflow name",
          }),
          responses: { "200": json("Signatures with counts, first and last seen, branches and the latest run", schema(failuresAnswerSchema)), "400": error("A query parameter was refused"), ...guarded },
        },
      },
      "/api/metrics/queue": {
        get: {
          operationId: "getQueueTime",
          summary: "Queue time (queued to started) of jobs that ran, and jobs waiting for a runner now",
          parameters: parameters(queueQuery, {
            days: "Window in days",
            repository: "owner/name",
            labels: "One runner label set, comma-separated (exactly these labels, in any order)",
          }),
          responses: { "200": json("Queue time percentiles in seconds", schema(queueReportSchema)), "400": error("A query parameter was refused"), ...guarded },
        },
      },
      "/api/metrics/usage": {
        get: {
          operationId: "getUsage",
          summary: "Estimated Actions minutes per repository, workflow and month (an estimate, not GitHub's bill)",
          parameters: parameters(usageQuery, { days: "Window in days", repository: "owner/name" }),
          responses: { "200": json("Estimated minutes", schema(usageReportSchema)), "400": error("A query parameter was refused"), ...guarded },
        },
      },
      "/api/alerts": {
        get: {
          operationId: "listAlerts",
          summary: "Alert history, newest first",
          parameters: parameters(pageQuery, { limit: "Page size", offset: "Rows to skip" }),
          responses: { "200": json("A page of alerts", schema(alertsAnswerSchema)), "400": error("A query parameter was refused"), ...guarded },
        },
      },
      "/api/alerts/configure": {
        get: {
          operationId: "getAlertRules",
          summary: "The alert routing rules",
          responses: { "200": json("The rules", schema(alertRulesSchema)), ...guarded },
        },
        post: {
          operationId: "replaceAlertRules",
          summary: "Replace the alert routing rules",
          requestBody: { required: true, content: { "application/json": { schema: schema(alertRulesSchema, "body") } } },
          responses: {
            "200": json("The rules as stored", schema(alertRulesSchema)),
            "400": error("The rules were refused (the field is named)"),
            "403": error("A token limited to some installations cannot change rules for all"),
            "415": error("The body is not JSON"),
            ...guarded,
          },
        },
      },
      "/api/alert/test": {
        post: {
          operationId: "sendTestAlert",
          summary: "Send a test alert to each configured channel",
          requestBody: { required: false, content: { "application/json": { schema: { type: "object" } } } },
          responses: {
            "200": json("What happened per channel", schema(testAlertAnswerSchema)),
            "403": error("A token limited to some installations cannot send test alerts"),
            "415": error("The request is not JSON"),
            ...guarded,
          },
        },
      },
    },
  };
}
