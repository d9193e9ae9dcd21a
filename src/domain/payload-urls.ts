/**
 * GitHub's repository and user objects carry dozens of REST API URL templates, each the object's
 * own `url` followed by a fixed suffix (`url + "/issues{/number}"`). In a run's payload they are
 * about two thirds of the text, the same for every run of a repository, and PostgreSQL spent a
 * sixth of its time per stored run compressing them. A run's payload is stored without them
 * ({@link omitDerivedUrls}) and shown with them again ({@link restoreDerivedUrls}): a field is
 * left out only when its value is exactly the object's `url` plus the suffix below, and the
 * object notes which fields it lost, so the two together give back what GitHub sent.
 */

/**
 * The stored form: bit i of this field's number says that field i of the object's list below was
 * left out. The lists only ever grow at their end; reordering them would misread stored payloads.
 * A field of this name that GitHub itself sent is stored as a one-element array holding its value.
 */
export const OMITTED_URLS_FIELD = "runboard_omitted_urls";

const REPOSITORY_URLS: ReadonlyArray<readonly [string, string]> = [
  ["archive_url", "/{archive_format}{/ref}"],
  ["assignees_url", "/assignees{/user}"],
  ["blobs_url", "/git/blobs{/sha}"],
  ["branches_url", "/branches{/branch}"],
  ["collaborators_url", "/collaborators{/collaborator}"],
  ["comments_url", "/comments{/number}"],
  ["commits_url", "/commits{/sha}"],
  ["compare_url", "/compare/{base}...{head}"],
  ["contents_url", "/contents/{+path}"],
  ["contributors_url", "/contributors"],
  ["deployments_url", "/deployments"],
  ["downloads_url", "/downloads"],
  ["events_url", "/events"],
  ["forks_url", "/forks"],
  ["git_commits_url", "/git/commits{/sha}"],
  ["git_refs_url", "/git/refs{/sha}"],
  ["git_tags_url", "/git/tags{/sha}"],
  ["hooks_url", "/hooks"],
  ["issue_comment_url", "/issues/comments{/number}"],
  ["issue_events_url", "/issues/events{/number}"],
  ["issues_url", "/issues{/number}"],
  ["keys_url", "/keys{/key_id}"],
  ["labels_url", "/labels{/name}"],
  ["languages_url", "/languages"],
  ["merges_url", "/merges"],
  ["milestones_url", "/milestones{/number}"],
  ["notifications_url", "/notifications{?since,all,participating}"],
  ["pulls_url", "/pulls{/number}"],
  ["releases_url", "/releases{/id}"],
  ["stargazers_url", "/stargazers"],
  ["statuses_url", "/statuses/{sha}"],
  ["subscribers_url", "/subscribers"],
  ["subscription_url", "/subscription"],
  ["tags_url", "/tags"],
  ["teams_url", "/teams"],
  ["trees_url", "/git/trees{/sha}"],
];

const USER_URLS: ReadonlyArray<readonly [string, string]> = [
  ["events_url", "/events{/privacy}"],
  ["followers_url", "/followers"],
  ["following_url", "/following{/other_user}"],
  ["gists_url", "/gists{/gist_id}"],
  ["organizations_url", "/orgs"],
  ["received_events_url", "/received_events"],
  ["repos_url", "/repos"],
  ["starred_url", "/starred{/owner}{/repo}"],
  ["subscriptions_url", "/subscriptions"],
];

