/**
 * The LDAP plugin's settings (schema: defaults and a description per key, validated by bramble
 * before they are stored) and the config the server reads, built once per change.
 */
import { Type, type PluginContext, type Static } from '../../core/plugin-api';

export const LdapSettingsSchema = Type.Object(
  {
    baseDn: Type.String({
      minLength: 3,
      maxLength: 256,
      pattern: '^[A-Za-z][A-Za-z0-9-]*=[^,]+(,[A-Za-z][A-Za-z0-9-]*=[^,]+)*$',
      default: 'dc=bramble,dc=local',
      description:
        'Base DN of the directory: users are uid=<name>,ou=people,<base>, groups cn=<name>,ou=groups,<base>. A Pi image names it in nslcd.conf (base).',
    }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 389, description: 'TCP port of plain LDAP with StartTLS.' }),
    ldapsPort: Type.Integer({ minimum: 1, maximum: 65535, default: 636, description: 'TCP port of LDAP over TLS (ldaps://).' }),
    anonymousRead: Type.Boolean({
      default: true,
      description:
        "Whether a client that has not bound may search (users and groups, never passwords). nslcd's default: it looks users up anonymously and binds only to check a password.",
    }),
    requireTlsForPasswords: Type.Boolean({
      default: true,
      description:
        'Refuse a password bind on a connection without TLS (confidentialityRequired, 13): the password would cross the network in clear. Pi images use StartTLS.',
    }),
    homeRoot: Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: '^/',
      default: '/home',
      description: 'Folder of the home folders on the Pis: a user gets homeDirectory <homeRoot>/<username>.',
    }),
    loginShell: Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: '^/',
      default: '/bin/bash',
      description: 'loginShell of every user.',
    }),
    maxSizeLimit: Type.Integer({
      minimum: 1,
      maximum: 100000,
      default: 5000,
      description: 'Most entries one search returns (without paging); a larger result ends with sizeLimitExceeded (4).',
    }),
    maxConnections: Type.Integer({ minimum: 1, maximum: 65536, default: 4096, description: 'Open connections, all clients together.' }),
    maxConnectionsPerAddress: Type.Integer({
      minimum: 1,
      maximum: 4096,
      default: 64,
      description: 'Open connections from one address (nslcd keeps a few per Pi).',
    }),
    idleTimeoutSeconds: Type.Integer({
      minimum: 0,
      maximum: 86400,
      default: 900,
      description: 'A connection with no request for this long is closed (nslcd reconnects); 0 keeps idle connections open.',
    }),
    certificateNames: Type.Array(Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.-]+$' }), {
      maxItems: 16,
      default: [],
      description:
        "Host names the server certificate also covers, besides the server's address (a Pi's nslcd.conf may name the server by one of these).",
    }),
  },
  { additionalProperties: false },
);

export type LdapSettings = Static<typeof LdapSettingsSchema>;

/** What the LDAP plugin's code gets from the host. */
export type LdapContext = PluginContext<Record<never, never>, typeof LdapSettingsSchema>;

/** Most bytes of one LDAP message a client may send: the requests served here are small. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
