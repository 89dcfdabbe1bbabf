import { isIpv4 } from '../../plugin-api/net';
import type { Decider, DomainEvent } from '../shared/decider';
import { DomainError, ErrorCode, validationError } from '../shared/domain-error';
import { validateImageId } from '../image/image.decider';
import type {
  ClientAddressLearned,
  ClientApproved,
  ClientBootConfigChanged,
  ClientDetected,
  ClientDetectedData,
  ClientEvent,
  ClientImageAssigned,
  ClientRedetected,
  ClientRejected,
  ClientRemoved,
  ClientRenamed,
} from './client.events';
import { isCanonicalMac, validateClientName } from './mac';

// ---------------------------------------------------------------------------------------------
// Commands. `mac` is normalised by the caller (normalizeMac) and checked again here.

/** An observation: a plugin saw this Pi on the wire (what it saw is what ClientDetected records). */
export type DetectClient = { type: 'DetectClient' } & ClientDetectedData;

export interface LearnClientAddress {
  type: 'LearnClientAddress';
  mac: string;
  ip: string;
}

/** Approves a detected client, or pre-registers one never seen (MAC typed in or imported). */
export interface ApproveClient {
  type: 'ApproveClient';
  mac: string;
  /** null: keep the current name (none for a new client). */
  name: string | null;
  /** null: keep the current image (none for a new client). Existence is checked by the handler. */
  imageId: string | null;
}

export interface RejectClient {
  type: 'RejectClient';
  mac: string;
}

export interface RenameClient {
  type: 'RenameClient';
  mac: string;
  name: string;
}

export interface AssignImage {
  type: 'AssignImage';
  mac: string;
  /** null: no image. Existence is checked by the handler. */
  imageId: string | null;
}

export interface SetClientBootConfig {
  type: 'SetClientBootConfig';
  mac: string;
  /** Extra config.txt lines. */
  configTxt: string;
  /** Extra kernel command line arguments, one line. */
  cmdlineArgs: string;
}

export interface RemoveClient {
  type: 'RemoveClient';
  mac: string;
}

export type ClientCommand =
  DetectClient | LearnClientAddress | ApproveClient | RejectClient | RenameClient | AssignImage | SetClientBootConfig | RemoveClient;

// ---------------------------------------------------------------------------------------------
// State

export interface ClientDetails {
  mac: string;
  name: string | null;
  imageId: string | null;
  serial: string | null;
  model: string | null;
  ip: string | null;
  configTxt: string;
  cmdlineArgs: string;
  /** The boot id of the last detection; a new one means a new boot. */
  lastBootId: string | null;
}

export type PendingClient = ClientDetails & { status: 'pending' };
export type ApprovedClient = ClientDetails & { status: 'approved' };
export type RejectedClient = ClientDetails & { status: 'rejected' };
export type KnownClient = PendingClient | ApprovedClient | RejectedClient;

/** `removed` behaves like `unknown`: the client is forgotten and may come back as new. */
export type ClientState = { status: 'unknown' } | { status: 'removed'; mac: string } | KnownClient;

export function isKnownClient(state: ClientState): state is KnownClient {
  return state.status === 'pending' || state.status === 'approved' || state.status === 'rejected';
}

// ---------------------------------------------------------------------------------------------
// Validation and normalisation

export const CONFIG_TXT_MAX_LENGTH = 16384;
export const CMDLINE_ARGS_MAX_LENGTH = 1024;

function validateMac(mac: string): void {
  if (!isCanonicalMac(mac)) throw validationError('mac', 'must be normalised as aa:bb:cc:dd:ee:ff');
}

function validateIp(ip: string): void {
  if (typeof ip !== 'string' || !isIpv4(ip)) throw validationError('ip', 'not an IPv4 address');
}

/**
 * The serial number names the Pi's TFTP folder, so only hex digits get through (lower case, as
 * the firmware asks for it).
 */
function normalizeSerial(serial: string | null): string | null {
  if (serial === null || serial === undefined) return null;
  const s = String(serial).trim().toLowerCase();
  if (!/^[0-9a-f]{1,32}$/.test(s)) throw validationError('serial', 'must be 1-32 hex digits');
  return s;
}