type Kind = "repository" | "user";
/** Each kind's fields in list order, with their suffix and bit (2 ** the field's place in the list). */
const DERIVED: Record<Kind, ReadonlyMap<string, { suffix: string; bit: number }>> = {
  repository: new Map(REPOSITORY_URLS.map(([field, suffix], i) => [field, { suffix, bit: 2 ** i }])),
  user: new Map(USER_URLS.map(([field, suffix], i) => [field, { suffix, bit: 2 ** i }])),
};
/** Where a run holds such objects, and their owners. */
const RUN_OBJECTS: ReadonlyArray<readonly [string, Kind]> = [
  ["repository", "repository"],
  ["head_repository", "repository"],
  ["actor", "user"],
  ["triggering_actor", "user"],
];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Sets an own field, "__proto__" included (a plain assignment would set the object's prototype). */
function setField(target: Record<string, unknown>, field: string, value: unknown): void {
  if (field === "__proto__") Object.defineProperty(target, field, { value, enumerable: true, writable: true, configurable: true });
  else target[field] = value;
}

function omitFrom(value: unknown, kind: Kind): unknown {
  if (!isPlainObject(value)) return value;
  const base = typeof value.url === "string" ? value.url : null;
  // A field of the marker's name that GitHub sent is kept wrapped in an array, and nothing is left
  // out beside it, so that restoring never reads it as a list of omitted fields.
  const sentMarker = Object.hasOwn(value, OMITTED_URLS_FIELD);
  const derivedFields = DERIVED[kind];
  const kept: Record<string, unknown> = {};
  let omitted = 0;
  // for...in (a JSON object has no inherited fields) and a cheap test before the look-up: this
  // runs for every stored run, on about 130 fields.
  for (const field in value) {
    const fieldValue = value[field];
    if (field === OMITTED_URLS_FIELD) {
      kept[field] = [fieldValue];
      continue;
    }
    if (base !== null && !sentMarker && typeof fieldValue === "string" && field.endsWith("_url")) {
      const derived = derivedFields.get(field);
      if (
        derived !== undefined &&
        fieldValue.length === base.length + derived.suffix.length &&
        fieldValue.startsWith(base) &&
        fieldValue.endsWith(derived.suffix)
      ) {
        omitted += derived.bit;
        continue;
      }
    }
    setField(kept, field, kind === "repository" && field === "owner" ? omitFrom(fieldValue, "user") : fieldValue);
  }
  if (omitted > 0) kept[OMITTED_URLS_FIELD] = omitted;
  return kept;
}

function restoreTo(value: unknown, kind: Kind): unknown {
  if (!isPlainObject(value)) return value;
  // A spread copies every own field as a field, "__proto__" included.
  const restored: Record<string, unknown> = { ...value };
  if (kind === "repository" && Object.hasOwn(value, "owner")) restored.owner = restoreTo(value.owner, "user");
  const marker = value[OMITTED_URLS_FIELD];
  if (Array.isArray(marker) && marker.length === 1) {
    restored[OMITTED_URLS_FIELD] = marker[0];
    return restored;
  }
  const derivedFields = DERIVED[kind];
  const { url } = value;
  if (typeof url !== "string" || typeof marker !== "number" || !Number.isSafeInteger(marker) || marker <= 0 || marker >= 2 ** derivedFields.size) {
    return restored;
  }
  delete restored[OMITTED_URLS_FIELD];
  for (const [field, { suffix, bit }] of derivedFields) {
    if (Math.floor(marker / bit) % 2 === 1) restored[field] = `${url}${suffix}`;
  }
  return restored;
}

/** The run with each of its repository and user objects passed through `change`. */
function withRunObjects(run: unknown, change: (value: unknown, kind: Kind) => unknown): unknown {
  if (!isPlainObject(run)) return run;
  const changed: Record<string, unknown> = { ...run };
  for (const [field, kind] of RUN_OBJECTS) if (Object.hasOwn(run, field)) changed[field] = change(run[field], kind);
  return changed;
}

/** A run object (webhook or REST) as it is stored: its repositories' and users' derived URLs left out. */
export function omitDerivedUrls(run: unknown): unknown {
  return withRunObjects(run, omitFrom);
}

/** A stored run payload as GitHub sent it: the inverse of {@link omitDerivedUrls}. */
export function restoreDerivedUrls(payload: unknown): unknown {
  return withRunObjects(payload, restoreTo);
}
