/**
 * `diagnose(mac)`: why a client does not boot, from its events and the state now. Pure: the service
 * (diagnosis.service.ts) reads the client, its image and its boot stream, asks the plugins for
 * their part (the DHCP plugin knows about rival servers and DHCP retries, the TFTP plugin about the
 * files a model needs), and hands everything to these functions.
 *
 * The core's own part is the chain every boot depends on, in the order an admin should fix it:
 * known at all → approved → an image assigned → the image exists; then what the last boot session
 * says (stalled where, on what request, why). Messages say what to do, not only what is wrong:
 * PiServer's users had only syslog, and the people reading these are teachers.
 */
import type { BootStageChangedData } from '../plugin-api/events';
import type { DiagnosisBoot, DiagnosisFinding, DiagnosisInput } from '../plugin-api/plugin';
import type { ImageRecord } from '../plugin-api/views';

/** The fields of a `BootStageChanged` event this module reads. */
export type StageChange = Pick<BootStageChangedData, 'sessionId' | 'stage' | 'previousStage' | 'at'> &
  Partial<Pick<BootStageChangedData, 'cause' | 'lastRequest' | 'missing'>>;

const ENDED = new Set(['STALLED', 'FAILED']);
const MAX_MISSING = 32;

/**
 * The latest session of a client's boot stream: its events are `BootStageChanged` (others, e.g.
 * old `BootProgressed` facts, are skipped). null when the stream holds no session.
 */
export function lastBootOf(events: readonly { type: string; data: unknown }[]): DiagnosisBoot | null {
  let session: StageChange[] = [];
  for (const event of events) {
    if (event.type !== 'BootStageChanged') continue;
    const change = event.data as StageChange;
    if (typeof change?.sessionId !== 'string' || typeof change.stage !== 'string') continue;
    if (session.length > 0 && session[0].sessionId !== change.sessionId) session = [];
    session.push(change);
  }
  if (session.length === 0) return null;
  const last = session[session.length - 1];
  let lastProgressStage = last.stage;
  for (let i = session.length - 1; i >= 0 && ENDED.has(lastProgressStage); i--) {
    const c = session[i];
    lastProgressStage = ENDED.has(c.stage) ? (c.previousStage ?? c.stage) : c.stage;
  }
  const missing = new Set<string>();
  for (const c of session) for (const file of c.missing ?? []) if (missing.size < MAX_MISSING) missing.add(file);
  return {
    sessionId: last.sessionId,
    stage: last.stage,
    lastProgressStage,
    startedAt: session[0].at,
    at: last.at,
    cause: last.cause ?? null,
    lastRequest: last.lastRequest ?? null,
    missing: [...missing],
  };
}

const NETWORK_BOOT_HINT =
  'check that network boot is on (Pi 4/5: BOOT_ORDER in the EEPROM contains 2; Pi 3B: the OTP bit set with program_usb_boot_mode=1), ' +
  'that the Pi is cabled to the network bramble serves, and that bramble\u2019s DHCP plugin listens on that interface (health: dhcp)';

/** The core's findings: the client, its approval, its image, and its last boot session. */
export function coreFindings(input: DiagnosisInput, image: (id: string) => ImageRecord | null): DiagnosisFinding[] {
  const { client, lastBoot, mac } = input;
  if (!client) {
    return [
      { code: 'CLIENT_UNKNOWN', severity: 'error', message: `bramble has never seen a boot request from ${mac}: ${NETWORK_BOOT_HINT}.` },
    ];
  }
  const findings: DiagnosisFinding[] = [];
  if (client.status === 'pending') {
    findings.push({
      code: 'CLIENT_NOT_APPROVED',
      severity: 'error',
      message: `seen${client.detectedAt ? ` at ${client.detectedAt}` : ''} but not approved: bramble answers only approved clients (approveClient, with an image).`,
    });
  } else if (client.status === 'rejected') {
    findings.push({
      code: 'CLIENT_REJECTED',
      severity: 'error',
      message: 'rejected: bramble ignores it on purpose. Approve it to let it boot.',
    });
  }
  if (client.status !== 'rejected') {
    if (client.imageId === null) {
      findings.push({
        code: 'NO_IMAGE_ASSIGNED',
        severity: 'error',
        message: 'no image is assigned, so there are no boot files to serve: assignImage (or approveClient with imageId).',
      });
    } else if (!image(client.imageId)) {
      findings.push({
        code: 'IMAGE_NOT_FOUND',
        severity: 'error',
        message: `its image ${client.imageId} no longer exists: assign another one.`,
      });
    }
  }
  if (client.status === 'approved' && !client.detectedAt && !client.lastSeenAt && !lastBoot) {
    findings.push({
      code: 'NEVER_SEEN',
      severity: 'warning',
      message: `approved in advance, but bramble has not seen it try to boot yet: ${NETWORK_BOOT_HINT}.`,
    });
  }
  if (lastBoot) findings.push(bootFinding(lastBoot));
  return findings;
}

function bootFinding(boot: DiagnosisBoot): DiagnosisFinding {
  const where = `in ${boot.lastProgressStage}`;
  const request = boot.lastRequest ? ` Last request: ${boot.lastRequest}.` : '';
  const cause = boot.cause ? `: ${boot.cause}` : '';
  switch (boot.stage) {
    case 'STALLED':
      return { code: 'BOOT_STALLED', severity: 'error', message: `its last boot (${boot.startedAt}) stalled ${where}${cause}.${request}` };
    case 'FAILED':
      return { code: 'BOOT_FAILED', severity: 'error', message: `its last boot (${boot.startedAt}) failed ${where}${cause}.${request}` };
    case 'BOOTED':
    case 'USER_LOGGED_IN':
      return { code: 'LAST_BOOT_OK', severity: 'info', message: `its last boot (${boot.startedAt}) reached ${boot.stage} at ${boot.at}.` };
    default:
      return {
        code: 'BOOT_IN_PROGRESS',
        severity: 'info',
        message: `a boot started at ${boot.startedAt} is in ${boot.stage} (last change ${boot.at}).${request}`,
      };
  }
}

const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 } as const;

/** Errors first, then warnings, then information; stable within a severity. `ok` when no error. */
export function summarise<F extends DiagnosisFinding>(findings: readonly F[]): { ok: boolean; findings: F[] } {
  const sorted = findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => SEVERITY_ORDER[a.f.severity] - SEVERITY_ORDER[b.f.severity] || a.i - b.i)
    .map(({ f }) => f);
  return { ok: !sorted.some((f) => f.severity === 'error'), findings: sorted };
}
