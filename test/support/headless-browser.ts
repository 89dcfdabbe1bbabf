/**
 * A headless Chromium driven over the DevTools protocol (with the `ws` package), for checking that
 * a page really works in a browser. Optional: `findChromium()` returns null when no Chromium is
 * installed (`apt-get install chromium`), and tests using it skip. Every host name resolves to
 * nothing except 127.0.0.1, so a page that needs the internet visibly fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import WebSocket from 'ws';
import { tempDir } from './temp';

export function findChromium(): string | null {
  for (const candidate of ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']) {
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

export interface BrowserPage {
  /** URLs the page requested (HTTP and WebSocket), in order. */
  requests: string[];
  /** Console messages, exceptions and browser log entries. */
  logs: string[];
  navigate(url: string): Promise<void>;
  /** Evaluates an expression in the page (promises awaited) and returns its JSON value. */
  evaluate<T = unknown>(expression: string): Promise<T>;
  close(): Promise<void>;
}

async function waitFor<T>(get: () => Promise<T | null>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await get().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function openBrowserPage(chromium: string): Promise<BrowserPage> {
  const profile = tempDir('bramble-chromium-');
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child: ChildProcess = spawn(
    chromium,
    [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
      `--remote-debugging-port=${port}`,
      `--user-data-dir=${profile.dir}`,
      'about:blank',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const target = await waitFor(
      async () => {
        const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as Array<{
          type: string;
          webSocketDebuggerUrl: string;
        }>;
        return targets.find((t) => t.type === 'page') ?? null;
      },
      15000,
      'Chromium to start',
    );
    const socket = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    let nextId = 0;
    const pending = new Map<number, (message: { result?: any; error?: any }) => void>();
    const requests: string[] = [];
    const logs: string[] = [];
    socket.on('message', (raw) => {
      const message = JSON.parse(String(raw));
      if (message.id !== undefined) {
        pending.get(message.id)?.(message);
        pending.delete(message.id);
        return;
      }
      const p = message.params;
      if (message.method === 'Network.requestWillBeSent') requests.push(p.request.url);
      else if (message.method === 'Network.webSocketCreated') requests.push(p.url);
      else if (message.method === 'Runtime.consoleAPICalled')
        logs.push(`console.${p.type}: ${p.args.map((a: any) => a.value ?? a.description).join(' ')}`);
      else if (message.method === 'Runtime.exceptionThrown')
        logs.push(`exception: ${p.exceptionDetails.exception?.description ?? p.exceptionDetails.text}`);
      else if (message.method === 'Log.entryAdded') logs.push(`log.${p.entry.level}: ${p.entry.text}`);
    });
    const send = (method: string, params: object = {}): Promise<any> =>
      new Promise((resolve, reject) => {
        const id = ++nextId;
        pending.set(id, (m) => (m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result)));
        socket.send(JSON.stringify({ id, method, params }));
      });
    await send('Runtime.enable');
    await send('Log.enable');
    await send('Network.enable');
    await send('Page.enable');
    const evaluate = async <T>(expression: string): Promise<T> => {
      const result = await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
      if (result.exceptionDetails)
        throw new Error(`in page: ${result.exceptionDetails.exception?.description ?? result.exceptionDetails.text}`);
      return result.result.value as T;
    };
    return {
      requests,
      logs,
      evaluate,
      async navigate(url: string) {
        await send('Page.navigate', { url });
        await waitFor(async () => ((await evaluate<string>('document.readyState')) === 'complete' ? true : null), 15000, `${url} to load`);
      },
      async close() {
        socket.close();
        child.kill('SIGTERM');
        await exited;
        profile.cleanup();
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    profile.cleanup();
    throw error;
  }
}
