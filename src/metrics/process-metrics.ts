import { monitorEventLoopDelay } from "node:perf_hooks";
import type { MetricsRegistry } from "./registry.js";

/**
 * The process's own gauges: memory, CPU time, start time and event loop delay (its p99 and
 * maximum since the previous scrape: a blocked loop delays every webhook answer).
 * @returns a function that stops the event loop monitor.
 */
export function addProcessMetrics(registry: MetricsRegistry): () => void {
  const rss = registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  const heap = registry.gauge("nodejs_heap_used_bytes", "V8 heap in use, in bytes.");
  const cpu = registry.counter("process_cpu_seconds_total", "User and system CPU time spent, in seconds.");
  const started = registry.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.");
  const delayP99 = registry.gauge("nodejs_eventloop_delay_p99_seconds", "99th percentile of the event loop delay since the previous scrape, in seconds.");
  const delayMax = registry.gauge("nodejs_eventloop_delay_max_seconds", "Longest event loop delay since the previous scrape, in seconds.");

  const startSeconds = Math.round((Date.now() - process.uptime() * 1000) / 1000);
  const monitor = monitorEventLoopDelay({ resolution: 10 });
  monitor.enable();
  let cpuSeen = 0;

  registry.onScrape(() => {
    const memory = process.memoryUsage();
    rss.set(memory.rss);
    heap.set(memory.heapUsed);
    const usage = process.cpuUsage();
    const cpuNow = (usage.user + usage.system) / 1e6;
    cpu.inc(undefined, Math.max(0, cpuNow - cpuSeen));
    cpuSeen = cpuNow;
    started.set(startSeconds);
    // Before its first sample the monitor's percentiles are meaningless.
    const seen = monitor.count > 0;
    delayP99.set(seen ? monitor.percentile(99) / 1e9 : 0);
    delayMax.set(seen ? monitor.max / 1e9 : 0);
    monitor.reset();
  });

  return () => monitor.disable();
}
