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
    if (event.name === "workflow_run") {
      const record = normalizeWorkflowRun(payload.workflow_run, { installation: payload.installation, fallbackRepository: payload.repository });
      input = isUnusable(record) ? record : { kind: "run", record };
    } else {
      const record = normalizeWorkflowJob(payload.workflow_job, { repository: payload.repository, installation: payload.installation });
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
