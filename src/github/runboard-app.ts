import type { ApplicationFunction } from "probot";
import type { WorkflowEventHandler } from "./handle-workflow-event.js";

/**
 * Runboard's Probot app. The webhook endpoint hands `workflow_run` and `workflow_job` straight
 * to the same handler (see webhook-route.ts); these registrations serve deliveries that reach
 * Probot another way (`probot.receive`), so both paths store alike.
 */
export function createRunboardApp(deps: { handleWorkflowEvent: WorkflowEventHandler }): ApplicationFunction {
  return (app) => {
    app.on(["workflow_run", "workflow_job"], async (context) => {
      await deps.handleWorkflowEvent(
        { id: context.id, name: context.name, payload: context.payload as unknown as Record<string, unknown> },
        context.log,
      );
    });
  };
}
