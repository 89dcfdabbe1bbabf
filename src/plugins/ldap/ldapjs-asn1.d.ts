/**
 * Types for @ldapjs/asn1 2.0.0, which ships none: the BerReader and BerWriter members the LDAP codec
 * uses, typed as the library's source (lib/ber/reader.js, writer.js) behaves. ldap.codec.ts lists
 * the library's defects it works around.
 */
declare module '@ldapjs/asn1' {
  export class BerReader {
    constructor(buffer: Buffer);
    /** Content length of the element whose length was read last (negative for 4-byte lengths ≥ 2^31). */
    readonly length: number;
    readonly offset: number;
    readBoolean(tag?: number): boolean;
    readEnumeration(): number;
    readInt(tag?: number): number;
    /** The offset of the content after the length at `offset`, null when the bytes run out; throws a plain Error on indefinite or >4-byte forms. */
    readLength(offset?: number): number | null;
    setOffset(position: number): void;
  }

  export class BerWriter {
    constructor(options?: { size?: number; growthFactor?: number });
    /** A view of the bytes written so far. */
    readonly buffer: Buffer;
    startSequence(tag?: number): void;
    endSequence(): void;
    writeBoolean(value: boolean, tag?: number): void;
    writeBuffer(buffer: Buffer, tag: number): void;
    writeByte(byte: number): void;
    writeEnumeration(value: number, tag?: number): void;
    writeInt(value: number, tag?: number): void;
    writeString(value: string, tag?: number): void;
  }
}
