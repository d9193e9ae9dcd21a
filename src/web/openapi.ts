import { zodToJsonSchema } from "zod-to-json-schema";
import { z } from "zod";
import { alertHistorySchema } from "../db/alerts.js";
import { metricsSummarySchema } from "../db/build-metrics.js";
import { buildJobSchema, buildSchema } from "../db/builds.js";
import { alertRulesSchema } from "../domain/alert-rules.js";
import { pageQuery } from "./alert-routes.js";
import { buildsQuery, summaryQuery } from "./api-routes.js";
import { runnerApiPaths } from "./runner-api-routes.js";

type JsonSchema = Record<string, unknown>;

/** JSON Schema (OpenAPI 3 dialect) of a zod schema, as requests see it (before transforms). */
function schema(zod: z.ZodTypeAny, io: "input" | "output" = "output"): JsonSchema {
  const { $schema: _ignored, ...rest } = zodToJsonSchema(zod, {
    target: "openApi3",
    $refStrategy: "none",
    ...(io === "input" ? { effectStrategy: "input" as const } : {}),
  }) as JsonSchema;
  return rest;
}

/** Query parameters from a zod object schema, each with its own schema. */
function parameters(query: z.AnyZodObject, descriptions: Record<string, string>) {
  const object = schema(query, "input") as { properties: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(object.properties).map(([name, s]) => ({
    name,
    in: "query",
    required: object.required?.includes(name) ?? false,
    description: descriptions[name],
    schema: s,
  }));
}

const error = { description: "Refused, with the reason", content: { "application/json": { schema: schema(z.object({ error: z.string(), parameter: z.string().optional() })) } } };
const json = (description: string, body: JsonSchema) => ({ description, content: { "application/json": { schema: body } } });

/** The OpenAPI 3.1 description of the JSON API, generated from the same zod schemas that validate it. */
export function createOpenApiDocument(baseUrl: string) {
  const build = schema(buildSchema);
  return {
    openapi: "3.1.0",
    info: {
      title: "Runboard API",
      version: "1",
      description:
        "Workflow runs and jobs recorded from GitHub Actions, their metrics, and alerts. Times are ISO 8601 in UTC; durations are seconds.",
    },
    servers: [{ url: baseUrl }],
    paths: {
      "/health": {
        get: {
          summary: "Whether the server and its database answer",
          responses: {
            "200": json("Healthy", schema(z.object({ status: z.literal("ok"), database: z.literal("ok") }))),
            "503": json("The database does not answer", schema(z.object({ status: z.literal("error"), database: z.string(), reason: z.string() }))),
          },
        },
      },
      "/api/builds": {
        get: {
          summary: "Builds, newest first",
          parameters: parameters(buildsQuery, {
            limit: "Page size, 1-500 (default 50)",
            offset: "Builds to skip (default 0)",
            status: "queued, running, success, failed, cancelled or skipped",
            repository: "owner/name",
            branch: "Branch name",
            workflow: "Workflow name",
            triggered_by: "GitHub login that triggered the run",
          }),
          responses: {
            "200": json(
              "A page of builds",
              schema(z.object({ builds: z.array(buildSchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })),
            ),
            "400": error,
          },
        },
      },
      "/api/builds/{id}": {
        get: {
          summary: "One build with its provider and the jobs of its current attempt",
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "integer" } }],
          responses: {
            "200": json("The build", { ...build, properties: { ...(build.properties as object), provider_name: { type: "string" }, jobs: { type: "array", items: schema(buildJobSchema) } } }),
            "404": error,
          },
        },
      },
      "/api/metrics/summary": {
        get: {
          summary: "Counts, success rate and durations over a window",
          parameters: parameters(summaryQuery, {
            days: "Window in days, 1-365 (default 7)",
            repository: "owner/name",
            branch: "Branch name",
            workflow: "Workflow name",
          }),
          responses: { "200": json("The summary", schema(metricsSummarySchema)), "400": error },
        },
      },
      ...runnerApiPaths(),
      "/api/alerts": {
        get: {
          summary: "Alert history, newest first",
          parameters: parameters(pageQuery, { limit: "Page size, 1-500 (default 50)", offset: "Rows to skip" }),
          responses: {
            "200": json("A page of alerts", schema(z.object({ alerts: z.array(alertHistorySchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() }))),
            "400": error,
          },
        },
      },
      "/api/alerts/configure": {
        get: { summary: "The alert routing rules", responses: { "200": json("The rules", schema(alertRulesSchema)) } },
        post: {
          summary: "Replace the alert routing rules",
          requestBody: { required: true, content: { "application/json": { schema: schema(alertRulesSchema, "input") } } },
          responses: { "200": json("The rules as stored", schema(alertRulesSchema)), "400": error, "415": error },
        },
      },
      "/api/alert/test": {
        post: {
          summary: "Send a test alert to each configured channel",
          responses: {
            "200": json(
              "What happened per channel",
              schema(z.record(z.enum(["email", "slack"]), z.object({ status: z.enum(["sent", "failed", "not configured"]), error: z.string().optional() }))),
            ),
            "415": error,
          },
        },
      },
    },
  };
}
