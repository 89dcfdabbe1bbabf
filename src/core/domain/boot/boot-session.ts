/**
 * Boot sessions: the pure decision that turns the boot facts protocol plugins report (a DHCP
 * DISCOVER, a file served over TFTP, an NFS root mount, an LDAP login, the "I'm up" report) into
 * the stages of one boot of one client, and notices when a boot stops making progress.
 *
 * Why a decider of its own and not one event per fact: a Pi 4 fetches a dozen files per boot, a
 * hundred Pis booting after a power cut would write thousands of events nobody reads one by one.
 * The facts stay in memory (live progress for the `bootProgress` subscription) and only a change
 * of stage is an event (`BootStageChanged`, stream `boot-<mac>`), carrying the files of the stage
 * it ends. The contract (docs of issue 11, "Boot stages", "Facts", "Timeouts"):
 *
 * - stages DHCP → FIRMWARE → KERNEL → ROOT_MOUNTED → USER_LOGGED_IN → BOOTED; a session's stage is
 *   the highest reached (one may be skipped); STALLED and FAILED may be entered from any stage but
 *   the final ones (BOOTED, FAILED); progress after STALLED returns to the stage it had.
 * - a DHCP fact with `detail.pxe` true (the firmware's or a PXE ROM's DISCOVER) while the session
 *   is past DHCP or ended starts a new session (the old one, unless BOOTED, ends FAILED); a non-PXE
 *   DHCP (the kernel's `ip=dhcp`, the OS's client) is progress of the current session. A fact
 *   without `pxe` counts as PXE (plugins that predate the field). A DISCOVER from iPXE
 *   (`detail.ipxe`) while the session is still at DHCP or FIRMWARE is the iPXE the firmware stage
 *   chain-loaded (a lab PC): progress, not a new session.
 * - TFTP files are classified by name (`classifyBootFile`); any TFTP request moves a session out
 *   of DHCP (the firmware reached TFTP); only a file served completely moves it to KERNEL (a
 *   missing one is remembered: the firmware probes optional files). A TFTP fact with no open
 *   session opens one at FIRMWARE.
 * - timeouts (`BootTimeouts`): STALLED with a cause naming what was seen last; FAILED 10 minutes
 *   after a stall without progress.
 *
 * Time comes in with every call (`now`, epoch ms): the decider never reads the clock. The state of
 * one client is a plain object; `decideBoot` returns a new one (it never changes the one given).
 */
import {
  BOOT_PROGRESS_STAGES,
  type BootFileServed,
  type BootProgressStage,
  type BootStage,
  type BootStageChangedData,
} from '../../plugin-api/events';

/** How long each stage may go without progress before the session is STALLED (ms). */
export interface BootTimeouts {
  /** DHCP seen, no TFTP request at all. */
  dhcpMs: number;
  /** FIRMWARE or KERNEL: no new file (and, in KERNEL, the last request went wrong). */
  fileMs: number;
  /** KERNEL: its last file served, no root mount. */
  rootMountMs: number;
  /** ROOT_MOUNTED: no boot report. */
  bootedMs: number;
  /** STALLED: nothing more, the session ends FAILED. */
  failAfterStallMs: number;
}

export const DEFAULT_BOOT_TIMEOUTS: Readonly<BootTimeouts> = Object.freeze({
  dhcpMs: 30_000,
  fileMs: 35_000,
  rootMountMs: 120_000,
  bootedMs: 300_000,
  failAfterStallMs: 600_000,
});

/** Files (and missing files) kept per stage: the first ones (a boot fetches a few dozen at most). */
export const MAX_FILES_PER_STAGE = 64;
/** Stage changes kept per live session (a session flapping STALLED/recovered stops adding). */
export const MAX_STAGES_PER_SESSION = 64;
/** Longest text kept from a fact's detail (file names, causes): anything longer is cut. */
const MAX_TEXT = 256;

/** A fact as the core receives it from a plugin (`ctx.commands.reportBootFact`). */
export interface BootFactInput {
  kind: 'fact';
  /** `dhcp.discover`, `tftp.file-served`, `nfs.root-mounted`, `ldap.user-logged-in`, `booted`... */
  fact: string;
  ip: string | null;
  detail: Readonly<Record<string, string | number | boolean | null>>;
  /** The client's model as the core knows it (read models), null when unknown. */
  model: string | null;
}

