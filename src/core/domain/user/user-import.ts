import { readCsvRows, rowResult, type CsvRowError } from '../client/client-import';
import { DomainError, ErrorCode } from '../shared/domain-error';
import { validatePassword } from './password';
import { normalizeFullName, normalizeGroupList, validateNewUsername } from './user.decider';

export type UserImportRow =
  | {
      line: number;
      ok: true;
      username: string;
      /** Plaintext, for the handler to hash: never log or store this row. */
      password: string;
      /** null when the column is empty or absent. */
      fullName: string | null;
      groups: string[];
    }
  | CsvRowError;

/**
 * Parses a list of users to create: `username,password[,fullName[,groups]]` per line, groups
 * separated by `;` or whitespace inside their field. Same file rules as the client import
 * (RFC 4180 quoting, optional header whose first cell is `username`, blank and `#` lines
 * skipped); each row is checked on its own and a row error never quotes the password.
 * The password is taken as written, spaces included. A username already listed on an earlier
 * line is an error, and so is a username or group the Pi's OS already has (reserved-names.ts).
 * Whether a user or group exists is for the command handler to check.
 */
export function parseUsersCsv(csv: string): UserImportRow[] {
  const seen = new Map<string, number>();
  // The password (column 1) is taken exactly as written: spaces around it are part of it.
  return readCsvRows(csv, 'username', [1]).map((row): UserImportRow => {
    if (!row.ok) return row;
    const { line, cells } = row;
    return rowResult(line, () => {
      if (cells.slice(4).some((cell) => cell !== '')) {
        throw new DomainError(ErrorCode.VALIDATION, 'row: too many columns (expected username,password,fullName,groups)', 'row');
      }
      const username = cells[0];
      validateNewUsername(username);
      const password = cells[1] ?? '';
      validatePassword(password);
      const fullName = cells[2] ? normalizeFullName(cells[2]) : null;
      const groups = normalizeGroupList((cells[3] ?? '').split(/[;\s]+/).filter((g) => g !== ''));
      const earlier = seen.get(username);
      if (earlier !== undefined) {
        throw new DomainError(ErrorCode.VALIDATION, `username: already listed on line ${earlier}`, 'username');
      }
      seen.set(username, line);
      return { line, ok: true as const, username, password, fullName: fullName === '' ? null : fullName, groups };
    });
  });
}
