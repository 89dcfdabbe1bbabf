/**
 * The part of @ldapjs/dn (which ships no types) that ldap.matching.ts uses: parsing an RFC 4514 DN
 * string into RDNs. Values written `#hex` come back as a BER reader instead of a string.
 */
declare module '@ldapjs/dn' {
  export interface BerReaderLike {
    readonly buffer: Buffer;
  }

  export class RDN {
    keys(): IterableIterator<string>;
    getValue(name: string): string | BerReaderLike | undefined;
  }

  export class DN {
    /** Throws when the string is not a DN. */
    static fromString(dn: string): DN;
    readonly length: number;
    rdnAt(index: number): RDN;
  }
}
