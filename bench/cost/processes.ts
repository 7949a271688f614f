/** What a process has cost so far, read from /proc: CPU seconds (user + system) and memory. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU seconds of `pid` so far (undefined once it is gone). */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return undefined;
  }
}

/** This process's own CPU seconds (the bench driver and the in-process simulator). */
export function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Resident set size now and at its peak, MiB. */
export function rssMiB(pid: number): { now: number; peak: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
    return { now: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** CPU seconds each named process spent between `start()` and `stop()`, and peak RSS sampled meanwhile. */
export class ProcessMeter {
  private readonly startCpu = new Map<string, number>();
  private readonly endCpu = new Map<string, number>();
  private readonly peakRss = new Map<string, number>();
  private sampler?: NodeJS.Timeout;

  /** `pid` 0: this process (ownCpuSeconds). */
  constructor(private readonly processes: Record<string, number>) {}

  private cpu(pid: number): number {
    return pid === 0 ? ownCpuSeconds() : (cpuSeconds(pid) ?? 0);
  }

  private sample(): void {
    for (const [name, pid] of Object.entries(this.processes)) {
      const r = rssMiB(pid === 0 ? process.pid : pid);
      if (r) this.peakRss.set(name, Math.max(this.peakRss.get(name) ?? 0, r.now));
    }
  }

  start(): void {
    for (const [name, pid] of Object.entries(this.processes)) this.startCpu.set(name, this.cpu(pid));
    this.sample();
    this.sampler = setInterval(() => this.sample(), 250);
  }

  stop(): void {
    clearInterval(this.sampler);
    this.sample();
    for (const [name, pid] of Object.entries(this.processes)) this.endCpu.set(name, this.cpu(pid));
  }

  cpuSeconds(name: string): number {
    return (this.endCpu.get(name) ?? 0) - (this.startCpu.get(name) ?? 0);
  }

  peakRssMiB(name: string): number {
    return this.peakRss.get(name) ?? 0;
  }
}
