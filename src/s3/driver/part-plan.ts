import { constants as bufferConstants } from 'node:buffer';
import { CopycatError } from '../../errors.js';
import { flagSize, formatBytes, GIB, MIB, TIB } from '../../units.js';

/** S3's smallest part (every part but the last). */
export const MIN_PART_SIZE = 5 * MIB;
/**
 * S3 allows parts up to 5 GiB, but each part is held in one Buffer (it must be re-sendable when the SDK retries),
 * and Node 20 caps a Buffer at 4 GiB.
 */
export const MAX_PART_SIZE = Math.min(5 * GIB, bufferConstants.MAX_LENGTH);
/** AWS S3 and radosgw; Scaleway allows only 1,000. */
export const DEFAULT_MAX_PARTS = 10_000;
export const SCALEWAY_MAX_PARTS = 1_000;
/** S3's largest object. */
export const MAX_OBJECT_SIZE = 5 * TIB;
/** Part size when nothing is known about the size: 156 GiB on 10,000 parts, 15.6 GiB on 1,000. */
export const DEFAULT_PART_SIZE = 16 * MIB;
export const DEFAULT_CONCURRENCY = 4;
/** An estimate is a guess (pg_dump output of a database's on-disk size, before compression): plan for 1.5 × it. */
export const SIZE_SAFETY = 1.5;

export interface PartPlanInput {
  /** Bytes the sink expects to receive, if known (`--expected-size`). 0 or undefined: unknown. */
  readonly expectedSize?: number;
  /** The provider's part limit (default 10,000; Scaleway 1,000). */
  readonly maxParts?: number;
  /** An explicit part size (`--part-size`); it must be at least 5 MiB and hold `expectedSize` in `maxParts`. */
  readonly partSize?: number;
  /** Parts uploaded at once (default 4). */
  readonly concurrency?: number;
}

export interface PartPlan {
  readonly partSize: number;
  readonly maxParts: number;
  /** The most the upload can take: partSize × maxParts (at most S3's 5 TiB); one byte more fails with S3_TOO_LARGE. */
  readonly maxBytes: number;
  readonly concurrency: number;
  /**
   * The sink's upper bound on buffered data: `concurrency` parts in flight plus the one being filled,
   * partSize × (concurrency + 1), e.g. 16 MiB × 5 = 80 MiB by default. The stream buffers in front of it add ~1 MiB each.
   */
  readonly memoryBound: number;
  /** Where the part size came from: `--part-size`, the size estimate, or the default for an unknown size. */
  readonly basis: 'explicit' | 'estimate' | 'default';
  readonly expectedSize?: number;
}

/**
 * The part limit of the provider an endpoint belongs to, for when --max-parts is not given: Scaleway's (its endpoints
 * are on scw.cloud: s3.fr-par.scw.cloud), else S3's own.
 */
export function providerMaxParts(endpoint: string | undefined): number {
  let host: string | undefined;
  try {
    host = endpoint === undefined ? undefined : new URL(endpoint).hostname.toLowerCase().replace(/\.$/, '');
  } catch {
    host = undefined;
  }
  return host === 'scw.cloud' || host?.endsWith('.scw.cloud') ? SCALEWAY_MAX_PARTS : DEFAULT_MAX_PARTS;
}

/**
 * Chooses the multipart part size before the first byte is read: S3 fixes it for the whole upload, and the
 * provider's part limit then fixes the largest object that can be written.
 */
