import { describe, expect, it } from "vitest";
import { slackSignatureProblem } from "../../src/slack/verify-slack-signature.js";

// The worked example of Slack's "Verifying requests from Slack" guide: its signing secret,
// timestamp, slash-command body and the signature Slack sent with them.
const SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const TIMESTAMP = "1531420618";
const BODY =
  "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
const sent = new Date(Number(TIMESTAMP) * 1000);

describe("slackSignatureProblem", () => {
  it("accepts the request of Slack's own worked example", () => {
    expect(slackSignatureProblem(SECRET, { timestamp: TIMESTAMP, signature: SIGNATURE, body: BODY }, sent)).toBeNull();
  });

  it("refuses it under another secret, with another body, or more than 5 minutes later", () => {
    expect(slackSignatureProblem("another-secret", { timestamp: TIMESTAMP, signature: SIGNATURE, body: BODY }, sent)).toContain("SLACK_SIGNING_SECRET");
    expect(slackSignatureProblem(SECRET, { timestamp: TIMESTAMP, signature: SIGNATURE, body: `${BODY}x` }, sent)).toContain("does not match");
    const late = new Date(sent.getTime() + 301_000);
    expect(slackSignatureProblem(SECRET, { timestamp: TIMESTAMP, signature: SIGNATURE, body: BODY }, late)).toContain("5 minutes");
    expect(slackSignatureProblem(SECRET, { timestamp: undefined, signature: SIGNATURE, body: BODY }, sent)).toContain("missing");
  });
});
