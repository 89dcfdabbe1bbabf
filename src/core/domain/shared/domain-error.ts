/**
 * Domain errors carry a stable code; the GraphQL layer maps them to `extensions.code` in one
 * place (src/graphql/errors.ts). Codes are part of the API: never rename one.
 */
export const ErrorCode = {
  VALIDATION: 'VALIDATION',
  CLIENT_NOT_FOUND: 'CLIENT_NOT_FOUND',
  CLIENT_EXISTS: 'CLIENT_EXISTS',
  CLIENT_NOT_APPROVED: 'CLIENT_NOT_APPROVED',
  USER_NOT_FOUND: 'USER_NOT_FOUND',
  USER_EXISTS: 'USER_EXISTS',
  USER_DISABLED: 'USER_DISABLED',
  GROUP_NOT_FOUND: 'GROUP_NOT_FOUND',
  GROUP_EXISTS: 'GROUP_EXISTS',
  GROUP_NOT_EMPTY: 'GROUP_NOT_EMPTY',
  IMAGE_NOT_FOUND: 'IMAGE_NOT_FOUND',
  IMAGE_EXISTS: 'IMAGE_EXISTS',
  IMAGE_IN_USE: 'IMAGE_IN_USE',
  IMAGE_INVALID: 'IMAGE_INVALID',
  /** A tool behind an import, export, clone or command failed (the message says which and why). */
  IMAGE_IMPORT_FAILED: 'IMAGE_IMPORT_FAILED',
  /** An image job was cancelled (or bramble stopped): nothing of it was kept. */
  IMAGE_JOB_ABORTED: 'IMAGE_JOB_ABORTED',
  /** The image's architecture needs an emulator (qemu-user-static + binfmt) this server lacks. */
  IMAGE_ARCH_UNSUPPORTED: 'IMAGE_ARCH_UNSUPPORTED',
  IMAGE_VERSION_NOT_FOUND: 'IMAGE_VERSION_NOT_FOUND',
  /** A command run in an image exited non-zero: no version was made. */
  IMAGE_COMMAND_FAILED: 'IMAGE_COMMAND_FAILED',
  /** Another job is changing this image: one at a time. */
  IMAGE_BUSY: 'IMAGE_BUSY',
  SETTING_PINNED: 'SETTING_PINNED',
  TOKEN_EXISTS: 'TOKEN_EXISTS',
  TOKEN_NOT_FOUND: 'TOKEN_NOT_FOUND',
  CONCURRENCY_CONFLICT: 'CONCURRENCY_CONFLICT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  EVENT_STORE_UNAVAILABLE: 'EVENT_STORE_UNAVAILABLE',
  /** An import row not written because the import stopped at an earlier row's store failure. */
  IMPORT_ABORTED: 'IMPORT_ABORTED',
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** For VALIDATION: the offending field (e.g. `username`, `dhcp.rangeStart`). */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** A validation error that names the field: `username: must match ^[a-z_][a-z0-9_.-]{0,31}$`. */
export function validationError(field: string, problem: string): DomainError {
  return new DomainError(ErrorCode.VALIDATION, `${field}: ${problem}`, field);
}
