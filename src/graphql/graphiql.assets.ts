/**
 * GraphiQL, offline: every script and style is read from the installed `graphiql`, `react`,
 * `react-dom` and `scheduler` packages (located with require.resolve at run time), never from a
 * CDN. No bundler is involved:
 *
 * - React 19 ships no browser build, only CommonJS files. `react.js` wraps those files, as they
 *   are, in a tiny CommonJS loader and exposes the globals GraphiQL's UMD build expects
 *   (`React`, and `ReactDOM` with `createRoot` from react-dom/client).
 * - GraphiQL 4.1.2's UMD build (`graphiql.min.js`) carries a copy of React 18's JSX runtime,
 *   whose elements React 19 refuses. `graphiql.js` is that file with the copy replaced by
 *   React 19's own `react/jsx-runtime`; the patch is checked (it must apply exactly once) so a
 *   different GraphiQL version fails loudly here instead of rendering a blank page. The rest of
 *   the UMD build (including graphql-ws, for subscriptions) is served unchanged.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export interface GraphiqlAsset {
  contentType: string;
  body: string;
}

export class GraphiqlAssetError extends Error {
  constructor(message: string) {
    super(`graphiql: ${message}`);
    this.name = 'GraphiqlAssetError';
  }
}

/**
 * A file of an installed package, found through its package.json (which every package here
 * exports). `from` is the package that depends on it: scheduler is react-dom's dependency, not ours.
 */
function packageFile(pkg: string, file: string, from?: string): string {
  const paths = from ? [path.dirname(require.resolve(`${from}/package.json`))] : undefined;
  const dir = path.dirname(require.resolve(`${pkg}/package.json`, paths ? { paths } : undefined));
  return readFileSync(path.join(dir, file), 'utf8');
}

/** CommonJS modules bundled into react.js: module id → [package, file, depended on by]. Order does not matter. */
const REACT_MODULES: ReadonlyArray<[string, string, string, string?]> = [
  ['react', 'react', 'cjs/react.production.js'],
  ['react/jsx-runtime', 'react', 'cjs/react-jsx-runtime.production.js'],
  ['scheduler', 'scheduler', 'cjs/scheduler.production.js', 'react-dom'],
  ['react-dom', 'react-dom', 'cjs/react-dom.production.js'],
  ['react-dom/client', 'react-dom', 'cjs/react-dom-client.production.js'],
];

export function buildReactScript(): string {
  const parts = [
    "/* React 19 for GraphiQL: the packages' CommonJS production files in a minimal loader. */",
    '(function () {',
    '"use strict";',
    'var definitions = {}, cache = {};',
    'var process = { env: { NODE_ENV: "production" } };',
    'function define(id, factory) { definitions[id] = factory; }',
    'function require(id) {',
    '  if (cache[id]) return cache[id].exports;',
    '  var factory = definitions[id];',
    '  if (!factory) throw new Error("bramble graphiql: module not bundled: " + id);',
    '  var module = { exports: {} };',
    '  cache[id] = module;',
    '  factory.call(module.exports, module, module.exports, require, process);',
    '  return module.exports;',
    '}',
  ];
  for (const [id, pkg, file, from] of REACT_MODULES) {
    parts.push(`define(${JSON.stringify(id)}, function (module, exports, require, process) {`, packageFile(pkg, file, from), '});');
  }
  parts.push(
    'window.React = require("react");',
    'window.ReactDOM = Object.assign({}, require("react-dom"), require("react-dom/client"));',
    'window.__brambleJsxRuntime = require("react/jsx-runtime");',
    '})();',
  );
  return parts.join('\n');
}

/**
 * The bundled React 18 JSX runtime, as the minifier left it:
 * `X.exports=function(){if(a)return u;a=1;var t=e,n=Symbol.for("react.element"),...;return u.Fragment=r,u.jsx=l,u.jsxs=l,u}()`.
 */
