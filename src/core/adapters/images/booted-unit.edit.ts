/**
 * The "I'm up" report installed by image conversion: a small script and the systemd unit that runs
 * it once the network is online, so a booted client tells bramble (core/boot/boot-report.server.ts)
 * and its boot session reaches BOOTED.
 *
 * Why a script and not a URL baked into the unit: the server address is the one the client booted
 * from, which the kernel command line already carries (`nfsroot=<server>:<path>`, else the server
 * field of `ip=`), so one converted image serves any bramble address; only the port is baked in
 * (the `bootReportPort` setting at conversion time). It POSTs with curl, else wget, else bash's
 * `/dev/tcp` (a minimal image has neither), and retries for a minute. The hostname goes along when
 * it is a plain DNS name; nothing else does.
 *
 * `bramble-booted [cmdline-file]`: the file to read instead of /proc/cmdline (tests).
 */

export const BOOTED_SCRIPT_PATH = '/usr/local/sbin/bramble-booted';
export const BOOTED_UNIT = 'bramble-booted.service';

/** How long the script keeps trying (s) and waits between tries (s). */
export const BOOTED_RETRY_SECONDS = 60;
export const BOOTED_RETRY_DELAY_SECONDS = 3;

export function bootedScript(port: number): string {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new RangeError(`boot report port ${port} is not a TCP port`);
  return `#!/bin/bash
# Written by bramble's image conversion: tells bramble this machine has finished booting (its boot
# session then reaches BOOTED). The server is the one it booted from (nfsroot= or ip= on the kernel
# command line); the port is bramble's bootReportPort setting when the image was converted.
# Usage: bramble-booted [cmdline-file]   (default /proc/cmdline)
PORT=${port}
CMDLINE="\${1:-/proc/cmdline}"
read -r -a ARGS < "$CMDLINE" || true
server=""
for arg in "\${ARGS[@]}"; do
  case "$arg" in
    nfsroot=*:*) v="\${arg#nfsroot=}"; server="\${v%%:*}" ;;
  esac
done
if [ -z "$server" ]; then
  # ip=<client>:<server>:<gateway>:...
  for arg in "\${ARGS[@]}"; do
    case "$arg" in
      ip=*:*) v="\${arg#ip=}"; v="\${v#*:}"; server="\${v%%:*}" ;;
    esac
  done
fi
case "$server" in
  ''|*[!0-9.]*) echo "bramble-booted: no server address (nfsroot= or ip=) in $CMDLINE" >&2; exit 1 ;;
esac
host="$(hostname 2>/dev/null || true)"
case "$host" in *[!A-Za-z0-9.-]*) host="" ;; esac
body="{\\"hostname\\":\\"$host\\"}"
url="http://$server:$PORT/booted"

post() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null --max-time 5 -X POST -H 'content-type: application/json' --data "$body" "$url"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O /dev/null -T 5 -t 1 --header='content-type: application/json' --post-data="$body" "$url"
  else
    local status=""
    exec 3<>"/dev/tcp/$server/$PORT" || return 1
    printf 'POST /booted HTTP/1.1\\r\\nHost: %s:%s\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n%s' \\
      "$server" "$PORT" "\${#body}" "$body" >&3
    read -r -t 5 status <&3
    exec 3<&- 3>&-
    case "$status" in "HTTP/1."?" 204"*) return 0 ;; *) return 1 ;; esac
  fi
}

end=$((SECONDS + ${BOOTED_RETRY_SECONDS}))
while :; do
  post && exit 0
  if [ "$SECONDS" -ge "$end" ]; then
    echo "bramble-booted: $url did not take the report" >&2
    exit 1
  fi
  sleep ${BOOTED_RETRY_DELAY_SECONDS}
done
`;
}

/** The unit: once, after the network is online; enabled by a multi-user.target.wants link. */
export function bootedUnit(): string {
  return [
    "# Written by bramble's image conversion: tells bramble this machine has finished booting.",
    '[Unit]',
    'Description=Report to bramble that this machine has booted',
    // Not After=multi-user.target: the target wants this unit, so that would be an ordering cycle.
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=oneshot',
    `ExecStart=${BOOTED_SCRIPT_PATH}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}
