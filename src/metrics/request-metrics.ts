/**
 * The per-request metrics (a counter by method, route and status; a latency histogram by method and
 * route), kept in plain arrays and handed to prom-client's registry as metric objects of its protocol
 * (`get()` → name, help, type, values). prom-client's own Counter and Histogram hash their labels on
 * every call: measured at about 10 % of a query-one's CPU on the event loop; this path is a Map lookup
 * and a few additions.
 */
import type { Metric, MetricObjectWithValues, MetricValue, MetricValueWithName, Registry } from 'prom-client';

const BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface Series {
  method: string;
  route: string;
  status: string;
  count: number;
  /** Observations per bucket (not cumulative); the last is +Inf. */
  buckets: Float64Array;
  sum: number;
}

export class RequestMetrics {
  private readonly series = new Map<string, Series>();

  constructor(registry: Registry, names: { requests: string; duration: string }, help: { requests: string; duration: string }) {
    const self = this;
    // The registry only calls get() (and reset()); these objects are metrics in that sense.
    const metric = (name: string, helpText: string, type: 'counter' | 'histogram', values: () => MetricValue<string>[]) =>
      ({
        name,
        help: helpText,
        type,
        aggregator: 'sum',
        async get(): Promise<MetricObjectWithValues<MetricValue<string>>> {
          return { name, help: helpText, type, aggregator: 'sum', values: values() } as unknown as MetricObjectWithValues<MetricValue<string>>;
        },
        reset: () => self.series.clear(),
      }) as unknown as Metric;
    registry.registerMetric(metric(names.requests, help.requests, 'counter', () => this.requestValues()));
    registry.registerMetric(metric(names.duration, help.duration, 'histogram', () => this.durationValues(names.duration)));
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let s = this.series.get(key);
    if (!s) {
      s = { method, route, status: String(status), count: 0, buckets: new Float64Array(BOUNDS.length + 1), sum: 0 };
      this.series.set(key, s);
    }
    s.count++;
    s.sum += seconds;
    let i = 0;
    while (i < BOUNDS.length && seconds > BOUNDS[i]) i++;
    s.buckets[i]++;
  }

  private requestValues(): MetricValue<string>[] {
    return [...this.series.values()].map((s) => ({ labels: { method: s.method, route: s.route, status: s.status }, value: s.count }));
  }

  /** The histogram is by method and route: the series of each status are added up. */
  private durationValues(name: string): MetricValueWithName<string>[] {
    const byRoute = new Map<string, { method: string; route: string; buckets: Float64Array; sum: number; count: number }>();
    for (const s of this.series.values()) {
      const key = `${s.method} ${s.route}`;
      let r = byRoute.get(key);
      if (!r) byRoute.set(key, (r = { method: s.method, route: s.route, buckets: new Float64Array(BOUNDS.length + 1), sum: 0, count: 0 }));
      for (let i = 0; i < r.buckets.length; i++) r.buckets[i] += s.buckets[i];
      r.sum += s.sum;
      r.count += s.count;
    }
    const values: MetricValueWithName<string>[] = [];
    for (const r of byRoute.values()) {
      const labels = { method: r.method, route: r.route };
      let cumulative = 0;
      r.buckets.forEach((n, i) => {
        cumulative += n;
        values.push({ metricName: `${name}_bucket`, labels: { le: i < BOUNDS.length ? BOUNDS[i] : '+Inf', ...labels }, value: cumulative });
      });
      values.push({ metricName: `${name}_sum`, labels, value: r.sum }, { metricName: `${name}_count`, labels, value: r.count });
    }
    return values;
  }
}
