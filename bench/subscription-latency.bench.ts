/**
 * Live-feed latency of the GraphQL `events` subscription (target: p99 <= 20 ms with 100 subscribers).
 *
 * Starts bramble in-process (sqlite store in a temp dir), opens N graphql-ws subscribers to
 * `events(types: ["ClientRenamed"])` — in a worker thread, so that the clients' work does not run on
 * the server's event loop — then sends paced `renameClient` mutations over HTTP, one at a time.
 * For each event at each subscriber it measures:
 *   - send → receipt: from just before the mutation is sent to the subscriber's receipt (the whole
 *     path: HTTP, command, append, projection, fan-out, WebSocket). This is the headline figure.
 *   - publish → receipt: from the moment the read models applied the event and published it on
 *     the live feed, to the receipt (the subscription's own share).
 * Times are `performance.timeOrigin + performance.now()` in both threads (same clock).
 *
 *   node dist/bench/subscription-latency.bench.js [--subscribers=100] [--events=200] [--interval-ms=10]
 */
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { ProjectionEngine } from '../src/core/projections/projection-engine';
import { startHarness } from '../test/support/app-harness';

const now = (): number => performance.timeOrigin + performance.now();

interface WorkerInput {
  wsUrl: string;
  token: string;
  subscribers: number;
  events: number;
}

/** From the worker: per subscriber, receipt time by event name. */
type Receipts = Array<Record<string, number>>;

function option(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const value = arg ? Number(arg.slice(name.length + 3)) : fallback;
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name}: not a number`);
  return value;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function summary(values: number[]): { p50: string; p99: string; max: string } {
  const sorted = [...values].sort((a, b) => a - b);
  const f = (v: number) => v.toFixed(2);
  return { p50: f(percentile(sorted, 50)), p99: f(percentile(sorted, 99)), max: f(sorted[sorted.length - 1]) };
}

/** Worker thread: the subscribers. */
async function runSubscribers(input: WorkerInput): Promise<void> {
  const receipts: Receipts = Array.from({ length: input.subscribers }, () => ({}));
  let remaining = input.subscribers * input.events;
  let finish: () => void = () => undefined;
  const allReceived = new Promise<void>((resolve) => (finish = resolve));
  const clients = Array.from({ length: input.subscribers }, (_, i) => {
    const client = createClient({
      url: input.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { Authorization: `Bearer ${input.token}` },
    });
    client.subscribe<{ events: { data: { name: string } } }>(
      { query: 'subscription { events(types: ["ClientRenamed"]) { data } }' },
      {
        next: (result) => {
          const at = now();
          const name = result.data?.events.data.name;
          if (name === undefined || receipts[i][name] !== undefined) return;
          receipts[i][name] = at;
          if (--remaining === 0) finish();
        },
        error: (error) => parentPort!.postMessage({ kind: 'error', message: String((error as Error)?.message ?? JSON.stringify(error)) }),
        complete: () => undefined,
      },
    );
    return client;
  });
  parentPort!.on('message', (message: { kind: string }) => {
    if (message.kind === 'collect') {
      // Whatever arrived (a lost event shows up as a missing receipt).
      void Promise.race([allReceived, new Promise((r) => setTimeout(r, 5000))]).then(async () => {
        parentPort!.postMessage({ kind: 'receipts', receipts });
        await Promise.all(clients.map((c) => c.dispose()));
      });
    }
  });
  parentPort!.postMessage({ kind: 'started' });
}

async function main(): Promise<void> {
  const subscribers = option('subscribers', 100);
  const events = option('events', 200);
  const intervalMs = option('interval-ms', 10);
  const h = await startHarness();
  const engine = h.app.nest.get(ProjectionEngine);
  const worker = new Worker(__filename, { workerData: { wsUrl: h.wsUrl, token: h.token, subscribers, events } satisfies WorkerInput });
  try {
    const messages: Array<{ kind: string; receipts?: Receipts; message?: string }> = [];
    const waiters: Array<() => void> = [];
    worker.on('message', (m) => {
      if (m.kind === 'error') process.stderr.write(`subscriber error: ${m.message}\n`);
      messages.push(m);
      waiters.splice(0).forEach((w) => w());
    });
    worker.on('error', (e) => process.stderr.write(`worker failed: ${e.stack}\n`));
    const message = async (kind: string, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find((m) => m.kind === kind);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no ${kind} from the subscribers' worker`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    };
    await message('started', 10_000);
    await h.liveSubscribers(subscribers, 30_000);

    await h.ok('mutation { approveClient(mac: "dc:a6:32:50:00:01", name: "bench-start") { mac } }');
    const sent = new Map<string, number>();
    const published = new Map<string, number>();
    const tap = engine.live$.subscribe((e) => {
      if (e.type === 'ClientRenamed') published.set((e.data as { name: string }).name, now());
    });
    const started = Date.now();
    for (let i = 0; i < events; i++) {
      const wait = started + i * intervalMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const name = `bench-${i}`;
      sent.set(name, now());
      const res = await h.gql(`mutation { renameClient(mac: "dc:a6:32:50:00:01", name: "${name}") { name } }`);
      if (res.errors) throw new Error(`mutation failed: ${JSON.stringify(res.errors)}`);
    }
    const sendMs = Date.now() - started;
    worker.postMessage({ kind: 'collect' });
    const { receipts } = (await message('receipts', 30_000)) as { receipts: Receipts };
    tap.unsubscribe();

    const endToEnd: number[] = [];
    const fanOut: number[] = [];
    let missing = 0;
    for (const perSubscriber of receipts) {
      for (const [name, sentAt] of sent) {
        const at = perSubscriber[name];
        if (at === undefined) {
          missing++;
          continue;
        }
        endToEnd.push(at - sentAt);
        const pub = published.get(name);
        if (pub !== undefined) fanOut.push(at - pub);
      }
    }
    const e2e = summary(endToEnd);
    const fan = summary(fanOut);
    process.stdout.write(
      `subscription.latency p50_ms=${e2e.p50} p99_ms=${e2e.p99} max_ms=${e2e.max} subscribers=${subscribers} events=${events} ` +
        `deliveries=${endToEnd.length} missing=${missing} interval_ms=${intervalMs} send_s=${(sendMs / 1000).toFixed(1)} (mutation send -> receipt)\n` +
        `subscription.fanout p50_ms=${fan.p50} p99_ms=${fan.p99} max_ms=${fan.max} (live feed publish -> receipt)\n` +
        `target p99<=20ms: ${Number(e2e.p99) <= 20 && missing === 0 ? 'met' : 'NOT met'}\n`,
    );
  } finally {
    await worker.terminate();
    await h.close();
  }
}

if (isMainThread) {
  main().catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
} else {
  void runSubscribers(workerData as WorkerInput);
}
