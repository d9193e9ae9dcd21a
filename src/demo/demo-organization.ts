/** A person (or bot) who pushes, merges and re-runs, working in their own time zone. */
export interface Person {
  login: string;
  id: number;
  name: string;
  /** Hours from UTC: pushes happen in this person's working day. */
  utcOffset: number;
  bot?: boolean;
}

/** Where a job runs: each kind has its own queue times and runner names. */
export type RunnerKind = "ubuntu" | "ubuntu-large" | "macos" | "hil" | "infra";

/** The `runs-on` labels of each kind of runner. */
export const RUNNER_LABELS: Record<RunnerKind, string[]> = {
  ubuntu: ["ubuntu-latest"],
  "ubuntu-large": ["ubuntu-latest-8-cores"],
  macos: ["macos-14"],
  hil: ["self-hosted", "linux", "arm64", "hil"],
  infra: ["self-hosted", "linux", "x64", "infra"],
};

/** What can be wrong with a commit, and so which steps fail on it. */
export type Defect = "test" | "lint" | "format" | "build" | "integration";

export interface JobSpec {
  name: string;
  runner: RunnerKind;
  /** A job waits for every job of the earlier stages (`needs`); a failure there skips it. */
  stage?: number;
  /** The steps between checkout and its post step, with their usual seconds. */
  steps: ReadonlyArray<readonly [name: string, seconds: number]>;
  /** The step that fails on a commit with each kind of defect. */
  catches?: Partial<Record<Defect, string>>;
  /** Fails now and then with nothing wrong in the commit. */
  flaky?: { chance: number; step: string };
  /** Its environment needs a reviewer's approval first (the job waits meanwhile). */
  approval?: boolean;
}

/**
 * When a workflow runs: `pull_request` on every push to a pull request's branch, `push` on every
 * push to main, `deploy` after CI passed on main (a `workflow_run` event), `nightly` every night
 * at `hourUtc`, `weekly` on `weekday` (0 = Sunday) at `hourUtc`.
 */
export type Trigger = "pull_request" | "push" | "deploy" | "nightly" | "weekly";

export interface WorkflowSpec {
  id: number;
  name: string;
  file: string;
  triggers: readonly Trigger[];
  hourUtc?: number;
  weekday?: number;
  /** A new push to the branch cancels the run still going (`concurrency: cancel-in-progress`). */
  cancelInProgress?: boolean;
  jobs: readonly JobSpec[];
}

export interface RepositorySpec {
  id: number;
  name: string;
  description: string;
  language: string;
  createdAt: string;
  /** Pull requests opened on a working day, on average. */
  pullsPerDay: number;
  /** Logins of the people who work on it. */
  contributors: readonly string[];
  /** The login scheduled runs are attributed to (who last edited the schedule). */
  scheduleOwner: string;
  /** Pull request titles; branch names follow from them. */
  titles: readonly string[];
  /** Dependency bumps, opened by Dependabot now and then. */
  bumps: readonly string[];
  workflows: readonly WorkflowSpec[];
}

export interface DemoOrganization {
  login: string;
  id: number;
  installationId: number;
  people: readonly Person[];
  repositories: readonly RepositorySpec[];
}

const node = [
  ["Run actions/setup-node@v4", 3],
  ["Run npm ci", 38],
] as const;
const yarn = [
  ["Run actions/setup-node@v4", 3],
  ["Run yarn install --immutable", 52],
] as const;
const go = [
  ["Run actions/setup-go@v5", 4],
  ["Run go mod download", 14],
] as const;
const terraform = [
  ["Run hashicorp/setup-terraform@v3", 4],
  ["Run terraform init -input=false", 22],
] as const;
const aws = ["Run aws-actions/configure-aws-credentials@v4", 3] as const;
const image = [
  ["Run docker/setup-buildx-action@v3", 5],
  ["Run docker/login-action@v3", 2],
  ["Run docker/build-push-action@v6", 145],
] as const;

/**
 * The example organization the demo invents: five repositories of a robotics company (a web
 * dashboard, its Go API, device firmware tested on hardware rigs, a mobile app and Terraform),
 * each with the workflows such a team runs, and the people who push to them.
 */
