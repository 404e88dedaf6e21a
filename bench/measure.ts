/**
 * Runs one command and measures what it cost: wall time, CPU time of its whole process tree (GNU time, which counts
 * every descendant the tree waited for), peak RSS of the whole tree (the sum over its live processes, sampled from
 * /proc), each program's own peak (VmHWM), the bytes the tree sent to storage (/proc/PID/io write_bytes) and the
 * peak size of the files in its temporary folder.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, lstatSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';

export interface Measurement {
  readonly seconds: number;
  /** User + system CPU seconds of the command and every process under it. */
  readonly cpuSeconds: number;
  /** Peak of the sum of RSS over the tree's live processes (sampled every `sampleMs`). */
  readonly peakTreeRssMiB: number;
  /** Each program's peak RSS (VmHWM), by name; the largest when a name ran more than once. */
  readonly programsRssMiB: Record<string, number>;
  /** Bytes the tree caused to be written to storage, from /proc/PID/io write_bytes (approximate: it counts file-system overhead too). */
  readonly diskWrittenBytes: number;
  /** Peak bytes held by files in the command's temporary folder (its TMPDIR and working directory), lock files excepted. */
  readonly tempPeakBytes: number;
  /** Peak drop in free space of the temporary folder's file system (noisy: other processes share it). */
  readonly tempFreeDropBytes: number;
  /** Names of the files seen in the temporary folder (a few). */
  readonly tempFiles: string[];
  readonly exitCode: number | null;
  readonly stderrTail: string;
}

export interface MeasureOptions {
  readonly env?: Record<string, string | undefined>;
  /** The command's TMPDIR and working directory; its files are measured while it runs, and it starts empty. */
  readonly tempDir: string;
  readonly sampleMs?: number;
  readonly timeoutMs?: number;
}

const PAGE = 4096;
const CLOCK_TICKS = 100;

/** `argv` runs as is; a string runs under `bash -o pipefail -c`. Stdout goes to /dev/null unless redirected. */
export async function measure(command: readonly string[] | string, opts: MeasureOptions): Promise<Measurement> {
  const argv = typeof command === 'string' ? ['bash', '-o', 'pipefail', '-c', command] : [...command];
  const gnuTime = existsSync('/usr/bin/time');
  const timeFile = join(opts.tempDir, '..', `time-${process.pid}-${Date.now()}.txt`);
  const full = gnuTime ? ['/usr/bin/time', '-f', '%e %U %S', '-o', timeFile, ...argv] : argv;
  const freeBefore = freeBytes(opts.tempDir);
  const started = performance.now();
  const child = spawn(full[0]!, full.slice(1), {
    env: { ...process.env, ...opts.env, TMPDIR: opts.tempDir },
    cwd: opts.tempDir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-6000)));
  const tree = new TreeSampler(child.pid!, gnuTime, opts.tempDir, freeBefore);
  const sampleMs = opts.sampleMs ?? 100;
  const timer = setInterval(() => tree.sample(), sampleMs);
  tree.sample();
  const killer = opts.timeoutMs ? setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs) : undefined;
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  const seconds = (performance.now() - started) / 1000;
  clearInterval(timer);
  if (killer) clearTimeout(killer);
  let cpuSeconds = tree.cpuSeconds();
  let wall = seconds;
  if (gnuTime && existsSync(timeFile)) {
    const line = readFileSync(timeFile, 'utf8').trim().split('\n').pop() ?? '';
    const [e, u, s] = line.split(' ').map(Number);
    if (Number.isFinite(u) && Number.isFinite(s)) cpuSeconds = u! + s!;
    if (Number.isFinite(e)) wall = e!;
    rmSync(timeFile, { force: true });
  }
  return {
    seconds: wall,
    cpuSeconds,
    peakTreeRssMiB: tree.peakRss / 1024 / 1024,
    programsRssMiB: Object.fromEntries([...tree.programs].map(([k, v]) => [k, round(v / 1024, 1)])),
    diskWrittenBytes: tree.writeBytes(),
    tempPeakBytes: tree.tempPeak,
    tempFreeDropBytes: Math.max(0, tree.freeDrop),
    tempFiles: [...tree.tempFiles].slice(0, 8),
    exitCode,
    stderrTail: stderr.trim().split('\n').slice(-4).join(' | '),
  };
}