function normalizeModel(model: string | null): string | null {
  if (model === null || model === undefined) return null;
  const m = String(model).trim();
  if (m.length < 1 || m.length > 64 || /\p{Cc}/u.test(m)) {
    throw validationError('model', 'must be 1-64 characters without control characters');
  }
  return m;
}

/** config.txt: line endings to `\n`, trailing whitespace of the whole text trimmed. */
export function normalizeConfigTxt(configTxt: string): string {
  if (typeof configTxt !== 'string') throw validationError('configTxt', 'must be a string');
  if (configTxt.includes('\0')) throw validationError('configTxt', 'must not contain NUL');
  const text = configTxt.replace(/\r\n?/g, '\n').trimEnd();
  if (text.length > CONFIG_TXT_MAX_LENGTH) {
    throw validationError('configTxt', `must be at most ${CONFIG_TXT_MAX_LENGTH} characters`);
  }
  return text;
}

/** Kernel arguments: one line, surrounding whitespace trimmed. */
export function normalizeCmdlineArgs(cmdlineArgs: string): string {
  if (typeof cmdlineArgs !== 'string') throw validationError('cmdlineArgs', 'must be a string');
  if (/[\r\n]/.test(cmdlineArgs)) throw validationError('cmdlineArgs', 'must be a single line');
  if (cmdlineArgs.includes('\0')) throw validationError('cmdlineArgs', 'must not contain NUL');
  const text = cmdlineArgs.trim();
  if (text.length > CMDLINE_ARGS_MAX_LENGTH) {
    throw validationError('cmdlineArgs', `must be at most ${CMDLINE_ARGS_MAX_LENGTH} characters`);
  }
  return text;
}

function notFound(mac: string): DomainError {
  return new DomainError(ErrorCode.CLIENT_NOT_FOUND, `client ${mac} not found`, 'mac');
}

// ---------------------------------------------------------------------------------------------
// Decide

function decideDetect(command: DetectClient, state: ClientState): ClientEvent[] {
  if (command.ip !== null && command.ip !== undefined) validateIp(command.ip);
  if (typeof command.via !== 'string' || command.via.trim() === '') throw validationError('via', 'must not be empty');
  const data: ClientDetectedData = {
    mac: command.mac,
    serial: normalizeSerial(command.serial),
    model: normalizeModel(command.model),
    ip: command.ip ?? null,
    via: command.via,
    bootId: command.bootId ?? null,
  };
  if (!isKnownClient(state)) {
    const event: ClientDetected = { type: 'ClientDetected', data };
    return [event];
  }
  // At most one detection event per client per boot: the observer names the boot.
  if (data.bootId !== null && data.bootId !== state.lastBootId) {
    const event: ClientRedetected = { type: 'ClientRedetected', data };
    return [event];
  }
  if (data.ip !== null && data.ip !== state.ip) {
    const event: ClientAddressLearned = { type: 'ClientAddressLearned', data: { mac: command.mac, ip: data.ip } };
    return [event];
  }
  return [];
}

function decideApprove(command: ApproveClient, state: ClientState): ClientEvent[] {
  if (command.name !== null && command.name !== undefined) validateClientName(command.name);
  if (command.imageId !== null && command.imageId !== undefined) validateImageId(command.imageId);
  const name = command.name ?? null;
  const imageId = command.imageId ?? null;
  if (!isKnownClient(state)) {
    const event: ClientApproved = {
      type: 'ClientApproved',
      data: { mac: command.mac, name, imageId, preRegistered: true },
    };
    return [event];
  }
  if (state.status !== 'approved') {
    const event: ClientApproved = {
      type: 'ClientApproved',
      data: { mac: command.mac, name: name ?? state.name, imageId: imageId ?? state.imageId, preRegistered: false },
    };
    return [event];
  }
  // Already approved: approving again only applies what is given and different.
  const events: ClientEvent[] = [];
  if (name !== null && name !== state.name) {
    const renamed: ClientRenamed = { type: 'ClientRenamed', data: { mac: command.mac, name } };
    events.push(renamed);
  }
  if (imageId !== null && imageId !== state.imageId) {
    const assigned: ClientImageAssigned = { type: 'ClientImageAssigned', data: { mac: command.mac, imageId } };
    events.push(assigned);
  }
  return events;
}

