import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../../bin/copycat-db.js', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Runs the real CLI as a child process, as an operator or a systemd unit would. */
export function runCli(args: string[], opts: { env?: Record<string, string>; stdin?: Buffer; killAfterMs?: number; signal?: NodeJS.Signals; onSpawn?: (child: ChildProcess) => void } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => {});
    child.stdin.end(opts.stdin);
    if (opts.killAfterMs !== undefined) setTimeout(() => child.kill(opts.signal ?? 'SIGTERM'), opts.killAfterMs);
    opts.onSpawn?.(child);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}
