import { z } from "zod";

const pattern = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(255, "must be at most 255 characters");

/** The routing rules people set through POST /api/alerts/configure. */
export const alertRulesSchema = z
  .object({
    /** Branches that alert (`*` matches any run of characters); empty: the repository's default branch. */
    branches: z.array(pattern).max(100).default([]),
    /** Workflows that alert, by name (`*` allowed); empty: all. */
    workflows: z.array(pattern).max(100).default([]),
    /** Per-repository routing; the first route whose repository pattern matches wins. */
    routes: z
      .array(
        z
          .object({
            repository: pattern,
            email: z.array(z.string().trim().email("must be an email address")).max(50).optional(),
            slack_channel: z.string().trim().min(1).max(80).optional(),
            /** Alert when a runner label set's p95 queue time over the last hour passes this. */
            queue: z
              .object({ p95_minutes: z.number().positive("must be more than 0").max(1440, "must be at most 1440") })
              .strict()
              .optional(),
          })
          .strict(),
      )
      .max(500)
      .default([]),
    /** Silence alerts until a time, for a repository (and optionally one workflow or branch). */
    mutes: z
      .array(
        z
          .object({
            repository: pattern,
            workflow: pattern.optional(),
            branch: pattern.optional(),
            until: z.string().datetime({ offset: true, message: "must be an ISO 8601 date and time" }),
          })
          .strict(),
      )
      .max(500)
      .default([]),
  })
  .strict();

export type AlertRules = z.infer<typeof alertRulesSchema>;

export const DEFAULT_ALERT_RULES: AlertRules = { branches: [], workflows: [], routes: [], mutes: [] };

/** Where one branch's alerts go, once the rules and the environment's defaults are applied. */
export interface AlertRoute {
  /** False when the rules leave this branch or workflow out: no alert (the branch's state is still kept). */
  watched: boolean;
  /** Set while a mute applies. */
  mutedUntil: Date | null;
  email: string[];
  slackChannel: string | null;
}

export interface RouteInput {
  repository: string;
  workflow: string;
  branch: string;
  /** The repository's default branch, when known; unknown: `main` and `master` stand in. */
  defaultBranch: string | null;
}

/**
 * Applies the rules to one branch of one workflow. The database routes the alerts it decides the
 * same way (runboard_route_alert and runboard_glob_matches, in migrations/0020_alerts_in_write.sql);
 * test/domain/rules-in-sql.test.ts holds the two equal.
 * @param defaults the recipients and channel from the environment (ALERT_EMAIL_TO, SLACK_ALERT_CHANNEL).
 */
export function routeAlert(
  rules: AlertRules,
  input: RouteInput,
  defaults: { email: string[]; slackChannel: string | null },
  now: Date,
): AlertRoute {
  const branchWatched =
    rules.branches.length === 0
      ? input.defaultBranch
        ? input.branch === input.defaultBranch
        : input.branch === "main" || input.branch === "master"
      : rules.branches.some((p) => matches(p, input.branch));
  const workflowWatched = rules.workflows.length === 0 || rules.workflows.some((p) => matches(p, input.workflow));

  const route = rules.routes.find((r) => matches(r.repository, input.repository));
  let mutedUntil: Date | null = null;
  for (const mute of rules.mutes) {
    const until = new Date(mute.until);
    if (
      until > now &&
      matches(mute.repository, input.repository) &&
      (!mute.workflow || matches(mute.workflow, input.workflow)) &&
      (!mute.branch || matches(mute.branch, input.branch)) &&
      (!mutedUntil || until > mutedUntil)
    ) {
      mutedUntil = until;
    }
  }
  return {
    watched: branchWatched && workflowWatched,
    mutedUntil,
    email: route?.email ?? defaults.email,
    slackChannel: route?.slack_channel ?? defaults.slackChannel,
  };
}

/**
 * The route a repository's alerts take: the first whose pattern matches, as routeAlert decides;
 * undefined when none does (the environment's defaults apply).
 */
export function routeOf(rules: AlertRules, repository: string): AlertRules["routes"][number] | undefined {
  return rules.routes.find((r) => matches(r.repository, repository));
}

/** Glob match where `*` is any run of characters and everything else is literal. */
export function matches(patternText: string, value: string): boolean {
  if (!patternText.includes("*")) return patternText === value;
  const escaped = patternText.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  // Any run of characters, line breaks included, as SQL's LIKE reads `%` (runboard_glob_matches).
  return new RegExp(`^${escaped.join("[\\s\\S]*")}$`).test(value);
}
