import { createRequire } from "node:module";
import { readdirSync } from "node:fs";
import path from "node:path";

const require = createRequire(import.meta.url);

export interface Example {
  /** Where it comes from: "api.github.com workflow_run #2". */
  label: string;
  event: "workflow_run" | "workflow_job";
  payload: Record<string, any>;
}

/**
 * Every `workflow_run` and `workflow_job` delivery in `@octokit/webhooks-examples`, from
 * github.com and each GitHub Enterprise Server version, once each (identical copies dropped).
 */
export function workflowExamples(): Example[] {
  const root = path.dirname(require.resolve("@octokit/webhooks-examples/package.json"));
  const seen = new Set<string>();
  const examples: Example[] = [];
  for (const dir of readdirSync(root, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    const index = require(path.join(root, dir.name, "index.json")) as Array<{ name: string; examples: object[] }>;
    for (const entry of index) {
      if (entry.name !== "workflow_run" && entry.name !== "workflow_job") continue;
      entry.examples.forEach((payload, i) => {
        const key = JSON.stringify(payload);
        if (seen.has(key)) return;
        seen.add(key);
        examples.push({ label: `${dir.name} ${entry.name} #${i}`, event: entry.name as Example["event"], payload: payload as Record<string, any> });
      });
    }
  }
  return examples;
}

/** A deep copy, to vary an example without touching the shared one. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}