const BUNDLED_JSX_RUNTIME =
  /([\w$]+)\.exports=function\(\)\{if\(([\w$]+)\)return ([\w$]+);\2=1;var [\w$]+=[\w$]+,[\w$]+=Symbol\.for\("react\.element"\)[\s\S]*?return \3\.Fragment=[\w$]+,\3\.jsx=[\w$]+,\3\.jsxs=[\w$]+,\3\}\(\)/g;

export function patchGraphiqlUmd(source: string): string {
  const matches = source.match(BUNDLED_JSX_RUNTIME) ?? [];
  if (matches.length !== 1) {
    throw new GraphiqlAssetError(`expected GraphiQL's UMD build to bundle one React 18 JSX runtime, found ${matches.length}`);
  }
  const patched = source.replace(BUNDLED_JSX_RUNTIME, '$1.exports=globalThis.__brambleJsxRuntime');
  if (patched.includes('Symbol.for("react.element")')) {
    throw new GraphiqlAssetError("GraphiQL's UMD build still creates React 18 elements after the patch");
  }
  return patched;
}

export function buildGraphiqlScript(): string {
  return patchGraphiqlUmd(packageFile('graphiql', 'graphiql.min.js').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'));
}

/** The page's own script: a fetcher for HTTP and graphql-ws on /graphql, headers editor open. */
export const APP_SCRIPT = `(function () {
  "use strict";
  var http = new URL("/graphql", window.location.href).toString();
  var ws = http.replace(/^http/, "ws");
  var fetcher = GraphiQL.createFetcher({ url: http, subscriptionUrl: ws });
  var headers = JSON.stringify({ Authorization: "Bearer PASTE-YOUR-TOKEN-HERE" }, null, 2);
  var query = [
    "# bramble's GraphQL API. Every operation but \`health\` needs a token: put it in the",
    "# Authorization header below (the first admin token is in <data dir>/admin-token),",
    "# then re-fetch the schema (Shift-Ctrl-R) for completion and docs.",
    "#",
    "# Live events: subscription { events { type stream position metadata { actor } } }",
    "",
    "{",
    "  health { status }",
    "  clients { mac status name imageId }",
    "}",
    ""
  ].join("\\n");
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultQuery: query,
    defaultHeaders: headers,
    isHeadersEditorEnabled: true,
    defaultEditorToolsVisibility: "headers"
  }));
})();
`;

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bramble · GraphiQL</title>
<link rel="stylesheet" href="/graphiql/assets/graphiql.css">
<style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="/graphiql/assets/react.js"></script>
<script src="/graphiql/assets/graphiql.js"></script>
<script src="/graphiql/assets/app.js"></script>
</body>
</html>
`;

const JS = 'application/javascript; charset=utf-8';

/** Asset name → how to build it. Built on first use, then kept in memory. */
const BUILDERS: Record<string, () => GraphiqlAsset> = {
  'react.js': () => ({ contentType: JS, body: buildReactScript() }),
  'graphiql.js': () => ({ contentType: JS, body: buildGraphiqlScript() }),
  'graphiql.css': () => ({ contentType: 'text/css; charset=utf-8', body: packageFile('graphiql', 'dist/style.css') }),
  'app.js': () => ({ contentType: JS, body: APP_SCRIPT }),
};

export const GRAPHIQL_ASSET_NAMES = Object.keys(BUILDERS);

export class GraphiqlAssets {
  private readonly built = new Map<string, GraphiqlAsset>();

  /** The asset, or null for an unknown name. Throws GraphiqlAssetError when a package file is unusable. */
  get(name: string): GraphiqlAsset | null {
    if (!Object.prototype.hasOwnProperty.call(BUILDERS, name)) return null;
    let asset = this.built.get(name);
    if (!asset) {
      asset = BUILDERS[name]();
      this.built.set(name, asset);
    }
    return asset;
  }
}
