import { createHmac } from "node:crypto";
import type { DemoDelivery } from "./run-deliveries.js";

/** Where deliveries go: Runboard's webhook endpoint, with the app's webhook secret and id. */
export interface WebhookTarget {
  url: string;
  secret: string;
  appId: number;
}

/**
 * POSTs one delivery to the webhook endpoint as GitHub does: the same headers, the body signed
 * with HMAC-SHA256 of the webhook secret (`X-Hub-Signature-256`). Answers the response.
 */
export async function sendDelivery(target: WebhookTarget, delivery: DemoDelivery): Promise<Response> {
  const body = JSON.stringify(delivery.payload);
  return fetch(target.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "user-agent": "GitHub-Hookshot/runboard-demo",
      "x-github-delivery": delivery.id,
      "x-github-event": delivery.event,
      "x-github-hook-installation-target-type": "integration",
      "x-github-hook-installation-target-id": String(target.appId),
      "x-hub-signature-256": `sha256=${createHmac("sha256", target.secret).update(body).digest("hex")}`,
    },
    body,
  });
}
