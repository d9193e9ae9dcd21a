import type { AlertContent } from "../src/alerts/alert-content.js";
import { annotationPlace } from "../src/domain/failure-insight.js";
import { capitalize, firstLine, formatDuration, oneLine, shortSha } from "../src/domain/format.js";

const colours = { broken: "#cf222e", still_failing: "#cf222e", fixed: "#1a7f37", test: "#0969da" } as const;

/** The HTML body of an alert email. Every value is escaped by JSX. */
export function AlertEmail(props: { content: AlertContent; title: string }) {
  const { content } = props;
  const b = content.build;
  return (
    <html lang="en">
      <body style="font-family: system-ui, sans-serif; font-size: 15px; line-height: 1.5; color: #1f2328;">
        <h1 style={`font-size: 18px; color: ${colours[content.kind]};`}>{props.title}</h1>
        {b && (
          <table cellpadding="4" style="border-collapse: collapse;">
            <tbody>
              <Row label="Repository" value={b.repository} />
              <Row label="Workflow" value={b.workflow} />
              <Row label="Branch" value={b.branch ?? ""} />
              <Row label="Commit" value={`${shortSha(b.commit_sha)} ${firstLine(b.commit_message)}`} />
              <Row label="Triggered by" value={b.triggered_by ?? ""} />
              <Row label="Duration" value={formatDuration(b.duration_seconds)} />
              {content.kind === "fixed" && (
                <Row
                  label="Time to green"
                  value={`${formatDuration(content.timeToGreenSeconds)} (${content.failedRuns ?? 0} failed runs)`}
                />
              )}
            </tbody>
          </table>
        )}
        {content.failedJobs.length > 0 && (
          <>
            <h2 style="font-size: 16px;">Failed jobs</h2>
            <ul>
              {content.failedJobs.map((job) => (
                <li>
                  {job.url ? <a href={job.url}>{job.name}</a> : job.name}
                  {job.failedStep ? ` — failed at step “${job.failedStep}”` : ""}
                  {[job.seenBefore, job.flaky].map((note) => note && <p style="margin: 4px 0; color: #9a6700;">{capitalize(note)}</p>)}
                  {job.annotations.length > 0 && (
                    <ul style="margin: 4px 0;">
                      {job.annotations.map((a) => (
                        <li>
                          {annotationPlace(a) && (a.url ? <a href={a.url}><code>{annotationPlace(a)}</code></a> : <code>{annotationPlace(a)}</code>)}
                          {annotationPlace(a) ? " " : ""}
                          {oneLine(a.message)}
                        </li>
                      ))}
                    </ul>
                  )}
                  {job.lines.length > 0 ? (
                    <pre style="font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; background: #f6f8fa; padding: 8px; overflow-x: auto; white-space: pre-wrap;">
                      {job.lines.join("\n")}
                    </pre>
                  ) : (
                    job.missingReason && <p style="margin: 4px 0; color: #59636e;">No error excerpt: {job.missingReason}.</p>
                  )}
                </li>
              ))}
            </ul>
          </>
        )}
        <p>
          <a href={content.dashboardUrl}>Open in Runboard</a>
          {content.githubUrl && (
            <>
              {" · "}
              <a href={content.githubUrl}>Open on GitHub</a>
            </>
          )}
        </p>
      </body>
    </html>
  );
}

function Row(props: { label: string; value: string }) {
  return (
    <tr>
      <th scope="row" style="text-align: left; padding-right: 12px;">
        {props.label}
      </th>
      <td>{props.value}</td>
    </tr>
  );
}
