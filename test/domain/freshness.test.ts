import { describe, expect, expectTypeOf, it } from "vitest";
import { describeFreshness, type FreshnessRow } from "../../src/domain/freshness.js";
import { type InstallationFreshness } from "../../src/db/sync-repositories.js";

const NOW = new Date("2026-07-01T12:00:00Z");
const STALE_AFTER_MS = 10 * 60_000;

function row(overrides: Partial<FreshnessRow>): FreshnessRow {
  return {
    installation_id: 1,
    account: "acme",
    last_synced_at: new Date(NOW.getTime() - 60_000),
    last_error: null,
    repositories: 3,
    repositories_with_errors: 0,
    ...overrides,
  };
}

describe("describeFreshness", () => {
  it("takes the rows the database reads", () => {
    // The domain owns the shape; the query's row must keep fitting it.
    expectTypeOf<InstallationFreshness>().toExtend<FreshnessRow>();
  });

  it("says why an installation is behind, the most telling reason first", () => {
    const reasons = describeFreshness(
      [
        row({}),
        row({ last_synced_at: null, last_error: "boom" }),
        row({ last_error: "HTTP 502", repositories_with_errors: 2 }),
        row({ last_synced_at: new Date(NOW.getTime() - STALE_AFTER_MS - 1) }),
        row({ repositories_with_errors: 2 }),
      ],
      NOW,
      STALE_AFTER_MS,
    ).map((f) => [f.behind, f.reason]);
    expect(reasons).toEqual([
      [false, null],
      [true, "never synced yet"],
      [true, "last poll failed: HTTP 502"],
      [true, "no sync for longer than expected"],
      [true, "2 repositories failed to poll"],
    ]);
  });
});
