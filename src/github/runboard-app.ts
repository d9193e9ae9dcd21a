import type { Logger } from "pino";
import type { ApplicationFunction } from "probot";
import type { DatabasePool } from "slonik";
import { resumeCheckRuns } from "../db/check-runs.js";
import { isInstallationDeleted, markInstallationDeleted, saveInstallationState } from "../db/installations.js";
import { addSyncRepositories, removeSyncRepositories } from "../db/sync-repositories.js";

interface InstallationPayload {
  id: number;
  account?: { login?: string } | null;
  repository_selection?: string;
  permissions?: Record<string, string>;
  suspended_at?: string | null;
}

interface RepositoryPayload {
  id: number;
  full_name: string;
}

const account = (installation: InstallationPayload) => installation.account?.login ?? String(installation.id);
const repositories = (list: RepositoryPayload[] | undefined) => (list ?? []).map((r) => ({ id: r.id, fullName: r.full_name }));

/**
 * Runboard's Probot app.
 *
 * `workflow_run` and `workflow_job` never reach it: the webhook receiver records them itself
 * (receive-webhook.ts), without the installation client Probot builds for each event.
 *
 * `installation` and `installation_repositories` keep the `installations` table and the
 * poller's `sync_repositories` true: what was installed, suspended or uninstalled, and which
 * repositories each installation can read.
 */
export function createRunboardApp(deps: { pool: DatabasePool; now: () => Date }): ApplicationFunction {
  return (app) => {
    app.on(
      ["installation.created", "installation.new_permissions_accepted", "installation.suspend", "installation.unsuspend"],
      async (context) => {
        const installation = context.payload.installation as InstallationPayload;
        const { action } = context.payload;
        const log = deliveryLog(context);
        const suspendedAt =
          action === "suspend" ? new Date(installation.suspended_at ?? deps.now()) : action === "unsuspend" ? null : toDate(installation.suspended_at);
        await deps.pool.transaction(async (tx) => {
          const saved = await saveInstallationState(tx, {
            id: installation.id,
            account: account(installation),
            repositorySelection: installation.repository_selection ?? null,
            permissions: installation.permissions ?? {},
            suspendedAt,
          });
          if (!saved) {
            log.info({ installationId: installation.id, action }, "installation event for an uninstalled app ignored");
            return;
          }
          if (action === "created") {
            await addSyncRepositories(tx, installation.id, repositories((context.payload as { repositories?: RepositoryPayload[] }).repositories));
          }
          if (action === "new_permissions_accepted") {
            // Check runs held back for a missing `checks: write` may go now.
            const resumed = await resumeCheckRuns(tx, installation.id, deps.now());
            if (resumed > 0) log.info({ installationId: installation.id, resumed }, "check runs resumed after new permissions");
          }
        });
        log.info({ installationId: installation.id, account: account(installation), action }, "installation recorded");
      },
    );

    app.on("installation.deleted", async (context) => {
      const installation = context.payload.installation as InstallationPayload;
      const log = deliveryLog(context);
      await deps.pool.transaction((tx) => markInstallationDeleted(tx, installation.id, account(installation), deps.now()));
      log.info({ installationId: installation.id, account: account(installation) }, "installation deleted: no longer polled");
    });

    app.on(["installation_repositories.added", "installation_repositories.removed"], async (context) => {
      const installation = context.payload.installation as InstallationPayload;
      const log = deliveryLog(context);
      const payload = context.payload as { repositories_added?: RepositoryPayload[]; repositories_removed?: RepositoryPayload[] };
      await deps.pool.transaction(async (tx) => {
        if (await isInstallationDeleted(tx, installation.id)) return;
        await saveInstallationState(tx, {
          id: installation.id,
          account: account(installation),
          repositorySelection: (context.payload as { repository_selection?: string }).repository_selection ?? installation.repository_selection ?? null,
          permissions: installation.permissions ?? {},
          suspendedAt: toDate(installation.suspended_at),
        });
        await removeSyncRepositories(tx, installation.id, repositories(payload.repositories_removed).map((r) => r.id));
        await addSyncRepositories(tx, installation.id, repositories(payload.repositories_added));
      });
      log.info(
        { installationId: installation.id, added: payload.repositories_added?.length ?? 0, removed: payload.repositories_removed?.length ?? 0 },
        "installation repositories recorded",
      );
    });
  };
}

/** The same delivery id field as the webhook endpoint's own lines, so one search finds both. */
function deliveryLog(context: { id: string; name: string; log: Logger }): Logger {
  return context.log.child({ deliveryId: context.id, event: context.name });
}

function toDate(value: string | null | undefined): Date | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}
