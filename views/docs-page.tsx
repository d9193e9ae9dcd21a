import { Layout } from "./layout.js";

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: { type?: string; enum?: string[]; pattern?: string };
}
interface Operation {
  summary: string;
  parameters?: Parameter[];
  requestBody?: unknown;
  responses: Record<string, { description: string }>;
}
export interface ApiDocument {
  info: { title: string; description: string };
  paths: Record<string, Record<string, Operation>>;
}

/** A readable page over the OpenAPI document: each endpoint, its parameters and answers. */
export function DocsPage(props: { nonce: string; doc: ApiDocument }) {
  return (
    <Layout title="API" nonce={props.nonce} section="docs">
      <h1>{props.doc.info.title}</h1>
      <p>{props.doc.info.description}</p>
      <p>
        Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). A bad query parameter is answered 400
        with <code>{'{"error": "...", "parameter": "name"}'}</code>.
      </p>
      {Object.entries(props.doc.paths).map(([path, operations]) =>
        Object.entries(operations).map(([method, op]) => (
          <section aria-labelledby={`${method}-${path}`}>
            <h2 id={`${method}-${path}`}>
              <code>
                {method.toUpperCase()} {path}
              </code>
            </h2>
            <p>{op.summary}</p>
            {op.parameters && op.parameters.length > 0 && (
              <div class="table-wrap" tabindex={0} role="region" aria-label={`Parameters of ${method.toUpperCase()} ${path}`}>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Parameter</th>
                      <th scope="col">In</th>
                      <th scope="col">Values</th>
                      <th scope="col">Meaning</th>
                    </tr>
                  </thead>
                  <tbody>
                    {op.parameters.map((p) => (
                      <tr>
                        <td>
                          <code>{p.name}</code>
                          {p.required ? " (required)" : ""}
                        </td>
                        <td>{p.in}</td>
                        <td class="wrap">{p.schema?.enum ? p.schema.enum.join(", ") : p.schema?.pattern ? "whole number" : (p.schema?.type ?? "")}</td>
                        <td>{p.description ?? ""}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            {op.requestBody ? <p>Body: JSON, see the schema in /openapi.json.</p> : null}
            <p class="muted">
              Answers:{" "}
              {Object.entries(op.responses)
                .map(([code, r]) => `${code} ${r.description}`)
                .join("; ")}
            </p>
          </section>
        )),
      )}
    </Layout>
  );
}
