/**
 * plugin/ldap — one set of accounts for every Pi: bramble's users and groups served as an LDAP
 * directory (what nslcd, sssd and pam_ldap on a Pi ask), with bramble's own CA for TLS.
 *
 * Setup (this file): settings, the directory kept in step with the core's user and group views,
 * the certificates, the listeners, the login facts, health. Per connection: ldap.server.ts (I/O)
 * with ldap.codec.ts and ldap.session.ts (pure). Per search: ldap.directory.ts with ldap.filter.ts
 * and ldap.schema.ts (pure).
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { definePlugin, type GlobalSettings, type PluginFactory, type PluginHealth } from '../../core/plugin-api';
import { LdapSettingsSchema, type LdapContext, type LdapSettings } from './ldap.config';
import { Directory } from './ldap.directory';
import { LdapServer, type LdapMetrics, type Listen } from './ldap.server';
import type { SessionDirectory } from './ldap.session';
import { ensureLdapCertificates, type LdapCertificates } from './ldap.tls';
import { ldapFindings, LdapNotes } from './ldap.diagnose';

/** Where a converted image keeps bramble's CA (nslcd.conf's tls_cacertfile; see the README). */
export const IMAGE_CA_PATH = '/etc/ssl/certs/bramble-ca.crt';

export interface LdapPluginOptions {
  /** How the listeners are bound; tests bind them inside a network namespace. */
  listen?: Listen;
  now?: () => number;
  /** Tests shorten the partial-message and TLS-handshake timeouts (ldap.server.ts). */
  timeouts?: { partialMessageMs?: number; tlsHandshakeMs?: number };
}

/** A user's login from one address is reported at most this often (pam_ldap binds on every check). */
export const LOGIN_FACT_EVERY_MS = 60_000;

function metricsOf(ctx: LdapContext): LdapMetrics {
  const m = ctx.metrics;
  return {
    connections: m.gauge('connections', 'Open LDAP connections'),
    connectionsRefused: m.counter('connections_refused_total', 'Connections refused at accept, by reason (total, per-address)', ['reason']),
    operations: m.counter('operations_total', 'LDAP requests handled, by operation', ['op']),
    binds: m.counter('binds_total', 'Password binds by result (success, invalid, delayed, busy)', ['result']),
    bindWait: m.histogram(
      'bind_seconds',
      'Time from a password bind to its answer (throttle wait and bcrypt)',
      [],
      [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 60],
    ),
    malformed: m.counter('malformed_total', 'Connections closed for a bad message or behaviour, by reason', ['reason']),
    tlsFailures: m.counter('tls_failures_total', 'TLS handshakes that failed, by reason', ['reason']),
    searchEntries: m.counter('search_entries_total', 'Entries returned by searches'),
  };
}

