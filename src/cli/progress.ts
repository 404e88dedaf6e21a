import { formatBytes } from '../units.js';
import type { MeterReading } from '../transforms/meter.js';
import type { LineSink } from './logger.js';

/** At most ~4 redraws a second: enough to look live, little enough to cost nothing. */
export const PROGRESS_REDRAW_MS = 250;
const TICK_MS = 1000;
const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface TerminalStream {
  write(text: string): boolean;
  readonly columns?: number;
}

/**
 * A one-line live status on a terminal (`⠹ backup  1.21 GiB read  48.3 MiB/s  0:00:25`; once the source's expected
 * size is known, `⠹ backup  1.21 GiB of 2.50 GiB  48%  48.3 MiB/s  0:00:25  ETA 0:00:27`), redrawn in place from
 * RunOptions.onProgress. Log lines go through `writeLine`, which clears the bar, prints the line and redraws, so the
 * two never garble each other. `stop()` clears it for good. Only used when stderr is a TTY.
 */
export class ProgressBar implements LineSink {
  private reading: MeterReading | undefined;
  private readonly started = performance.now();
  private shown = false;
  private stopped = false;
  private frame = 0;
  // The first reading draws at once, however soon after the process started.
  private lastDraw = -Infinity;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly label: string, private readonly out: TerminalStream = process.stderr) {
    // Keeps the elapsed time moving while no bytes flow (preflight, waits for a server).
    this.timer = setInterval(() => this.reading && this.draw(), TICK_MS);
    this.timer.unref();
  }

  /** RunOptions.onProgress. */
  readonly update = (reading: MeterReading): void => {
    if (this.stopped) return;
    this.reading = reading;
    if (performance.now() - this.lastDraw >= PROGRESS_REDRAW_MS) this.draw();
  };

  writeLine(line: string): void {
    this.clear();
    this.out.write(line + '\n');
    if (this.reading && !this.stopped) this.draw();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.clear();
  }

  /** The status text, without terminal control sequences. */
  render(reading: MeterReading, elapsedMs: number): string {
    const rate = reading.rate > 0 ? `${formatBytes(Math.round(reading.rate))}/s` : '—/s';
    const spinner = `${SPINNER[this.frame % SPINNER.length]} ${this.label}`;
    const expected = reading.expectedBytes;
    // The expected size is an estimate (pg_database_size counts indexes and free space): once passed, it says nothing.
    if (expected === undefined || reading.bytes > expected) {
      return `${spinner}  ${formatBytes(reading.bytes)} read  ${rate}  ${clock(elapsedMs)}`;
    }
    // Rounded down, so 100% means every expected byte went through.
    const percent = Math.floor((reading.bytes * 100) / expected);
    const eta = reading.rate > 0 ? `  ETA ${clock(((expected - reading.bytes) * 1000) / reading.rate)}` : '';
    return `${spinner}  ${formatBytes(reading.bytes)} of ${formatBytes(expected)}  ${percent}%  ${rate}  ${clock(elapsedMs)}${eta}`;
  }

  private draw(): void {
    if (this.stopped || !this.reading) return;
    this.frame++;
    this.lastDraw = performance.now();
    const width = Math.max(20, (this.out.columns || 80) - 1);
    const text = this.render(this.reading, performance.now() - this.started).slice(0, width);
    this.out.write(`\r\x1b[2K${text}`);
    this.shown = true;
  }

  private clear(): void {
    if (!this.shown) return;
    this.out.write('\r\x1b[2K');
    this.shown = false;
  }
}

export function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}
