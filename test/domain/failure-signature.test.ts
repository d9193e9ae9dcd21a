import { describe, expect, it } from "vitest";
import { describeFlaky, describeSeenBefore } from "../../src/domain/failure-insight.js";
import { failureSignature, normalizeErrorLine, type Annotation } from "../../src/domain/failure-signature.js";

const annotation = (message: string, level = "failure"): Annotation => ({ level, message, path: null, line: null, title: null });
const generic = "Error: Process completed with exit code 1.";

describe("failure signature", () => {
  it("takes the first failure annotation that is not a generic line", () => {
    const found = failureSignature({
      annotations: [annotation("Process completed with exit code 1."), annotation("a warning", "warning"), annotation("TS2322: Type 'string' is not assignable to type 'number'.")],
      lines: ["something", generic],
      endsWithError: true,
    });
    expect(found?.line).toBe("TS2322: Type 'string' is not assignable to type 'number'.");
  });

  it("else the last line before a generic error line that reads as an error", () => {
    const found = failureSignature({
      annotations: [annotation("Process completed with exit code 2.")],
      lines: ["Run npm test", "AssertionError: expected 3 to be 4", "    at /home/runner/work/api/src/app.test.ts:12:5", "1 failed, 20 passed", generic],
      endsWithError: true,
    });
    expect(found?.line).toBe("1 failed, 20 passed");
  });

  it("else the step's own error line when it says something", () => {
    expect(failureSignature({ annotations: [], lines: ["x", "Error: Cannot find module 'left-pad'"], endsWithError: true })?.line).toBe("Cannot find module 'left-pad'");
  });

  it("is none when only generic lines are there: never one shared by every failure", () => {
    expect(failureSignature({ annotations: [annotation("Process completed with exit code 1.")], lines: ["Run make", "ok", generic], endsWithError: true })).toBeNull();
    expect(failureSignature({ annotations: [], lines: [], endsWithError: false })).toBeNull();
  });

  it("is the same for errors that differ only in numbers, paths, hashes, ids and times", () => {
    const a = normalizeErrorLine("Timeout of 5000ms exceeded in /home/runner/work/api/test/db.test.ts:41 (run 1f3a9c2e at 2026-12-01T10:00:01Z, tmp-8812ab)");
    const b = normalizeErrorLine("Timeout of 7000ms exceeded in /tmp/build-77/test/db.test.ts:98 (run 9b8e7d6c at 2026-12-03T18:22:41Z, tmp-1234cd)");
    expect(a).not.toBeNull();
    expect(a).toBe(b);
    expect(normalizeErrorLine("Cannot find module 'left-pad'")).not.toBe(normalizeErrorLine("Cannot find module 'right-pad'"));
  });

  it("is none for a line with nothing specific left", () => {
    expect(normalizeErrorLine("12 / 13 at 10:00")).toBeNull();
  });
});

describe("seen before", () => {
  const now = new Date("2026-12-04T15:00:00Z");
  it("says how many other runs, where and since when", () => {
    expect(describeSeenBefore({ others: 4, firstAt: new Date("2026-12-01T09:00:00Z"), firstBuildId: 7, firstRunNumber: 1234, branches: ["main"] }, now)).toBe(
      "same error as 4 other runs on main since Tuesday (first: #1234)",
    );
    expect(describeSeenBefore({ others: 1, firstAt: new Date("2026-11-20T09:00:00Z"), firstBuildId: 7, firstRunNumber: null, branches: ["main", "dev"] }, now)).toBe(
      "same error as 1 other run on 2 branches since 20 Nov",
    );
    expect(describeSeenBefore(null, now)).toBeNull();
  });

  it("calls a signature flaky once it failed and passed on the same commit twice", () => {
    expect(describeFlaky({ flakyCommits: 1 })).toBeNull();
    expect(describeFlaky({ flakyCommits: 3 })).toBe("likely flaky: failed and passed on the same commit 3 times this week");
  });
});
