import type { ApplicationFunction, Context } from "probot";
import { isUnusable, normalizeWorkflowJob, normalizeWorkflowRun } from "../domain/normalize.js";
import type { Ingest, IngestInput } from "../ingest.js";

/**
 * Runboard's webhook handlers: every `workflow_run` and `workflow_job` action goes through
 * `normalize` and `ingest`. Payloads that cannot be stored are logged and acknowledged.
 */
export function createRunboardApp(deps: { ingest: Ingest }): ApplicationFunction {
  return (app) => {
    app.on("workflow_run", async (context) => {
      const { payload } = context;
      const record = normalizeWorkflowRun(payload.workflow_run, {
        installation: payload.installation,
        fallbackRepository: payload.repository,
      });
      await store(context, isUnusable(record) ? record : { kind: "run", record });
    });

    app.on("workflow_job", async (context) => {
      const { payload } = context;
      const record = normalizeWorkflowJob(payload.workflow_job, {
        repository: payload.repository,
        installation: payload.installation,
      });
      await store(context, isUnusable(record) ? record : { kind: "job", record });
    });
  };

  async function store(context: Context<"workflow_run" | "workflow_job">, input: IngestInput | { unusable: string }) {
    const action = (context.payload as { action?: unknown }).action;
    if ("unusable" in input) {
      context.log.warn({ event: context.name, action, reason: input.unusable }, "payload ignored: nothing storable in it");
      return;
    }
    const result = await deps.ingest(input, {
      id: context.id,
      event: context.name,
      action: typeof action === "string" ? action : null,
    });
    context.log.debug({ event: context.name, action, ...result }, "delivery ingested");
  }
}