/** Time passed: checks the session's timeout. */
export interface BootTickInput {
  kind: 'tick';
}

export type BootInput = BootFactInput | BootTickInput;

/** The last TFTP request that went wrong (it names the cause of a stall). */
export interface BootFileProblem {
  kind: 'missing' | 'failed' | 'refused';
  file: string;
  reason: string | null;
}

/** One boot of one client, as the core follows it live. Times are epoch ms. */
export interface LiveBootSession {
  sessionId: string;
  startedAt: number;
  /** The current stage, STALLED and FAILED included. */
  stage: BootStage;
  /** The highest progress stage reached (what STALLED returns to). */
  reached: BootProgressStage;
  /** When `stage` was entered. */
  stageSince: number;
  /** Every stage entered, in order (at most MAX_STAGES_PER_SESSION). */
  stages: { stage: BootStage; at: number }[];
  /** Files served completely since the last stage change. */
  files: BootFileServed[];
  /** Files missing since the last stage change. */
  missing: string[];
  lastRequest: string | null;
  /** When the last TFTP request was seen (null: none since the session began or was restored). */
  lastFileAt: number | null;
  lastFileProblem: BootFileProblem | null;
  /** The file last asked for over TFTP. */
  currentFile: string | null;
  ip: string | null;
  username: string | null;
  model: string | null;
  /** USER_LOGGED_IN recorded in this session (once per session). */
  loggedIn: boolean;
  /** Why it stalled or failed (null otherwise). */
  cause: string | null;
}

/** Everything the core keeps about one client's boots. */
export interface BootClientState {
  mac: string;
  /** The current (or last) session; null before the first. */
  session: LiveBootSession | null;
  /** When a session of this client last reached BOOTED. */
  lastBootedAt: number | null;
}

/** What the live subscription shows of a session (not stored). */
export interface BootProgress {
  mac: string;
  sessionId: string;
  stage: BootStage;
  /** When it entered `stage` (ISO-8601). */
  at: string;
  ip: string | null;
  currentFile: string | null;
  lastRequest: string | null;
  cause: string | null;
  /** Every stage entered with the time spent in it (the current one: so far). */
  stages: BootStageTiming[];
}

export interface BootStageTiming {
  stage: BootStage;
  at: string;
  ms: number;
}

export type BootEffect = { kind: 'append'; event: BootStageChangedData } | { kind: 'publish'; progress: BootProgress };

export interface BootDecision {
  state: BootClientState;
  effects: BootEffect[];
}

export function initialBootState(mac: string): BootClientState {
  return { mac, session: null, lastBootedAt: null };
}

const RANK: Record<BootStage, number> = {
  DHCP: 0,
  FIRMWARE: 1,
  KERNEL: 2,
  ROOT_MOUNTED: 3,
  USER_LOGGED_IN: 4,
  BOOTED: 5,
  STALLED: -1,
  FAILED: -1,
};

export function isProgressStage(stage: string): stage is BootProgressStage {
  return (BOOT_PROGRESS_STAGES as readonly string[]).includes(stage);
}

/** BOOTED and FAILED end a session: nothing but a late login changes it. */
export function isFinal(stage: BootStage): boolean {
  return stage === 'BOOTED' || stage === 'FAILED';
}

// ---------------------------------------------------------------------------------------------
// File names

/** A leading serial (8 hex digits) or MAC folder (`dc-a6-32-01-02-03`, `dca632010203`). */
const CLIENT_FOLDER = /^(?:[0-9a-f]{8}|[0-9a-f]{2}(?:[-:][0-9a-f]{2}){5}|[0-9a-f]{12})\//;

const FIRMWARE_FILES: readonly RegExp[] = [
  /^bootcode\.bin$/,
  /^start.*\.elf$/,
  /^fixup.*\.dat$/,
  /^config\.txt$/,
  /^recovery/,
  /^pieeprom/,
  /^bootconf/,
  /\.kpxe$/,
  /\.efi$/,
  /\.ipxe$/,
];
const KERNEL_FILES: readonly RegExp[] = [/^kernel.*\.img$/, /^vmlinuz/, /\.dtb$/, /^initramfs/, /^initrd/, /^cmdline\.txt$/];

