/** Label values by label name; every series of one metric uses the same names. */
export type Labels = Record<string, string>;

export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

export interface Gauge {
  set(value: number, labels?: Labels): void;
  /** Forgets every series, for gauges rebuilt from scratch at each scrape. */
  reset(): void;
}

export interface Histogram {
  observe(value: number, labels?: Labels): void;
}

export interface MetricsRegistry {
  counter(name: string, help: string): Counter;
  gauge(name: string, help: string): Gauge;
  /** @param buckets upper bounds, ascending; `+Inf` is added. */
  histogram(name: string, help: string, buckets: readonly number[]): Histogram;
  /** Runs before every scrape, to read gauges whose truth lives elsewhere (the database, the process). */
  onScrape(collect: () => Promise<void> | void): void;
  /** Every metric in the Prometheus text exposition format, version 0.0.4. */
  render(): Promise<string>;
}

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  lines(): string[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Label values may come from requests: backslash, quote and newline must not break the format. */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function labelText(labels: Labels | undefined, extra?: [string, string]): string {
  const pairs = Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return "";
  for (const [name] of pairs) if (!LABEL.test(name)) throw new Error(`invalid label name ${name}`);
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/**
 * A small Prometheus registry: counters, gauges and fixed-bucket histograms, rendered in the
 * text format. One is made per process at start and handed to whoever records metrics.
 */
export function createMetricsRegistry(): MetricsRegistry {
  const families = new Map<string, Family>();
  const collectors: Array<() => Promise<void> | void> = [];

  function register(family: Family) {
    if (!NAME.test(family.name)) throw new Error(`invalid metric name ${family.name}`);
    if (families.has(family.name)) throw new Error(`metric ${family.name} registered twice`);
    families.set(family.name, family);
  }

  return {
    counter(name, help) {
      const series = new Map<string, number>();
      register({ name, help, type: "counter", lines: () => [...series].map(([labels, value]) => `${name}${labels} ${formatNumber(value)}`) });
      return {
        inc(labels, by = 1) {
          if (by < 0) throw new Error(`counter ${name} cannot go down`);
          const key = labelText(labels);
          series.set(key, (series.get(key) ?? 0) + by);
        },
      };
    },

    gauge(name, help) {
      const series = new Map<string, number>();
      register({ name, help, type: "gauge", lines: () => [...series].map(([labels, value]) => `${name}${labels} ${formatNumber(value)}`) });
      return {
        set(value, labels) {
          series.set(labelText(labels), value);
        },
        reset() {
          series.clear();
        },
      };
    },

    histogram(name, help, buckets) {
      const bounds = [...buckets];
      if (bounds.some((b, i) => i > 0 && b <= bounds[i - 1]!)) throw new Error(`histogram ${name}: buckets must ascend`);
      const series = new Map<string, { labels: Labels | undefined; counts: number[]; sum: number; count: number }>();
      register({
        name,
        help,
        type: "histogram",
        lines: () =>
          [...series.values()].flatMap((s) => [
            // Buckets are cumulative in the format: each counts every observation up to its bound.
            ...bounds.map((bound, i) => `${name}_bucket${labelText(s.labels, ["le", formatNumber(bound)])} ${s.counts[i]}`),
            `${name}_bucket${labelText(s.labels, ["le", "+Inf"])} ${s.count}`,
            `${name}_sum${labelText(s.labels)} ${formatNumber(s.sum)}`,
            `${name}_count${labelText(s.labels)} ${s.count}`,
          ]),
      });
      return {
        observe(value, labels) {
          const key = labelText(labels);
          let s = series.get(key);
          if (!s) {
            s = { labels, counts: bounds.map(() => 0), sum: 0, count: 0 };
            series.set(key, s);
          }
          bounds.forEach((bound, i) => {
            if (value <= bound) s.counts[i]! += 1;
          });
          s.sum += value;
          s.count += 1;
        },
      };
    },

    onScrape(collect) {
      collectors.push(collect);
    },

    async render() {
      for (const collect of collectors) await collect();
      const out: string[] = [];
      for (const family of families.values()) {
        out.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`, ...family.lines());
      }
      return `${out.join("\n")}\n`;
    },
  };
}