interface ProcInfo { readonly ppid: number; readonly comm: string; readonly cpuTicks: number; readonly rssPages: number }

function readProc(pid: number): ProcInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const f = stat.slice(close + 2).split(' ');
    return { ppid: Number(f[1]), comm, cpuTicks: Number(f[11]) + Number(f[12]), rssPages: Number(f[21]) };
  } catch {
    return undefined;
  }
}

/** Follows a process tree through /proc. Only PIDs at or above the root's are considered (new processes). */
class TreeSampler {
  peakRss = 0;
  tempPeak = 0;
  freeDrop = 0;
  readonly programs = new Map<string, number>();
  readonly tempFiles = new Set<string>();
  private readonly io = new Map<number, number>();
  private readonly cpu = new Map<number, number>();

  constructor(private readonly root: number, private readonly skipRoot: boolean, private readonly tempDir: string, private readonly freeBefore: number) {}

  sample(): void {
    const members = this.members();
    let rss = 0;
    for (const [pid, info] of members) {
      if (pid === this.root && this.skipRoot) continue; // GNU time itself (it writes its report file)
      rss += info.rssPages * PAGE;
      this.cpu.set(pid, info.cpuTicks);
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
        const name = info.comm;
        if (hwm > (this.programs.get(name) ?? 0)) this.programs.set(name, hwm);
        const written = Number(/write_bytes:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
        if (written > (this.io.get(pid) ?? 0)) this.io.set(pid, written);
      } catch {
        // exited between the listing and the read
      }
    }
    this.peakRss = Math.max(this.peakRss, rss);
    this.tempPeak = Math.max(this.tempPeak, dirBytes(this.tempDir, this.tempFiles));
    this.freeDrop = Math.max(this.freeDrop, this.freeBefore - freeBytes(this.tempDir));
  }

  cpuSeconds(): number {
    let ticks = 0;
    for (const v of this.cpu.values()) ticks += v;
    return ticks / CLOCK_TICKS;
  }

  writeBytes(): number {
    let sum = 0;
    for (const v of this.io.values()) sum += v;
    return sum;
  }

  private members(): Map<number, ProcInfo> {
    const all = new Map<number, ProcInfo>();
    for (const name of readdirSync('/proc')) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid < this.root) continue;
      const info = readProc(pid);
      if (info) all.set(pid, info);
    }
    const members = new Map<number, ProcInfo>();
    const rootInfo = all.get(this.root);
    if (!rootInfo) return members;
    members.set(this.root, rootInfo);
    let grew = true;
    while (grew) {
      grew = false;
      for (const [pid, info] of all) {
        if (!members.has(pid) && members.has(info.ppid)) {
          members.set(pid, info);
          grew = true;
        }
      }
    }
    return members;
  }
}

/** Bytes allocated on disk for the files under `dir`, lock files (empty but for a PID) excepted. */
export function dirBytes(dir: string, seen?: Set<string>): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const path = join(dir, name);
    try {
      const st = lstatSync(path);
      seen?.add(st.isDirectory() ? `${name}/` : name);
      if (st.isDirectory()) total += dirBytes(path, seen);
      else if (!name.endsWith('.lock')) total += st.blocks * 512; // copycat-db's run lock holds no data
    } catch {
      // removed meanwhile
    }
  }
  return total;
}

function freeBytes(dir: string): number {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return 0;
  }
}

/** CPU seconds (user + system) of one process, or 0 if it is gone. */
export function processCpuSeconds(pid: number): number {
  return (readProc(pid)?.cpuTicks ?? 0) / CLOCK_TICKS;
}

/** CPU seconds of the children a process has reaped (cutime + cstime): for the postmaster, its finished backends. */
export function reapedChildrenCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[13]) + Number(f[14])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** The PID of the process whose command line contains every one of `parts` (the first found), if any. */
export function findProcess(parts: readonly string[]): number | undefined {
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (parts.every((p) => cmdline.includes(p))) return pid;
    } catch {
      // gone
    }
  }
  return undefined;
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function median(values: readonly number[]): number {
  const v = [...values].filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}