export const DEMO_ORGANIZATION: DemoOrganization = {
  login: "acme-robotics",
  id: 148_210_377,
  installationId: 51_204_886,
  people: [
    { login: "maja-kowalski", id: 18_233_901, name: "Maja Kowalski", utcOffset: 1 },
    { login: "thartmann", id: 5_120_448, name: "Tobias Hartmann", utcOffset: 1 },
    { login: "aiko-t", id: 40_981_225, name: "Aiko Tanaka", utcOffset: 9 },
    { login: "devpatel", id: 23_004_517, name: "Dev Patel", utcOffset: 5.5 },
    { login: "sofiareyes", id: 61_778_032, name: "Sofia Reyes", utcOffset: -5 },
    { login: "jlind", id: 9_876_112, name: "Jonas Lind", utcOffset: 1 },
    { login: "chenwei-dev", id: 33_450_761, name: "Chen Wei", utcOffset: 8 },
    { login: "amara-okafor", id: 72_310_994, name: "Amara Okafor", utcOffset: 1 },
    { login: "liam-obrien", id: 14_662_380, name: "Liam O'Brien", utcOffset: -8 },
    { login: "dependabot[bot]", id: 49_699_333, name: "dependabot[bot]", utcOffset: 0, bot: true },
  ],
  repositories: [
    {
      id: 612_334_081,
      name: "fleet-web",
      description: "Fleet dashboard: live robot status, missions and maintenance",
      language: "TypeScript",
      createdAt: "2023-03-14T09:12:44Z",
      pullsPerDay: 4,
      contributors: ["maja-kowalski", "sofiareyes", "liam-obrien", "aiko-t"],
      scheduleOwner: "maja-kowalski",
      titles: [
        "Show battery health on the robot card",
        "Mission planner: drag to reorder waypoints",
        "Fix map flicker when a robot reconnects",
        "Add maintenance calendar view",
        "Paginate the incident list",
        "Move charts to the new design tokens",
        "Keyboard shortcuts for the mission editor",
        "Cache fleet status between tabs",
        "Fix timezone of maintenance reminders",
        "Export mission history as CSV",
        "Dark mode for the floor map",
        "Show firmware version per robot",
        "Retry websocket with backoff",
        "Filter robots by site and status",
      ],
      bumps: ["vite from 5.4.2 to 5.4.8", "@playwright/test from 1.46.1 to 1.47.2", "react-router from 6.26.0 to 6.26.2", "eslint from 9.9.0 to 9.11.1"],
      workflows: [
        {
          id: 71_234_501,
          name: "CI",
          file: ".github/workflows/ci.yml",
          triggers: ["pull_request", "push"],
          cancelInProgress: true,
          jobs: [
            { name: "typecheck", runner: "ubuntu", steps: [...node, ["Run npm run typecheck", 41]], catches: { build: "Run npm run typecheck" } },
            { name: "unit-tests", runner: "ubuntu", steps: [...node, ["Run npm test -- --coverage", 96]], catches: { test: "Run npm test -- --coverage" } },
            {
              name: "build",
              runner: "ubuntu",
              steps: [...node, ["Run npm run build", 118], ["Run actions/upload-artifact@v4", 6]],
              catches: { build: "Run npm run build" },
            },
            {
              name: "e2e (chromium)",
              runner: "ubuntu",
              stage: 1,
              steps: [...node, ["Run actions/download-artifact@v4", 4], ["Run npx playwright install --with-deps chromium", 35], ["Run npx playwright test --project=chromium", 210]],
              catches: { test: "Run npx playwright test --project=chromium" },
              flaky: { chance: 0.06, step: "Run npx playwright test --project=chromium" },
            },
            {
              name: "e2e (webkit)",
              runner: "ubuntu",
              stage: 1,
              steps: [...node, ["Run actions/download-artifact@v4", 4], ["Run npx playwright install --with-deps webkit", 48], ["Run npx playwright test --project=webkit", 236]],
              flaky: { chance: 0.04, step: "Run npx playwright test --project=webkit" },
            },
          ],
        },
        {
          id: 71_234_502,
          name: "Lint",
          file: ".github/workflows/lint.yml",
          triggers: ["pull_request"],
          cancelInProgress: true,
          jobs: [
            {
              name: "lint",
              runner: "ubuntu",
              steps: [...node, ["Run npx eslint . --max-warnings 0", 34], ["Run npx prettier --check .", 9]],
              catches: { lint: "Run npx eslint . --max-warnings 0", format: "Run npx prettier --check ." },
            },
          ],
        },
        {
          id: 71_234_503,
          name: "Deploy",
          file: ".github/workflows/deploy.yml",
          triggers: ["deploy"],
          jobs: [
            { name: "build-image", runner: "ubuntu", steps: image },
            {
              name: "deploy-staging",
              runner: "ubuntu",
              stage: 1,
              steps: [aws, ["Run ./scripts/deploy.sh staging", 64], ["Run ./scripts/smoke-test.sh staging", 28]],
              flaky: { chance: 0.03, step: "Run ./scripts/smoke-test.sh staging" },
            },
            {
              name: "deploy-production",
              runner: "ubuntu",
              stage: 2,
              approval: true,
              steps: [aws, ["Run ./scripts/deploy.sh production", 71], ["Run ./scripts/smoke-test.sh production", 30]],
            },
          ],
        },
        {
          id: 71_234_504,
          name: "Nightly E2E",
          file: ".github/workflows/nightly-e2e.yml",
          triggers: ["nightly"],
          hourUtc: 2,
          jobs: [
            {
              name: "full-e2e (chromium)",
              runner: "ubuntu",
              steps: [...node, ["Run npx playwright install --with-deps chromium", 35], ["Run npx playwright test --project=chromium --grep @full", 820]],
              flaky: { chance: 0.1, step: "Run npx playwright test --project=chromium --grep @full" },
            },
            {
              name: "full-e2e (firefox)",
              runner: "ubuntu",
              steps: [...node, ["Run npx playwright install --with-deps firefox", 41], ["Run npx playwright test --project=firefox --grep @full", 905]],
              flaky: { chance: 0.12, step: "Run npx playwright test --project=firefox --grep @full" },
            },
            {
              name: "visual-regression",
              runner: "ubuntu",
              steps: [...node, ["Run npx playwright install --with-deps chromium", 35], ["Run npx playwright test --project=visual", 340]],
              flaky: { chance: 0.05, step: "Run npx playwright test --project=visual" },
            },
          ],
        },
      ],
    },
    {
      id: 612_334_517,
      name: "fleet-api",
      description: "Fleet API: telemetry ingest, missions and the device registry (Go)",
      language: "Go",
      createdAt: "2023-02-02T15:40:09Z",
      pullsPerDay: 3,
      contributors: ["devpatel", "thartmann", "chenwei-dev", "jlind"],
      scheduleOwner: "thartmann",
      titles: [
        "Batch telemetry inserts per device",
        "Add /v2/missions with cursor pagination",
        "Rate-limit the device registry per tenant",
        "Fix race in the websocket hub",
        "Expose mission ETA in the status stream",
        "Store firmware rollout state",
        "Trace database calls with OpenTelemetry",
        "Validate waypoint bounds server-side",
        "Drop the legacy v1 auth middleware",
        "Retry MQTT publish on broker failover",
        "Index telemetry by (robot_id, recorded_at)",
        "Graceful shutdown for the ingest workers",
      ],
      bumps: ["github.com/jackc/pgx/v5 from 5.6.0 to 5.7.1", "golang.org/x/net from 0.28.0 to 0.29.0", "google.golang.org/grpc from 1.65.0 to 1.66.2"],
      workflows: [
        {
          id: 71_240_811,
          name: "CI",
          file: ".github/workflows/ci.yml",
          triggers: ["pull_request", "push"],
          cancelInProgress: true,
          jobs: [
            { name: "lint", runner: "ubuntu", steps: [...go, ["Run golangci/golangci-lint-action@v6", 72]], catches: { lint: "Run golangci/golangci-lint-action@v6" } },
            {
              name: "test (go 1.22)",
              runner: "ubuntu",
              steps: [...go, ["Run go test -race ./...", 148]],
              catches: { build: "Run go test -race ./...", test: "Run go test -race ./..." },
            },
            {
              name: "test (go 1.23)",
              runner: "ubuntu",
              steps: [...go, ["Run go test -race ./...", 141]],
              catches: { build: "Run go test -race ./...", test: "Run go test -race ./..." },
            },
            {
              name: "integration",
              runner: "ubuntu-large",
              stage: 1,
              steps: [...go, ["Run docker compose up -d postgres redis mosquitto", 21], ["Run go test -tags=integration ./internal/...", 262]],
              catches: { integration: "Run go test -tags=integration ./internal/..." },
              flaky: { chance: 0.05, step: "Run go test -tags=integration ./internal/..." },
            },
          ],
        },
        {
          id: 71_240_812,
          name: "CodeQL",
          file: ".github/workflows/codeql.yml",
          triggers: ["pull_request", "push", "weekly"],
          weekday: 1,
          hourUtc: 5,
          jobs: [
            {
              name: "analyze (go)",
              runner: "ubuntu",
              steps: [["Run github/codeql-action/init@v3", 18], ["Run github/codeql-action/autobuild@v3", 95], ["Run github/codeql-action/analyze@v3", 140]],
            },
          ],
        },
        {
          id: 71_240_813,
          name: "Deploy",
          file: ".github/workflows/deploy.yml",
          triggers: ["deploy"],
          jobs: [
            { name: "build-image", runner: "ubuntu", steps: image },
            { name: "migrate-staging", runner: "ubuntu", stage: 1, steps: [aws, ["Run ./scripts/migrate.sh staging", 18]] },
            {
              name: "deploy-staging",
              runner: "ubuntu",
              stage: 2,
              steps: [aws, ["Run ./scripts/deploy.sh staging", 82], ["Run ./scripts/smoke-test.sh staging", 35]],
              flaky: { chance: 0.03, step: "Run ./scripts/smoke-test.sh staging" },
            },
            {
              name: "deploy-production",
              runner: "ubuntu",
              stage: 3,
              approval: true,
              steps: [aws, ["Run ./scripts/migrate.sh production", 21], ["Run ./scripts/deploy.sh production", 96]],
            },
          ],
        },
        {
          id: 71_240_814,
          name: "Load test",
          file: ".github/workflows/load-test.yml",
          triggers: ["nightly"],
          hourUtc: 3,
          jobs: [
            {
              name: "k6 (telemetry ingest)",
              runner: "ubuntu-large",
              steps: [["Run grafana/setup-k6-action@v1", 6], ["Run k6 run load/telemetry.js --out json=results.json", 900], ["Run ./load/check-thresholds.sh", 4]],
              flaky: { chance: 0.08, step: "Run ./load/check-thresholds.sh" },
            },
          ],
        },
      ],
    },
    {
      id: 612_335_240,
      name: "controller-firmware",
      description: "Motor controller and sensor firmware (STM32H7, ESP32-S3)",
      language: "C",
      createdAt: "2022-11-21T08:03:51Z",
      pullsPerDay: 1.5,
      contributors: ["jlind", "amara-okafor", "chenwei-dev"],
      scheduleOwner: "jlind",
      titles: [
        "Tune PID gains for the v3 drive train",
        "Debounce the bumper switch in hardware timer",
        "Fix IMU drift after long idle",
        "CAN bus: handle bus-off recovery",
        "Lower idle power draw of the sensor board",
        "OTA: verify image signature before swap",
        "Add watchdog to the motor task",
        "Calibrate battery gauge at boot",
      ],
      bumps: [],
      workflows: [
        {
          id: 71_252_003,
          name: "CI",
          file: ".github/workflows/ci.yml",
          triggers: ["pull_request", "push"],
          jobs: [
            {
              name: "build (stm32h7)",
              runner: "ubuntu",
              steps: [["Run carlosperate/arm-none-eabi-gcc-action@v1", 12], ["Run cmake --preset stm32h7", 8], ["Run cmake --build --preset stm32h7", 164]],
              catches: { build: "Run cmake --build --preset stm32h7" },
            },
            { name: "build (esp32-s3)", runner: "ubuntu", steps: [["Run espressif/esp-idf-ci-action@v1", 236]], catches: { build: "Run espressif/esp-idf-ci-action@v1" } },
            {
              name: "unit-tests",
              runner: "ubuntu",
              steps: [["Run cmake --preset host-tests", 6], ["Run ctest --preset host-tests --output-on-failure", 58]],
              catches: { test: "Run ctest --preset host-tests --output-on-failure" },
            },
            {
              name: "hil-tests",
              runner: "hil",
              stage: 1,
              steps: [["Run actions/download-artifact@v4", 5], ["Run ./tools/flash.sh rig-01", 48], ["Run pytest hil/ --rig rig-01", 420]],
              catches: { test: "Run pytest hil/ --rig rig-01" },
              flaky: { chance: 0.08, step: "Run ./tools/flash.sh rig-01" },
            },
          ],
        },
        {
          id: 71_252_004,
          name: "Nightly soak",
          file: ".github/workflows/nightly-soak.yml",
          triggers: ["nightly"],
          hourUtc: 1,
          jobs: [
            {
              name: "soak (rig-02)",
              runner: "hil",
              steps: [["Run ./tools/flash.sh rig-02", 50], ["Run pytest hil/soak --rig rig-02 --hours 1", 3600]],
              flaky: { chance: 0.1, step: "Run pytest hil/soak --rig rig-02 --hours 1" },
            },
          ],
        },
      ],
    },
    {
      id: 612_336_902,
      name: "mobile-app",
      description: "Field technician app (React Native)",
      language: "TypeScript",
      createdAt: "2023-06-08T11:27:30Z",
      pullsPerDay: 2,
      contributors: ["sofiareyes", "aiko-t", "liam-obrien"],
      scheduleOwner: "sofiareyes",
      titles: [
        "Scan robot QR code to open its page",
        "Offline queue for maintenance reports",
        "Push notification when a mission fails",
        "Fix crash on Android 14 camera permission",
        "Show spare parts inventory per site",
        "Upgrade to React Native 0.75",
        "Attach photos to incident reports",
        "Biometric login",
      ],
      bumps: ["react-native-reanimated from 3.14.0 to 3.15.1"],
      workflows: [
        {
          id: 71_260_441,
          name: "CI",
          file: ".github/workflows/ci.yml",
          triggers: ["pull_request", "push"],
          cancelInProgress: true,
          jobs: [
            { name: "test", runner: "ubuntu", steps: [...yarn, ["Run yarn test --ci", 84]], catches: { test: "Run yarn test --ci" } },
            {
              name: "android",
              runner: "ubuntu-large",
              steps: [["Run actions/setup-java@v4", 6], ...yarn, ["Run ./gradlew assembleRelease", 540]],
              catches: { build: "Run ./gradlew assembleRelease" },
            },
            {
              name: "ios",
              runner: "macos",
              steps: [...yarn, ["Run pod install", 95], ["Run xcodebuild -workspace ios/FieldTech.xcworkspace -scheme FieldTech build", 780]],
              catches: { build: "Run xcodebuild -workspace ios/FieldTech.xcworkspace -scheme FieldTech build" },
              flaky: { chance: 0.03, step: "Run pod install" },
            },
          ],
        },
        {
          id: 71_260_442,
          name: "Lint",
          file: ".github/workflows/lint.yml",
          triggers: ["pull_request"],
          cancelInProgress: true,
          jobs: [
            {
              name: "lint",
              runner: "ubuntu",
              steps: [...yarn, ["Run yarn lint", 41], ["Run yarn format:check", 7]],
              catches: { lint: "Run yarn lint", format: "Run yarn format:check" },
            },
          ],
        },
      ],
    },
    {
      id: 612_337_118,
      name: "infra",
      description: "Terraform for the cloud accounts, clusters and DNS",
      language: "HCL",
      createdAt: "2022-09-30T07:55:12Z",
      pullsPerDay: 1.2,
      contributors: ["thartmann", "amara-okafor", "devpatel"],
      scheduleOwner: "thartmann",
      titles: [
        "Add read replica for the telemetry database",
        "Scale the ingest node pool on queue depth",
        "Move DNS for status page to Route 53",
        "Rotate the MQTT broker certificates",
        "Tighten egress rules of the build runners",
        "Bump EKS to 1.30",
      ],
      bumps: [],
      workflows: [
        {
          id: 71_270_015,
          name: "Terraform",
          file: ".github/workflows/terraform.yml",
          triggers: ["pull_request"],
          cancelInProgress: true,
          jobs: [
            {
              name: "fmt & validate",
              runner: "infra",
              steps: [["Run hashicorp/setup-terraform@v3", 4], ["Run terraform fmt -check -recursive", 3], ["Run terraform validate", 11]],
              catches: { format: "Run terraform fmt -check -recursive", build: "Run terraform validate", lint: "Run terraform validate" },
            },
            {
              name: "plan (staging)",
              runner: "infra",
              stage: 1,
              steps: [...terraform, ["Run terraform plan -out=tfplan", 74]],
              flaky: { chance: 0.03, step: "Run terraform plan -out=tfplan" },
            },
            { name: "plan (production)", runner: "infra", stage: 1, steps: [...terraform, ["Run terraform plan -out=tfplan", 96]] },
          ],
        },
        {
          id: 71_270_016,
          name: "Terraform apply",
          file: ".github/workflows/apply.yml",
          triggers: ["push"],
          jobs: [
            {
              name: "apply (staging)",
              runner: "infra",
              steps: [...terraform, ["Run terraform apply -auto-approve", 118]],
              flaky: { chance: 0.02, step: "Run terraform apply -auto-approve" },
            },
            { name: "apply (production)", runner: "infra", stage: 1, approval: true, steps: [...terraform, ["Run terraform apply -auto-approve", 142]] },
          ],
        },
      ],
    },
  ],
};

/** The person with this login (the organization's data names only people it lists). */
export function personOf(login: string): Person {
  const person = DEMO_ORGANIZATION.people.find((p) => p.login === login);
  if (!person) throw new Error(`the demo organization has no ${login}`);
  return person;
}

/** The branch a person opens a pull request from: `maja/show-battery-health-on-the`. */
export function branchName(author: Person, title: string): string {
  const words = title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .split("-")
    .slice(0, 5);
  return `${author.login.split("-")[0]}/${words.join("-")}`;
}
