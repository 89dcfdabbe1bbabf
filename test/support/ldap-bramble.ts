/**
 * bramble with its LDAP plugin serving the LDAP lab's server address (test/support/ldap-lab.ts):
 * the GraphQL API on 127.0.0.1 (as an admin would use it), the LDAP listeners on 389 and 636
 * inside the lab's server namespace (test/support/tcp-listen.ts), its own CA under the plugin's data
 * folder. Real clients then run from the lab's Pi namespace.
 */
import * as path from 'node:path';
import { ReadModelQueries } from '../../src/core/projections/read-model-queries';
import { Directory } from '../../src/plugins/ldap/ldap.directory';
import { createLdapPlugin, type LdapPluginOptions } from '../../src/plugins/ldap/ldap.plugin';
import type { Logger } from '../../src/core/plugin-api';
import { startHarness, type Harness } from './app-harness';
import type { LdapLab } from './ldap-lab';
import { listenInNamespace } from './tcp-listen';

export const BASE_DN = 'dc=bramble,dc=local';

export interface LdapBramble {
  harness: Harness;
  /** bramble's CA certificate: what a Pi image installs. */
  caFile: string;
  uri: string;
  ldapsUri: string;
  /** GraphQL as the admin; fails the test on any error. */
  ok<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<T>;
  createUser(username: string, password: string, options?: { fullName?: string; groups?: string[] }): Promise<void>;
  close(): Promise<void>;
}

export async function startLdapBramble(
  lab: LdapLab,
  options: { plugin?: LdapPluginOptions; logger?: Logger; env?: Record<string, string> } = {},
): Promise<LdapBramble> {
  const plugin = createLdapPlugin({ listen: listenInNamespace(lab.netlab, lab.serverHost), ...options.plugin });
  const harness = await startHarness({
    env: { BRAMBLE_SERVER_IP: lab.serverIp, ...options.env },
    plugins: [plugin],
    logger: options.logger,
  });
  const caFile = path.join(harness.dataDir, 'plugins', 'ldap', 'tls', 'ca.crt');
  const uri = `ldap://${lab.serverIp}/`;
  try {
    await lab.waitForLdap(uri, { timeoutMs: 10_000 });
  } catch (error) {
    await harness.close();
    throw error;
  }
  const ok: LdapBramble['ok'] = (query, variables) => harness.ok(query, variables);
  return {
    harness,
    caFile,
    uri,
    ldapsUri: `ldaps://${lab.serverIp}/`,
    ok,
    async createUser(username, password, o = {}) {
      await ok('mutation ($input: CreateUserInput!) { createUser(input: $input) { username } }', {
        input: { username, password, fullName: o.fullName ?? null, groups: o.groups ?? null },
      });
    },
    close: () => harness.close(),
  };
}

/**
 * A Directory with the entries bramble's LDAP plugin serves now, for its LDIF export (`toLdif`).
 * The plugin's own Directory lives inside the plugin and nothing outside should reach it; this one
 * is built the way the plugin builds its own (ldap.plugin.ts buildDirectory) from the same records:
 * the plugin's `ctx.views` are the core's read models, which ReadModelQueries reads too. It takes the
 * plugin's default settings (base DN, /home, /bin/bash, anonymous read): a test that changes them must
 * not use this. `createdAt` gives the base and OU entries, which no record describes, a fixed time.
 */
export function directoryLikeThePlugin(bramble: LdapBramble, options: { createdAt?: string } = {}): Directory {
  const queries = bramble.harness.app.nest.get(ReadModelQueries);
  const directory = new Directory({ baseDn: BASE_DN, anonymousRead: true, createdAt: options.createdAt });
  for (const user of queries.users()) directory.setUser(user);
  for (const group of queries.groups()) directory.setGroup(group);
  return directory;
}
