import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The Prometheus registry behind `/metrics`. The core's own metrics are created here; plugins get
 * theirs through PluginContext.metrics, prefixed `bramble_<plugin>_`.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly eventsAppended: Counter<'stream_category'>;
  readonly appendBatches: Counter<string>;
  readonly appendFailures: Counter<'reason'>;
  readonly appendLatency: Histogram<string>;
  readonly projectionPosition: Gauge<string>;
  readonly projectionLag: Gauge<string>;
  readonly eventsProjected: Counter<string>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    // prom-client's own names already start with process_ or nodejs_: bramble_process_cpu_seconds_total,
    // bramble_nodejs_eventloop_lag_seconds...
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'bramble_' });
    this.eventsAppended = new Counter({
      name: 'bramble_events_appended_total',
      help: 'Events appended to the event store, by stream category (the part of the stream name before the first dash)',
      labelNames: ['stream_category'],
      registers: [this.registry],
    });
    this.appendBatches = new Counter({
      name: 'bramble_appends_total',
      help: 'Append operations acknowledged by the event store',
      registers: [this.registry],
    });
    this.appendFailures = new Counter({
      name: 'bramble_append_failures_total',
      help: 'Append operations that failed, by reason',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.appendLatency = new Histogram({
      name: 'bramble_append_duration_seconds',
      help: 'Time from append call to durable acknowledgement',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [this.registry],
    });
    this.projectionPosition = new Gauge({
      name: 'bramble_projection_position',
      help: 'Global position of the last event applied to the read models',
      registers: [this.registry],
    });
    this.projectionLag = new Gauge({
      name: 'bramble_projection_lag_events',
      help: "Global position of the newest event minus the read models' position",
      registers: [this.registry],
    });
    this.eventsProjected = new Counter({
      name: 'bramble_events_projected_total',
      help: 'Events applied to the read models',
      registers: [this.registry],
    });
  }

  counter(name: string, help: string, labelNames: string[] = []): Counter<string> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Counter<string>;
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  gauge(name: string, help: string, labelNames: string[] = []): Gauge<string> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Gauge<string>;
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  histogram(name: string, help: string, labelNames: string[] = [], buckets?: number[]): Histogram<string> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Histogram<string>;
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }
}
