/** CPU time of other processes, for benchmarks that compare a server's cost with bramble's. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** CPU time of a process (all its threads) so far, from /proc/<pid>/stat utime + stime (or another task's stat file). */
export function processCpuMs(pid: number, statFile = `/proc/${pid}/stat`): number {
  const stat = readFileSync(statFile, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
}

let ticks = 0;
function clockTicks(): number {
  if (!ticks) ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticks;
}
