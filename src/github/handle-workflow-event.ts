import type { WorkflowJobEvent, WorkflowRunEvent } from "@octokit/webhooks-types";
import type { Logger } from "pino";
import { isUnusable, normalizeWorkflowJob, normalizeWorkflowRun, type Unusable } from "../domain/normalize.js";
import type { Ingest, IngestInput, IngestResult } from "../ingest.js";

/** The events Runboard records: every action of each. */
export const WORKFLOW_EVENTS = new Set(["workflow_run", "workflow_job"]);

export interface WorkflowEvent {
  id: string;
  name: string;
  payload: Record<string, unknown>;
}

export type WorkflowEventHandler = (event: WorkflowEvent, log: Logger) => Promise<IngestResult | null>;

/**
 * Records one `workflow_run` or `workflow_job` delivery through `normalize` and `ingest`.
 * A payload with nothing storable in it is logged and acknowledged (null), never an error.
 */
export function createWorkflowEventHandler(deps: { ingest: Ingest }): WorkflowEventHandler {
  return async (event, log) => {
    const { payload } = event;
    let input: IngestInput | Unusable;
    // Signed by GitHub, so shaped as its webhook types say; normalize still reads every field
    // leniently (a field may be missing or null all the same).
    if (event.name === "workflow_run") {
      const delivery = payload as unknown as WorkflowRunEvent;
      const record = normalizeWorkflowRun(delivery.workflow_run, { installation: delivery.installation, fallbackRepository: delivery.repository });
      input = isUnusable(record) ? record : { kind: "run", record };
    } else {
      const delivery = payload as unknown as WorkflowJobEvent;
      const record = normalizeWorkflowJob(delivery.workflow_job, { repository: delivery.repository, installation: delivery.installation });
      input = isUnusable(record) ? record : { kind: "job", record };
    }
    const action = typeof payload.action === "string" ? payload.action : null;
    if ("unusable" in input) {
      log.warn({ deliveryId: event.id, event: event.name, action, reason: input.unusable }, "payload ignored: nothing storable in it");
      return null;
    }
    const result = await deps.ingest(input, { id: event.id, event: event.name, action });
    log.debug({ deliveryId: event.id, event: event.name, action, ...result }, "delivery ingested");
    return result;
  };
}
