/**
 * The NFS plugin's settings (schema: defaults and a description per key, validated by bramble
 * before they are stored) and their cross-field checks.
 */
import { Nullable, Type, type PluginContext, type SettingsProblem, type Static } from '../../core/plugin-api';

export const NfsSettingsSchema = Type.Object(
  {
    backend: Type.Union([Type.Literal('ganesha'), Type.Literal('kernel')], {
      default: 'ganesha',
      description:
        "Which NFS server serves the exports: 'ganesha' (bramble writes nfs-ganesha's configuration into its data folder and supervises ganesha.nfsd) or 'kernel' (bramble writes exportsFile and runs exportfs -ra; the host's nfs-kernel-server must be running).",
    }),
    versions: Type.Array(Type.Union([Type.Literal(3), Type.Literal(4)]), {
      minItems: 1,
      maxItems: 2,
      uniqueItems: true,
      default: [3, 4],
      description: 'NFS versions served: 3 (what nfsroot=...,vers=3 mounts) and 4 (4.0, 4.1 and 4.2).',
    }),
    homesPath: Type.String({
      minLength: 2,
      maxLength: 255,
      pattern: '^/',
      default: '/srv/bramble/homes',
      description:
        "Folder of the users' home folders (<homesPath>/<username>), exported read-write to approved clients and mounted on /home by converted images. Outside bramble's data folder on purpose: user files outlive a reset of bramble's state and are backed up on their own.",
    }),
    homesArchivePath: Nullable(Type.String({ minLength: 2, maxLength: 255, pattern: '^/' }), {
      default: null,
      description:
        "Where a deleted user's home folder is moved, as <username>-<timestamp> (never deleted). Default: <homesPath>.archive, beside homesPath so it is on the same file system (a rename) and not exported.",
    }),
    clientSubnet: Nullable(Type.String({ pattern: '^(\\d{1,3}\\.){3}\\d{1,3}/\\d{1,2}$' }), {
      default: null,
      description:
        "When set (CIDR, e.g. 10.0.0.0/24), image roots are exported read-only to this whole subnet instead of only to approved clients' addresses. The homes export never follows it: it is read-write and trusts the client's uid (AUTH_SYS).",
    }),
    exportsFile: Type.String({
      minLength: 2,
      maxLength: 255,
      pattern: '^/',
      default: '/etc/exports.d/bramble.exports',
      description: "The kernel backend's exports file, owned by bramble (rewritten whole at each change).",
    }),
  },
  { additionalProperties: false },
);

export type NfsSettings = Static<typeof NfsSettingsSchema>;

/** What the NFS plugin's code gets from the host. */
export type NfsContext = PluginContext<Record<never, never>, typeof NfsSettingsSchema>;

/** The archive folder in effect. */
export function archivePathOf(s: NfsSettings): string {
  return s.homesArchivePath ?? `${s.homesPath.replace(/\/+$/, '')}.archive`;
}

/** Cross-field checks (bramble runs them before storing a change). */
export function checkNfsSettings(s: NfsSettings): SettingsProblem[] {
  const problems: SettingsProblem[] = [];
  if (s.clientSubnet !== null) {
    const [ip, bits] = s.clientSubnet.split('/');
    if (!ip.split('.').every((o) => Number(o) <= 255) || Number(bits) > 32) {
      problems.push({ field: 'clientSubnet', message: 'not an IPv4 CIDR (a.b.c.d/n, n ≤ 32)' });
    }
  }
  const homes = s.homesPath.replace(/\/+$/, '');
  const archive = archivePathOf(s).replace(/\/+$/, '');
  if (archive === homes || archive.startsWith(`${homes}/`)) {
    problems.push({ field: 'homesArchivePath', message: 'must not be homesPath or inside it (it would be exported with the homes)' });
  }
  return problems;
}
