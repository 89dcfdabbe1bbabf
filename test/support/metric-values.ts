/** Reading bramble's Prometheus metrics in-process, for tests that count what a server did. */
import type { Metrics } from '../../src/core/observability/metrics';

/** A counter's (or gauge's) values summed by one label (`''`: one total under the key `''`); empty when it does not exist yet. */
export async function counterValues(metrics: Metrics, name: string, label: string): Promise<Map<string, number>> {
  const metric = metrics.registry.getSingleMetric(name);
  const out = new Map<string, number>();
  if (!metric) return out;
  for (const v of (await metric.get()).values) {
    const key = String(v.labels[label] ?? '');
    out.set(key, (out.get(key) ?? 0) + v.value);
  }
  return out;
}

/** The increase of each key from `before` to `after` (keys that did not grow are left out). */
export function diff(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of after) if (v - (before.get(k) ?? 0) > 0) out.set(k, v - (before.get(k) ?? 0));
  return out;
}

export function sum(m: Map<string, number>): number {
  let s = 0;
  for (const v of m.values()) s += v;
  return s;
}