function decide(command: ClientCommand, state: ClientState): ClientEvent[] {
  validateMac(command.mac);
  switch (command.type) {
    case 'DetectClient':
      return decideDetect(command, state);

    case 'LearnClientAddress': {
      validateIp(command.ip);
      if (!isKnownClient(state)) throw notFound(command.mac);
      if (state.ip === command.ip) return [];
      const event: ClientAddressLearned = { type: 'ClientAddressLearned', data: { mac: command.mac, ip: command.ip } };
      return [event];
    }

    case 'ApproveClient':
      return decideApprove(command, state);

    case 'RejectClient': {
      if (!isKnownClient(state)) throw notFound(command.mac);
      if (state.status === 'rejected') return [];
      const event: ClientRejected = { type: 'ClientRejected', data: { mac: command.mac } };
      return [event];
    }

    case 'RenameClient': {
      validateClientName(command.name);
      if (!isKnownClient(state)) throw notFound(command.mac);
      if (state.name === command.name) return [];
      const event: ClientRenamed = { type: 'ClientRenamed', data: { mac: command.mac, name: command.name } };
      return [event];
    }

    case 'AssignImage': {
      const imageId = command.imageId ?? null;
      if (imageId !== null) validateImageId(imageId);
      if (!isKnownClient(state)) throw notFound(command.mac);
      if (state.imageId === imageId) return [];
      const event: ClientImageAssigned = { type: 'ClientImageAssigned', data: { mac: command.mac, imageId } };
      return [event];
    }

    case 'SetClientBootConfig': {
      const configTxt = normalizeConfigTxt(command.configTxt);
      const cmdlineArgs = normalizeCmdlineArgs(command.cmdlineArgs);
      if (!isKnownClient(state)) throw notFound(command.mac);
      if (state.configTxt === configTxt && state.cmdlineArgs === cmdlineArgs) return [];
      const event: ClientBootConfigChanged = {
        type: 'ClientBootConfigChanged',
        data: { mac: command.mac, configTxt, cmdlineArgs },
      };
      return [event];
    }

    case 'RemoveClient': {
      if (!isKnownClient(state)) throw notFound(command.mac);
      const event: ClientRemoved = { type: 'ClientRemoved', data: { mac: command.mac } };
      return [event];
    }

    default: {
      const unknown: never = command;
      throw validationError('type', `unknown command ${(unknown as { type?: string }).type}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Evolve

function fresh(mac: string): ClientDetails {
  return {
    mac,
    name: null,
    imageId: null,
    serial: null,
    model: null,
    ip: null,
    configTxt: '',
    cmdlineArgs: '',
    lastBootId: null,
  };
}

function seen(details: ClientDetails, data: ClientDetectedData): ClientDetails {
  return {
    ...details,
    serial: data.serial ?? details.serial,
    model: data.model ?? details.model,
    ip: data.ip ?? details.ip,
    lastBootId: data.bootId ?? details.lastBootId,
  };
}

function evolve(state: ClientState, event: ClientEvent | DomainEvent): ClientState {
  const e = event as ClientEvent;
  switch (e.type) {
    case 'ClientDetected':
    case 'ClientRedetected':
      if (!isKnownClient(state)) return { status: 'pending', ...seen(fresh(e.data.mac), e.data) };
      return { ...state, ...seen(state, e.data) };
    case 'ClientAddressLearned':
      return isKnownClient(state) ? { ...state, ip: e.data.ip } : state;
    case 'ClientApproved': {
      const base = isKnownClient(state) ? state : fresh(e.data.mac);
      return { ...base, status: 'approved', name: e.data.name, imageId: e.data.imageId };
    }
    case 'ClientRejected':
      return isKnownClient(state) ? { ...state, status: 'rejected' } : state;
    case 'ClientRenamed':
      return isKnownClient(state) ? { ...state, name: e.data.name } : state;
    case 'ClientImageAssigned':
      return isKnownClient(state) ? { ...state, imageId: e.data.imageId } : state;
    case 'ClientBootConfigChanged':
      return isKnownClient(state) ? { ...state, configTxt: e.data.configTxt, cmdlineArgs: e.data.cmdlineArgs } : state;
    case 'ClientRemoved':
      return { status: 'removed', mac: e.data.mac };
    default:
      return state;
  }
}

export const clientDecider: Decider<ClientState, ClientCommand, ClientEvent> = {
  initialState: () => ({ status: 'unknown' }),
  evolve,
  decide,
};
