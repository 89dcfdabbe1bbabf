/** GraphiQL at /graphiql, offline: only local assets, and (when Chromium is installed) it really works. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as vm from 'node:vm';
import { buildReactScript, GRAPHIQL_ASSET_NAMES, GraphiqlAssetError, patchGraphiqlUmd } from '../../src/graphql/graphiql.assets';
import { findChromium, openBrowserPage, type BrowserPage } from '../support/headless-browser';
import { startHarness, type Harness } from '../support/app-harness';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('GraphiQL, offline', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('GET /graphiql is HTML that references only local URLs, each answering 200 with JS or CSS', async () => {
    const res = await fetch(`${h.url}/graphiql`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await res.text();
    const urls = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(urls.length, 4);
    assert.equal(/https?:\/\//.test(html), false, 'no absolute URL in the page');
    for (const url of urls) {
      assert.match(url, /^\/graphiql\/assets\/[a-z]+\.(js|css)$/, url);
      const asset = await fetch(new URL(url, h.url));
      assert.equal(asset.status, 200, url);
      const body = await asset.text();
      if (url.endsWith('.css')) {
        assert.match(asset.headers.get('content-type') ?? '', /^text\/css/);
        assert.match(body, /\.graphiql-container/);
        // Fonts and images are inlined: no url() leaves the page.
        for (const m of body.matchAll(/url\(\s*["']?([^"')]+)/g)) assert.match(m[1], /^data:/);
        assert.equal(/@import/.test(body), false);
      } else {
        assert.match(asset.headers.get('content-type') ?? '', /^application\/javascript/);
        assert.ok(body.length > 500, url);
      }
    }
    const names = urls.map((u) => u.split('/').pop());
    assert.deepEqual([...names].sort(), [...GRAPHIQL_ASSET_NAMES].sort());
  });

  it('an unknown asset is 404; assets need no token (they hold no data)', async () => {
    assert.equal((await fetch(`${h.url}/graphiql/assets/nope.js`)).status, 404);
    assert.equal((await fetch(`${h.url}/graphiql/assets/..%2Fpackage.json`)).status, 404);
  });

  it('react.js provides React 19 and ReactDOM with createRoot, from the installed packages', () => {
    const sandbox: Record<string, unknown> = { console, setTimeout, clearTimeout, queueMicrotask };
    sandbox.window = sandbox;
    vm.createContext(sandbox);
    vm.runInContext(buildReactScript(), sandbox);
    const React = sandbox.React as { version: string; createElement: unknown };
    assert.match(React.version, /^19\./);
    assert.equal(typeof (sandbox.ReactDOM as { createRoot: unknown }).createRoot, 'function');
    const jsx = sandbox.__brambleJsxRuntime as { jsx(type: string, props: object): { $$typeof: symbol } };
    assert.equal(jsx.jsx('div', {}).$$typeof, Symbol.for('react.transitional.element'));
  });

  it('the GraphiQL patch applies exactly once, and refuses a build it does not recognise', () => {
    const runtime =
      'c.exports=function(){if(a)return u;a=1;var t=e,n=Symbol.for("react.element"),r=1;function l(){}return u.Fragment=r,u.jsx=l,u.jsxs=l,u}()';
    assert.equal(patchGraphiqlUmd(`x;${runtime};y`), 'x;c.exports=globalThis.__brambleJsxRuntime;y');
    assert.throws(() => patchGraphiqlUmd('no runtime here'), GraphiqlAssetError);
    assert.throws(() => patchGraphiqlUmd(`${runtime};${runtime}`), GraphiqlAssetError);
  });

  const chromium = findChromium();
  it(
    'renders in a browser with no network, runs a query and a subscription with the token from the headers editor',
    { skip: chromium ? false : 'chromium is not installed', timeout: 60_000 },
    async () => {
      let page: BrowserPage | null = null;
      try {
        page = await openBrowserPage(chromium!);
        await page.navigate(`${h.url}/graphiql`);
        for (
          let i = 0;
          i < 100 && !(await page.evaluate<boolean>('!!document.querySelector(".graphiql-container .graphiql-query-editor .CodeMirror")'));
          i++
        )
          await sleep(100);
        assert.equal(
          await page.evaluate('!!document.querySelector(".graphiql-container")'),
          true,
          `GraphiQL did not render: ${page.logs.join('\n')}`,
        );

        const setEditors = (query: string) =>
          page!.evaluate(`(() => {
        document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(${JSON.stringify(query)});
        const headers = [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')].map((e) => e.CodeMirror).find((cm) => cm.getValue().includes('Authorization'));
        headers.setValue(${JSON.stringify(JSON.stringify({ Authorization: `Bearer ${h.token}` }))});
      })()`);
        const run = async () => {
          await sleep(500); // GraphiQL parses the edited query after a short debounce
          await page!.evaluate('document.querySelector(".graphiql-execute-button").click()');
        };
        const response = () => page!.evaluate<string>('document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue()');
        const waitForResponse = async (pattern: RegExp) => {
          for (let i = 0; i < 100; i++) {
            const text = await response();
            if (pattern.test(text)) return text;
            await sleep(100);
          }
          throw new Error(`no response matching ${pattern}: ${await response()}\n${page!.logs.join('\n')}`);
        };

        await setEditors('{ groups { name } }');
        await run();
        const queryResult = JSON.parse(await waitForResponse(/teachers/));
        assert.deepEqual(
          queryResult.data.groups.map((g: { name: string }) => g.name),
          ['pupils', 'teachers'],
        );

        await setEditors('subscription { events(types: ["ClientApproved"]) { type metadata { actor } } }');
        await run();
        await h.liveSubscribers(1, 10_000);
        await h.ok('mutation { approveClient(mac: "dc:a6:32:77:77:77") { mac } }');
        const subscriptionResult = JSON.parse(await waitForResponse(/ClientApproved/));
        assert.deepEqual(subscriptionResult.data.events, { type: 'ClientApproved', metadata: { actor: 'admin:admin' } });

        const origin = new URL(h.url);
        for (const url of page.requests) {
          const u = new URL(url);
          assert.ok(u.protocol === 'data:' || u.host === origin.host, `request left the server: ${url}`);
        }
        assert.ok(
          page.requests.some((u) => u.startsWith(`ws://${origin.host}/graphql`)),
          'the subscription went over the WebSocket',
        );
        assert.deepEqual(
          page.logs.filter((l) => /exception|Content Security Policy/i.test(l)),
          [],
        );
      } finally {
        await page?.close();
      }
    },
  );
});
