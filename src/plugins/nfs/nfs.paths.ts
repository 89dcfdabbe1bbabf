/**
 * Which paths and names may reach a configuration file. Paths come from events (an image registered
 * by an admin, a version made by a job) and names from the directory; both end up inside
 * nfs-ganesha's config (a quoted string in a block language) or /etc/exports (whitespace separated,
 * with its own quoting). Rather than escape for two parsers, a path either has only characters both
 * take literally (printable ASCII without quotes, backslashes, braces, `;`, `#`, `*`, `?`, `[`, `]`,
 * `(`, `)`, `$`, backtick and `!`; spaces allowed) or is refused with a reason for health. Neither
 * parser is documented for non-ASCII bytes, so they are refused too.
 */

/** Longest path written (exportfs' NFS_MAXPATHLEN is 1024). */
export const MAX_EXPORT_PATH = 1024;

const FORBIDDEN = /["'\\{};#*?[\]()$`!]/;

/** Why `p` cannot be exported, or null when it can. */
export function pathProblem(p: string): string | null {
  if (typeof p !== 'string' || p.length === 0) return 'empty path';
  if (!p.startsWith('/')) return 'not an absolute path';
  if (p.length > MAX_EXPORT_PATH) return `longer than ${MAX_EXPORT_PATH} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(p)) return 'contains a control character (newline, tab...)';
  if (/[^\x20-\x7e]/.test(p)) return 'contains a non-ASCII character';
  const bad = FORBIDDEN.exec(p);
  if (bad) return `contains ${JSON.stringify(bad[0])}, which an exports or ganesha config cannot carry safely`;
  if (p !== '/' && p.split('/').some((part, i) => i > 0 && (part === '' || part === '.' || part === '..'))) {
    return 'not a normal path (empty, . or .. component)';
  }
  if (p === '/') return 'the whole file system is never exported';
  return null;
}

/** Usernames a home folder is made for (the core's rule, checked again: the name becomes a path). */
const USERNAME = /^[a-z_][a-z0-9_.-]{0,31}$/;

export function usernameProblem(name: string): string | null {
  return USERNAME.test(name) ? null : 'not a valid user name for a home folder';
}
