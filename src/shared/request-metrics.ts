// HTTP request count and duration by method, route template and status, without allocating per request: the
// series is found through a few map lookups on values the request already holds, and the text is built at scrape.
import type { Metric, Registry } from 'prom-client';

const PREFIX = 'artstore_';
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60];

interface Series {
  labels: { method: string; route: string; status: string };
  /** Per bucket, observations at or below its bound and above the previous one; the last slot is +Inf. */
  buckets: Float64Array;
  sum: number;
  count: number;
}

const described = (m: { name: string; help: string; type: string; aggregator: string }) => ({
  name: m.name, help: m.help, type: m.type, aggregator: m.aggregator,
});

type MetricValue = { labels: Record<string, string | number>; value: number; metricName?: string };

/**
 * What prom-client's Counter and Histogram export as artstore_http_requests_total and
 * artstore_http_request_duration_seconds (same names, labels and buckets), kept in plain arrays. prom-client's own
 * observe() builds a label object and hashes it into a string on every call; on the status routes that was a
 * measurable share of the request.
 */
export class RequestMetrics {
  /** route key (a route object, or UNMATCHED) -> route prefix -> method -> status -> series */
  private readonly routes = new Map<object, Map<string, Map<string, Map<number, Series>>>>();
  private readonly byLabels = new Map<string, Series>();

  constructor(registry: Registry) {
    const counter = {
      name: `${PREFIX}http_requests_total`,
      help: 'HTTP requests by method, route template and status',
      type: 'counter',
      aggregator: 'sum',
      get: async () => ({ ...described(counter), values: [...this.byLabels.values()].map((s): MetricValue => ({ labels: s.labels, value: s.count })) }),
      reset: () => this.reset(),
    };
    const histogram = {
      name: `${PREFIX}http_request_duration_seconds`,
      help: 'HTTP request duration by method, route template and status',
      type: 'histogram',
      aggregator: 'sum',
      get: async () => ({ ...described(histogram), values: this.histogramValues(histogram.name) }),
      reset: () => this.reset(),
    };
    // prom-client takes any object with name, help, type, get() and reset() (its Metric type names its classes).
    registry.registerMetric(counter as unknown as Metric);
    registry.registerMetric(histogram as unknown as Metric);
  }

  /**
   * One request. routeKey identifies the route template (the same object every time for one route), and the
   * template is prefix + path; both are only read the first time the series is seen.
   */
  observe(routeKey: object, prefix: string, path: string, method: string, status: number, seconds: number): void {
    let byPrefix = this.routes.get(routeKey);
    if (!byPrefix) this.routes.set(routeKey, (byPrefix = new Map()));
    let byMethod = byPrefix.get(prefix);
    if (!byMethod) byPrefix.set(prefix, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (!series) {
      series = this.seriesOf(method, `${prefix}${path}`, String(status));
      byStatus.set(status, series);
    }
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    series.buckets[i]! += 1;
    series.sum += seconds;
    series.count += 1;
  }

  /** The one series of these labels (two route objects may share a template: an app made twice on one registry). */
  private seriesOf(method: string, route: string, status: string): Series {
    const key = `${method} ${route} ${status}`;
    let series = this.byLabels.get(key);
    if (!series) {
      series = { labels: { method, route, status }, buckets: new Float64Array(BUCKETS.length + 1), sum: 0, count: 0 };
      this.byLabels.set(key, series);
    }
    return series;
  }

  private histogramValues(name: string): MetricValue[] {
    const values: MetricValue[] = [];
    for (const s of this.byLabels.values()) {
      let cumulative = 0;
      for (let i = 0; i <= BUCKETS.length; i++) {
        cumulative += s.buckets[i]!;
        values.push({ labels: { ...s.labels, le: i < BUCKETS.length ? BUCKETS[i]! : '+Inf' }, value: cumulative, metricName: `${name}_bucket` });
      }
      values.push({ labels: s.labels, value: s.sum, metricName: `${name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${name}_count` });
    }
    return values;
  }

  private reset(): void {
    this.routes.clear();
    this.byLabels.clear();
  }
}