export function planParts(input: PartPlanInput = {}): PartPlan {
  const maxParts = input.maxParts ?? DEFAULT_MAX_PARTS;
  if (!Number.isInteger(maxParts) || maxParts < 1 || maxParts > DEFAULT_MAX_PARTS) {
    throw invalid(`--max-parts ${String(maxParts)} is not a whole number from 1 to ${DEFAULT_MAX_PARTS}: pass the provider's part limit (10000 for AWS, 1000 for Scaleway)`);
  }
  const concurrency = input.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw invalid(`--concurrency ${String(concurrency)} is not a whole number from 1 to 64: pass a small number such as 4`);
  }
  const expected = input.expectedSize;
  if (expected !== undefined && (!Number.isFinite(expected) || expected < 0)) {
    throw invalid(`--expected-size ${String(expected)} is not a size: pass a byte count such as 20GiB, or leave it out`);
  }
  const estimate = expected ? expected : undefined;

  let partSize: number;
  let basis: PartPlan['basis'];
  if (input.partSize !== undefined) {
    partSize = input.partSize;
    basis = 'explicit';
    if (!Number.isInteger(partSize) || partSize < MIN_PART_SIZE) {
      throw invalid(`--part-size ${formatBytes(partSize)} is below S3's minimum part of 5 MiB: pass --part-size 5MiB or more, or leave it out`);
    }
    if (partSize > MAX_PART_SIZE) {
      throw invalid(`--part-size ${formatBytes(partSize)} is above the largest part this tool can hold (${formatBytes(MAX_PART_SIZE)}): pass a smaller --part-size`);
    }
    if (estimate !== undefined && partSize * maxParts < estimate) {
      throw invalid(`--part-size ${formatBytes(partSize)} cannot hold the expected ${formatBytes(estimate)} in ${maxParts} parts ` +
        `(at most ${formatBytes(partSize * maxParts)}): pass --part-size ${flagSize(suggestPartSize(estimate * SIZE_SAFETY, maxParts))} or more, or leave it out`);
    }
  } else if (estimate !== undefined) {
    basis = 'estimate';
    partSize = Math.max(MIN_PART_SIZE, roundUpToMiB(Math.ceil((estimate * SIZE_SAFETY) / maxParts)));
    if (partSize > MAX_PART_SIZE) {
      if (MAX_PART_SIZE * maxParts < estimate) {
        throw invalid(`the expected ${formatBytes(estimate)} does not fit in ${maxParts} parts of at most ${formatBytes(MAX_PART_SIZE)} ` +
          `(${formatBytes(MAX_PART_SIZE * maxParts)}): split the backup, or use a provider that allows more parts`);
      }
      partSize = MAX_PART_SIZE; // holds the estimate, with less than the usual margin
    }
  } else {
    basis = 'default';
    partSize = DEFAULT_PART_SIZE;
  }
  return {
    partSize,
    maxParts,
    maxBytes: Math.min(partSize * maxParts, MAX_OBJECT_SIZE),
    concurrency,
    memoryBound: partSize * (concurrency + 1),
    basis,
    ...(estimate !== undefined ? { expectedSize: estimate } : {}),
  };
}

/**
 * The error for a stream that grew past its plan, raised when the byte that would not fit arrives: before part
 * maxParts + 1 is ever sent (the server would refuse it only after the dump ran for hours).
 */
export function overflowError(plan: PartPlan, attempted: number): CopycatError {
  const planned = `${plan.maxParts} parts of ${formatBytes(plan.partSize)} = ${formatBytes(plan.maxBytes)}`;
  const why = plan.basis === 'default'
    ? `; no --expected-size was given, so the default ${formatBytes(DEFAULT_PART_SIZE)} parts were used`
    : plan.basis === 'estimate' ? `; planned from --expected-size ${formatBytes(plan.expectedSize ?? 0)}` : '';
  const larger = Math.max(plan.maxBytes * 2, attempted * 2);
  return new CopycatError('S3_TOO_LARGE',
    `the backup outgrew its upload plan (${planned}${why}): pass --expected-size larger than ${formatBytes(plan.maxBytes)} ` +
    `(e.g. ${flagSize(larger)}) or --part-size ${flagSize(suggestPartSize(larger, plan.maxParts))} or more; nothing was kept`);
}

function suggestPartSize(bytes: number, maxParts: number): number {
  return Math.min(MAX_PART_SIZE, Math.max(MIN_PART_SIZE, roundUpToMiB(Math.ceil(bytes / maxParts))));
}

function roundUpToMiB(bytes: number): number {
  return Math.ceil(bytes / MIB) * MIB;
}

function invalid(message: string): CopycatError {
  return new CopycatError('S3_PLAN_INVALID', message);
}

