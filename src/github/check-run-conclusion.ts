import type { CommitHealth } from "../db/commit-health.js";

/** neutral: information only, never blocking a merge; auto: the commit's workflows decide. */
export type ConclusionMode = "neutral" | "auto";

/**
 * The check run's conclusion. In `auto` a failed workflow makes it `failure` and all
 * workflows passing (skipped ones aside) makes it `success`; anything else (cancelled,
 * still running, nothing recorded) stays `neutral`, since it says nothing about the code.
 */
export function checkRunConclusion(health: CommitHealth, mode: ConclusionMode): "neutral" | "success" | "failure" {
  if (mode === "neutral") return "neutral";
  const statuses = health.workflows.map((w) => w.status);
  if (statuses.includes("failed")) return "failure";
  const counted = statuses.filter((s) => s !== "skipped");
  return counted.length > 0 && counted.every((s) => s === "success") ? "success" : "neutral";
}
