/** The Pi emulator's library API (see README.md). */
export { bootPis, type BootPisOptions, type EmulatedPi, type PiResult, type TimelineEntry } from './emulator';
export { PiBootMachine, type Effect, type Input, type PiConfig, type Stage, type TftpOutcome } from './boot.machine';
export { PROFILES, PI_MODELS, clientGuid, serialHex, type PiModel, type PrefixMode } from './profiles';
export { formatEntry, formatSummary } from './timeline';
