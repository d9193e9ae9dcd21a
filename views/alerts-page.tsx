import type { AlertHistoryRow } from "../src/db/alerts.js";
import type { AlertRules } from "../src/domain/alert-rules.js";
import { Layout } from "./layout.js";

/**
 * Alert history (newest first) and the routing rules in force. The tables are focusable
 * regions, so they can be scrolled with the keyboard where they are wider than the screen.
 */
export function AlertsPage(props: { nonce: string; alerts: AlertHistoryRow[]; total: number; rules: AlertRules }) {
  const { rules } = props;
  return (
    <Layout title="Alerts" nonce={props.nonce} section="alerts">
      <h1>Alerts</h1>
      <h2>Rules</h2>
      <dl>
        <dt>Branches</dt>
        <dd>{rules.branches.length ? rules.branches.join(", ") : "each repository's default branch"}</dd>
        <dt>Workflows</dt>
        <dd>{rules.workflows.length ? rules.workflows.join(", ") : "all"}</dd>
      </dl>
      {rules.routes.length > 0 && (
        <div class="table-wrap" tabindex={0} role="region" aria-label="Routes">
          <table>
            <caption>Routes (the first match wins)</caption>
            <thead>
              <tr>
                <th scope="col">Repository</th>
                <th scope="col">Email</th>
                <th scope="col">Slack channel</th>
              </tr>
            </thead>
            <tbody>
              {rules.routes.map((route) => (
                <tr>
                  <td>{route.repository}</td>
                  <td>{route.email?.join(", ") ?? "default"}</td>
                  <td>{route.slack_channel ?? "default"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rules.mutes.length > 0 && (
        <div class="table-wrap" tabindex={0} role="region" aria-label="Mutes">
          <table>
            <caption>Mutes</caption>
            <thead>
              <tr>
                <th scope="col">Repository</th>
                <th scope="col">Workflow</th>
                <th scope="col">Branch</th>
                <th scope="col">Until</th>
              </tr>
            </thead>
            <tbody>
              {rules.mutes.map((mute) => (
                <tr>
                  <td>{mute.repository}</td>
                  <td>{mute.workflow ?? "all"}</td>
                  <td>{mute.branch ?? "all"}</td>
                  <td>
                    <time datetime={mute.until}>{mute.until}</time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>History</h2>
      {props.alerts.length === 0 ? (
        <p class="muted">No alerts yet.</p>
      ) : (
        <div class="table-wrap" tabindex={0} role="region" aria-label="Alert history">
          <table>
            <caption class="muted">
              Newest first · {props.alerts.length} of {props.total}
            </caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Kind</th>
                <th scope="col">Channel</th>
                <th scope="col">Status</th>
                <th scope="col">Build</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last error</th>
              </tr>
            </thead>
            <tbody>
              {props.alerts.map((alert) => (
                <tr>
                  <td>
                    <time datetime={alert.created_at.toISOString()}>{alert.created_at.toISOString().replace("T", " ").slice(0, 16)}</time>
                  </td>
                  <td>{alert.kind.replace("_", " ")}</td>
                  <td>{alert.channel}</td>
                  <td>
                    <span class={`badge badge-${alert.status === "sent" ? "success" : alert.status === "failed" ? "failed" : "queued"}`}>
                      {alert.status}
                    </span>
                  </td>
                  <td>{alert.repository ? `${alert.repository} · ${alert.workflow} · ${alert.branch}` : "–"}</td>
                  <td>{alert.attempts}</td>
                  <td class="message">{alert.last_error ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  );
}
