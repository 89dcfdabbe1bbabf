/**
 * DATA, not code: what identifies a Raspberry Pi on the wire. New MAC prefixes and board types appear
 * every few years; add a row here, nothing else changes.
 *
 * Sources: docs/pi-netboot-protocol.md §1 (MAC prefixes), the Raspberry Pi "revision codes"
 * documentation (board types), and the bootloader documentation of DHCP_OPTION97 (FourCCs).
 */

export interface PiOuiEntry {
  /** First three bytes of the MAC, lower case, `:` separated. */
  readonly prefix: string;
  /** Model names (same vocabulary as PI_BOARD_TYPES) that ship with this prefix. */
  readonly models: readonly string[];
}

/** Raspberry Pi MAC prefixes (OUIs) and the boards they belong to. */
export const PI_OUIS: readonly PiOuiEntry[] = [
  { prefix: 'b8:27:eb', models: ['RPi1', 'RPi2', 'RPi3'] },
  { prefix: 'dc:a6:32', models: ['RPi4', 'RPi400', 'CM4'] },
  { prefix: 'e4:5f:01', models: ['RPi4', 'RPi400', 'CM4'] },
  { prefix: '28:cd:c1', models: ['RPi4', 'CM4', 'RPi5'] },
  { prefix: 'd8:3a:dd', models: ['RPi4', 'CM4', 'RPi5'] },
  { prefix: '2c:cf:67', models: ['RPi5', 'CM5'] },
];

/**
 * Board type of a new-style revision code (bits 4–11; new style when bit 23 is set), for the
 * boards whose EEPROM bootloader sends the option 97 GUID (BCM2711 and BCM2712 families).
 */
export const PI_BOARD_TYPES: Readonly<Record<number, string>> = {
  0x11: 'RPi4', // Pi 4 Model B
  0x13: 'RPi400',
  0x14: 'CM4',
  0x15: 'CM4S',
  0x17: 'RPi5',
  0x18: 'CM5',
  0x19: 'RPi500',
  0x1a: 'CM5Lite',
};

/**
 * FourCCs at the start of option 97's GUID (after its type byte 0), as they appear on the wire.
 * Documented as the little-endian 32-bit value 0x34695052 for the Pi 4: bytes 52 50 69 34 = "RPi4".
 */
export const PI_GUID_FOURCCS: readonly string[] = ['RPi4', 'RPi5'];
