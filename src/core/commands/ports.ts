/**
 * What the command side needs from the outside world, as ports: the deciders and `evolve` stay pure
 * (no clock, no file system, no crypto) and handlers call these before they decide.
 * Adapters: src/core/adapters.
 */

/** Turns a plaintext password into the stored `{CRYPT}` hash (validated first; the plaintext never reaches an event). */
export interface PasswordHasher {
  hash(plain: string): Promise<string>;
}

/** An OS image tree on disk: its resolved root and boot folder. */
export interface ImageTree {
  /** The root tree, symlinks resolved. */
  path: string;
  /** `<path>/boot/firmware` (Bookworm and later) or else `<path>/boot`. */
  bootPath: string;
}

/** Checks that a path holds an OS image tree (throws IMAGE_INVALID naming the problem). */
export interface ImageTreeInspector {
  locate(path: string): ImageTree;
}

export const PASSWORD_HASHER = Symbol('PASSWORD_HASHER');
export const IMAGE_TREE_INSPECTOR = Symbol('IMAGE_TREE_INSPECTOR');