export function createLdapPlugin(options: LdapPluginOptions = {}): PluginFactory {
  return () => {
    let ctx: LdapContext | null = null;
    let metrics: LdapMetrics | null = null;
    let server: LdapServer | null = null;
    let directory: Directory | null = null;
    let directoryShape = '';
    let bound: { serverIp: string; port: number; ldapsPort: number; names: string } | null = null;
    let certificates: LdapCertificates | null = null;
    let problem: string | null = null;
    const unsubscribers: (() => void)[] = [];
    const lastLoginFact = new Map<string, number>();
    const notes = new LdapNotes();
    const now = options.now ?? (() => Date.now());

    function buildDirectory(c: LdapContext, s: LdapSettings): Directory {
      const d = new Directory({ baseDn: s.baseDn, homeRoot: s.homeRoot, loginShell: s.loginShell, anonymousRead: s.anonymousRead });
      for (const u of c.views.users.list()) d.setUser(u);
      for (const g of c.views.groups.list()) d.setGroup(g);
      return d;
    }

    const sessionDirectory: SessionDirectory = {
      userOfDn: (dn) => {
        const user = directory?.findUserByDn(dn) ?? null;
        return user ? { username: user.username, dn: directory!.dnOfUser(user.username) } : null;
      },
      search: (request, who, paged) => directory!.search(request, who, { maxSizeLimit: ctx!.settings().maxSizeLimit, paged }),
    };

    function onLogin(username: string, address: string): void {
      notes.loggedIn(address, now());
      const c = ctx;
      if (!c) return;
      const client = c.views.clients.byIp(address);
      if (!client) return;
      const key = `${client.mac} ${username}`;
      const t = now();
      if (t - (lastLoginFact.get(key) ?? -Infinity) < LOGIN_FACT_EVERY_MS) return;
      lastLoginFact.set(key, t);
      if (lastLoginFact.size > 10_000) lastLoginFact.delete(lastLoginFact.keys().next().value as string);
      c.commands
        .reportBootFact({ mac: client.mac, stage: 'ldap.user-logged-in', ip: address, detail: { username } })
        .catch((error: Error) => c.logger.warn('could not record a login', { error: error.message }));
    }

    async function apply(settings: LdapSettings, global: GlobalSettings): Promise<void> {
      const c = ctx!;
      // The entries depend on these; a change rebuilds the directory from the views (and makes
      // paged-results cookies of earlier searches stale: the client starts again).
      const shape = JSON.stringify([settings.baseDn, settings.homeRoot, settings.loginShell, settings.anonymousRead]);
      if (!directory || shape !== directoryShape) {
        directory = buildDirectory(c, settings);
        directoryShape = shape;
      }
      const serverIp = c.serverAddress(global);
      if (!serverIp) {
        await server?.close();
        server = null;
        bound = null;
        problem =
          'no server address: set BRAMBLE_INTERFACE or BRAMBLE_SERVER_IP (bramble never serves its directory on every interface by default)';
        c.logger.warn(problem);
        return;
      }
      const names = JSON.stringify(settings.certificateNames);
      let renewed = false;
      if (!certificates || !bound || bound.serverIp !== serverIp || bound.names !== names) {
        renewed = true;
        certificates = await ensureLdapCertificates({
          dir: path.join(c.runtime.dataDir, 'tls'),
          hostnames: settings.certificateNames,
          ipAddresses: [serverIp],
          logger: c.logger,
        });
      }
      if (server && bound && bound.serverIp === serverIp && bound.port === settings.port && bound.ldapsPort === settings.ldapsPort) {
        // The settings are the server's limits (LdapSettings has every LdapServerLimits field).
        server.limits = settings;
        if (renewed) server.setCertificate(certificates);
      } else {
        await server?.close();
        server = null;
        bound = null;
        const next = new LdapServer(
          {
            logger: c.logger,
            directory: sessionDirectory,
            verifyPassword: (u, p) => c.credentials.verifyUserPassword(u, p),
            onLogin,
            onBindFailed: (address) => notes.bindFailed(address, now()),
            onTlsFailure: (address, reason) => notes.tlsFailed(address, reason, now()),
            metrics: metrics!,
            now,
            timeouts: options.timeouts,
          },
          settings,
        );
        next.setCertificate(certificates);
        try {
          await next.listen(serverIp, settings.port, settings.ldapsPort, options.listen);
        } catch (error) {
          await next.close();
          throw error;
        }
        server = next;
        c.logger.info('serving LDAP', { serverIp, port: settings.port, ldapsPort: settings.ldapsPort, baseDn: settings.baseDn });
      }
      bound = { serverIp, port: settings.port, ldapsPort: settings.ldapsPort, names };
      problem = null;
    }

    return definePlugin({
      name: 'ldap',
      description:
        "Serves bramble's users and groups to every Pi as an LDAP directory (nslcd, sssd, pam_ldap), over StartTLS and LDAPS with bramble's own CA.",
      settings: LdapSettingsSchema,
      async start(context) {
        ctx = context;
        metrics = metricsOf(context);
        unsubscribers.push(
          context.views.users.onChange((change) => {
            if (change.record) directory?.setUser(change.record);
            else directory?.removeUser(change.key);
          }),
          context.views.groups.onChange((change) => {
            if (change.record) directory?.setGroup(change.record);
            else directory?.removeGroup(change.key);
          }),
        );
        try {
          await apply(context.settings(), context.global());
        } catch (error) {
          problem = (error as Error).message;
          throw error;
        }
        // What a converted image needs to log users in against this directory (nslcd.conf, the CA).
        unsubscribers.push(
          context.diagnostics.provide(({ client }) =>
            ldapFindings(client?.ip ? notes.get(client.ip, now()) : null, client?.ip ?? null, now()),
          ),
          context.images.provideConversion(async () => {
            if (!certificates || !bound) return null;
            const settings = context.settings();
            return {
              ldap: {
                host: bound.serverIp,
                port: bound.port,
                baseDn: settings.baseDn,
                startTls: true,
                caCertificatePem: await readFile(certificates.caCertPath, 'utf8'),
                caPath: IMAGE_CA_PATH,
              },
            };
          }),
          context.onSettingsChanged((settings, global) =>
            apply(settings, global).catch((error: Error) => {
              problem = error.message;
              context.logger.error('could not apply new LDAP settings', { error: error.message });
            }),
          ),
        );
      },
      async stop() {
        for (const u of unsubscribers.splice(0)) u();
        await server?.close();
        server = null;
      },
      health(): PluginHealth {
        const checks: PluginHealth['checks'] = {
          serverIp: bound?.serverIp ?? null,
          port: bound?.port ?? null,
          ldapsPort: bound?.ldapsPort ?? null,
          connections: server?.connectionCount ?? 0,
          entries: directory?.entryCount ?? 0,
          caCertificate: certificates?.caCertPath ?? null,
          caFingerprintSha256: certificates?.caFingerprintSha256 ?? null,
        };
        if (!server) return { status: 'down', detail: problem ?? 'not listening', checks };
        if (problem) return { status: 'degraded', detail: problem, checks };
        return { status: 'up', checks };
      },
    });
  };
}