/**
 * The stage a requested file belongs to, by its name (case-insensitive, without a leading `/` and
 * a serial or MAC folder): FIRMWARE, KERNEL, or null for anything else (progress of the current
 * stage). `overlays/<anything>` is KERNEL.
 */
export function classifyBootFile(file: string): 'FIRMWARE' | 'KERNEL' | null {
  const path = file.toLowerCase().replace(/^\/+/, '').replace(CLIENT_FOLDER, '');
  if (path.startsWith('overlays/') || path.includes('/overlays/')) return 'KERNEL';
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (FIRMWARE_FILES.some((p) => p.test(base))) return 'FIRMWARE';
  if (KERNEL_FILES.some((p) => p.test(base))) return 'KERNEL';
  return null;
}

// ---------------------------------------------------------------------------------------------
// Deciding

function text(value: unknown): string | null {
  if (typeof value !== 'string' || value === '') return null;
  return value.length > MAX_TEXT ? value.slice(0, MAX_TEXT) : value;
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

/** `b8:27:eb:01:02:03` + epoch ms → `b827eb010203-<ms base 36>`: unique per client (one session start per fact). */
export function newSessionId(mac: string, now: number): string {
  return `${mac.replace(/:/g, '')}-${now.toString(36)}`;
}

function cloneSession(s: LiveBootSession): LiveBootSession {
  return { ...s, stages: [...s.stages], files: [...s.files], missing: [...s.missing] };
}

/** Builds the decision step by step: the state is a private copy, events and publishing collected. */
class Step {
  readonly effects: BootEffect[] = [];
  readonly state: BootClientState;
  private touched = false;

  constructor(
    state: BootClientState,
    readonly now: number,
  ) {
    this.state = { ...state, session: state.session ? cloneSession(state.session) : null };
  }

  get session(): LiveBootSession | null {
    return this.state.session;
  }

  /** Something worth a live update happened. */
  touch(): void {
    this.touched = true;
  }

  open(stage: 'DHCP' | 'FIRMWARE', fact: BootFactInput): LiveBootSession {
    const now = this.now;
    const session: LiveBootSession = {
      sessionId: newSessionId(this.state.mac, now),
      startedAt: now,
      stage,
      reached: stage,
      stageSince: now,
      stages: [{ stage, at: now }],
      files: [],
      missing: [],
      lastRequest: null,
      lastFileAt: null,
      lastFileProblem: null,
      currentFile: null,
      ip: fact.ip,
      username: null,
      model: fact.model,
      loggedIn: false,
      cause: null,
    };
    this.state.session = session;
    this.emit(session, stage, null, 0, [], []);
    return session;
  }

  /** Moves the session to `stage` (its own event); files and missing of the stage it leaves go with it. */
  change(session: LiveBootSession, stage: BootStage, cause: string | null = null): void {
    const previous = session.stage;
    const files = session.files;
    const missing = session.missing;
    const previousMs = this.now - session.stageSince;
    session.stage = stage;
    session.stageSince = this.now;
    session.files = [];
    session.missing = [];
    session.cause = cause;
    if (isProgressStage(stage) && RANK[stage] > RANK[session.reached]) session.reached = stage;
    if (session.stages.length < MAX_STAGES_PER_SESSION) session.stages.push({ stage, at: this.now });
    if (stage === 'BOOTED') this.state.lastBootedAt = this.now;
    this.emit(session, stage, previous, previousMs, files, missing);
  }

  private emit(
    session: LiveBootSession,
    stage: BootStage,
    previousStage: BootStage | null,
    previousStageMs: number,
    files: BootFileServed[],
    missing: string[],
  ): void {
    this.touched = true;
    this.effects.push({
      kind: 'append',
      event: {
        mac: this.state.mac,
        sessionId: session.sessionId,
        stage,
        previousStage,
        at: new Date(this.now).toISOString(),
        ip: session.ip,
        sessionMs: this.now - session.startedAt,
        previousStageMs,
        files,
        missing,
        lastRequest: session.lastRequest,
        cause: session.cause,
        username: session.username,
        model: session.model,
      },
    });
  }

  /**
   * Progress towards `target` (null: progress within the stage): a STALLED session first returns
   * to the stage it had; then it moves up when `target` is higher than what it reached.
   */
  progress(session: LiveBootSession, target: BootProgressStage | null): void {
    if (session.stage === 'STALLED') this.change(session, session.reached);
    if (target !== null && RANK[target] > RANK[session.reached]) this.change(session, target);
  }

  done(): BootDecision {
    const session = this.state.session;
    if (this.touched && session) this.effects.push({ kind: 'publish', progress: progressOf(this.state.mac, session, this.now) });
    return { state: this.state, effects: this.effects };
  }
}

/** The live view of a session at `now`. */
export function progressOf(mac: string, session: LiveBootSession, now: number): BootProgress {
  return {
    mac,
    sessionId: session.sessionId,
    stage: session.stage,
    at: new Date(session.stageSince).toISOString(),
    ip: session.ip,
    currentFile: session.currentFile,
    lastRequest: session.lastRequest,
    cause: session.cause,
    stages: session.stages.map((s, i) => {
      const end = session.stages[i + 1]?.at ?? (isFinal(session.stage) ? s.at : now);
      return { stage: s.stage, at: new Date(s.at).toISOString(), ms: Math.max(0, end - s.at) };
    }),
  };
}

/**
 * One fact or one tick for one client → its new state and the effects: events to append (in
 * order) and at most one live update to publish.
 */
export function decideBoot(
  state: BootClientState,
  input: BootInput,
  now: number,
  timeouts: BootTimeouts = DEFAULT_BOOT_TIMEOUTS,
): BootDecision {
  const step = new Step(state, now);
  if (input.kind === 'tick') tick(step, timeouts);
  else fact(step, input);
  return step.done();
}

function fact(step: Step, input: BootFactInput): void {
  const name = input.fact;
  let session = step.session;
  const open = session !== null && !isFinal(session.stage);
  if (session && open) {
    if (input.ip) session.ip = input.ip;
    if (input.model) session.model = input.model;
  }

  if (name.startsWith('dhcp.')) {
    const pxe = input.detail.pxe !== false;
    // iPXE chain-loaded by the firmware stage (undionly.kpxe, ipxe.efi) asks again: the same boot.
    const chainLoaded = input.detail.ipxe === true && session !== null && open && RANK[session.reached] <= RANK.FIRMWARE;
    if (pxe && !chainLoaded && (session === null || !open || RANK[session.reached] > RANK.DHCP)) {
      if (session && open) {
        session.lastRequest = name;
        step.change(session, 'FAILED', 'the client restarted its boot');
      }
      step.open('DHCP', input).lastRequest = name;
      return;
    }
    if (!session || !open) return;
    // A DHCP retry or the kernel's DHCP: seen, but no progress (a DHCP stall is "no TFTP").
    session.lastRequest = name;
    step.touch();
    return;
  }

  if (name.startsWith('tftp.')) {
    if (name === 'tftp.image-version') return;
    const file = text(input.detail.file);
    const served = name === 'tftp.file-served';
    const kind = file ? classifyBootFile(file) : null;
    if (!session || (!open && served && kind === 'FIRMWARE')) session = step.open('FIRMWARE', input);
    else if (!open) return;
    session.lastRequest = file ? `${name} ${file}` : name;
    session.lastFileAt = step.now;
    if (file) session.currentFile = file;
    step.touch();
    if (served) {
      session.lastFileProblem = null;
      // The file that moves the session on is one of the new stage's.
      step.progress(session, kind ?? (session.reached === 'DHCP' ? 'FIRMWARE' : null));
      if (file && session.files.length < MAX_FILES_PER_STAGE) {
        session.files.push({ file, bytes: num(input.detail.bytes), ms: num(input.detail.ms), blksize: num(input.detail.blksize) || null });
      }
      return;
    }
    const problemKind = name === 'tftp.file-missing' ? 'missing' : name === 'tftp.refused' ? 'refused' : 'failed';
    if (file) session.lastFileProblem = { kind: problemKind, file, reason: text(input.detail.reason) };
    if (problemKind === 'missing' && file && !session.missing.includes(file) && session.missing.length < MAX_FILES_PER_STAGE) {
      session.missing.push(file);
    }
    // The firmware reached TFTP: out of DHCP, even if what it asked for is not there.
    if (session.reached === 'DHCP') step.progress(session, 'FIRMWARE');
    return;
  }

  if (!session) return;
  switch (name) {
    case 'nfs.root-mounted':
      if (!open) return;
      session.lastRequest = name;
      step.touch();
      step.progress(session, 'ROOT_MOUNTED');
      return;
    case 'ldap.user-logged-in': {
      if (session.loggedIn || session.stage === 'FAILED') return;
      session.username = text(input.detail.username) ?? session.username;
      session.loggedIn = true;
      session.lastRequest = name;
      if (session.stage === 'BOOTED') {
        // Recorded, once, with its own event; the session stays BOOTED.
        step.change(session, 'USER_LOGGED_IN');
        session.stage = 'BOOTED';
        session.stageSince = session.stages[session.stages.length - 2]?.at ?? session.stageSince;
        return;
      }
      step.touch();
      step.progress(session, 'USER_LOGGED_IN');
      return;
    }
    case 'booted':
      if (!open) return;
      session.lastRequest = name;
      step.touch();
      step.progress(session, 'BOOTED');
      return;
    default:
      if (!open) return;
      session.lastRequest = name;
      step.touch();
  }
}

/** When the session stalls (or, STALLED, fails) if nothing happens; null when it never does. */
export function bootDeadline(session: LiveBootSession | null, timeouts: BootTimeouts = DEFAULT_BOOT_TIMEOUTS): number | null {
  if (!session) return null;
  switch (session.stage) {
    case 'STALLED':
      return session.stageSince + timeouts.failAfterStallMs;
    case 'DHCP':
      return session.stageSince + timeouts.dhcpMs;
    case 'FIRMWARE':
      return Math.max(session.stageSince, session.lastFileAt ?? 0) + timeouts.fileMs;
    case 'KERNEL': {
      const since = Math.max(session.stageSince, session.lastFileAt ?? 0);
      return since + (session.lastFileProblem ? timeouts.fileMs : timeouts.rootMountMs);
    }
    case 'ROOT_MOUNTED':
      return session.stageSince + timeouts.bootedMs;
    case 'USER_LOGGED_IN':
      // A login proves the system runs: no report is waited for.
      return null;
    case 'BOOTED':
    case 'FAILED':
      return null;
    default: {
      const never: never = session.stage;
      return never;
    }
  }
}

function stallCause(session: LiveBootSession, timeouts: BootTimeouts): string {
  const problem = session.lastFileProblem;
  const last = session.lastRequest ? ` (last request: ${session.lastRequest})` : '';
  switch (session.stage) {
    case 'DHCP':
      return `no TFTP request within ${seconds(timeouts.dhcpMs)} of DHCP: the firmware did not reach the boot server${last}`;
    case 'FIRMWARE':
    case 'KERNEL': {
      if (problem?.kind === 'missing') return `${problem.file} is missing: no new file for ${seconds(timeouts.fileMs)}`;
      if (problem?.kind === 'failed')
        return `the transfer of ${problem.file} failed${problem.reason ? ` (${problem.reason})` : ''}: no new file for ${seconds(timeouts.fileMs)}`;
      if (problem?.kind === 'refused') return `a request for ${problem.file} was refused: no new file for ${seconds(timeouts.fileMs)}`;
      if (session.stage === 'KERNEL')
        return `the root file system was not mounted within ${seconds(timeouts.rootMountMs)} of the last boot file${session.currentFile ? ` (${session.currentFile})` : ''}`;
      return `no new file for ${seconds(timeouts.fileMs)}${session.currentFile ? ` after ${session.currentFile}` : ''}`;
    }
    case 'ROOT_MOUNTED':
      return `no boot report within ${seconds(timeouts.bootedMs)} of the root mount (is the image converted with the bramble-booted unit?)${last}`;
    default:
      return `no progress${last}`;
  }
}

function tick(step: Step, timeouts: BootTimeouts): void {
  const session = step.session;
  const deadline = bootDeadline(session, timeouts);
  if (!session || deadline === null || step.now < deadline) return;
  if (session.stage === 'STALLED') {
    step.change(
      session,
      'FAILED',
      `gave up: no progress for ${seconds(timeouts.failAfterStallMs)} after it stalled: ${session.cause ?? 'unknown'}`,
    );
  } else {
    step.change(session, 'STALLED', stallCause(session, timeouts));
  }
}

// ---------------------------------------------------------------------------------------------
// Folding events (restore at start; history)

/**
 * A client's state with one stored BootStageChanged applied (restoring after a restart: the
 * per-file progress of the stage in course is not stored, so it restarts empty). Events of other
 * types leave it unchanged.
 */
export function evolveBoot(state: BootClientState, event: { type: string; data: unknown }): BootClientState {
  if (event.type !== 'BootStageChanged') return state;
  const e = event.data as BootStageChangedData;
  const at = Date.parse(e.at);
  if (!Number.isFinite(at)) return state;
  const next: BootClientState = { ...state };
  let session = state.session && state.session.sessionId === e.sessionId ? cloneSession(state.session) : null;
  if (!session) {
    const stage = e.stage;
    session = {
      sessionId: e.sessionId,
      startedAt: at - (e.sessionMs || 0),
      stage,
      reached: isProgressStage(stage) ? stage : 'DHCP',
      stageSince: at,
      stages: [],
      files: [],
      missing: [],
      lastRequest: null,
      lastFileAt: null,
      lastFileProblem: null,
      currentFile: null,
      ip: null,
      username: null,
      model: null,
      loggedIn: false,
      cause: null,
    };
  }
  session.ip = e.ip ?? session.ip;
  session.model = e.model ?? session.model;
  session.username = e.username ?? session.username;
  session.lastRequest = e.lastRequest ?? session.lastRequest;
  if (session.stages.length < MAX_STAGES_PER_SESSION) session.stages.push({ stage: e.stage, at });
  if (e.stage === 'USER_LOGGED_IN') session.loggedIn = true;
  if (e.stage === 'USER_LOGGED_IN' && session.stage === 'BOOTED') {
    // A login after the report: recorded, the session stays BOOTED.
  } else {
    session.stage = e.stage;
    session.stageSince = at;
    session.cause = e.cause;
    if (isProgressStage(e.stage) && RANK[e.stage] > RANK[session.reached]) session.reached = e.stage;
  }
  if (e.stage === 'BOOTED') next.lastBootedAt = at;
  next.session = session;
  return next;
}

/** A finished or running session as the history shows it. */
export interface BootSessionSummary {
  sessionId: string;
  mac: string;
  startedAt: string;
  /** When it reached BOOTED or FAILED; null while it runs (or stalled). */
  endedAt: string | null;
  stage: BootStage;
  ip: string | null;
  username: string | null;
  cause: string | null;
  lastRequest: string | null;
  stages: BootStageTiming[];
}

/**
 * Sessions of one client from its stored events, oldest first. A session whose first events were
 * removed by the retention starts at its oldest kept event.
 */
export function foldBootSessions(events: Iterable<{ type: string; data: unknown }>): BootSessionSummary[] {
  const sessions: { state: BootClientState; mac: string; endedAt: number | null }[] = [];
  const byId = new Map<string, (typeof sessions)[number]>();
  for (const event of events) {
    if (event.type !== 'BootStageChanged') continue;
    const e = event.data as BootStageChangedData;
    let entry = byId.get(e.sessionId);
    if (!entry) {
      entry = { state: initialBootState(e.mac), mac: e.mac, endedAt: null };
      byId.set(e.sessionId, entry);
      sessions.push(entry);
    }
    entry.state = evolveBoot(entry.state, event);
    if (isFinal(e.stage) && entry.endedAt === null) entry.endedAt = Date.parse(e.at);
  }
  return sessions.map(({ state, mac, endedAt }) => {
    const s = state.session as LiveBootSession;
    const progress = progressOf(mac, s, endedAt ?? s.stageSince);
    return {
      sessionId: s.sessionId,
      mac,
      startedAt: new Date(s.startedAt).toISOString(),
      endedAt: endedAt === null ? null : new Date(endedAt).toISOString(),
      stage: s.stage,
      ip: s.ip,
      username: s.username,
      cause: s.cause,
      lastRequest: s.lastRequest,
      stages: progress.stages,
    };
  });
}
