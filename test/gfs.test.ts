// Grandfather-father-son retention: the plan over a simulated year of daily backups (pure), and a promoted backup's
// Object Lock extended on a real radosgw and read back from it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GetObjectRetentionCommand } from '@aws-sdk/client-s3';
import { listBackups, type BackupEntry, type ObjectVersion } from '../src/repository/index.js';
import { dataKey, manifestKey, newBackupId } from '../src/repository/layout.js';
import { executePrune, planPrune } from '../src/repository/prune.js';
import { s3Repository } from '../src/repository/s3-store.js';
import { putFakeBackup } from './helpers/backup-objects.js';
import { startS3Server, type S3TestServer } from '../testkit/s3-server.js';

const DAY = 86_400_000;
const NOW = new Date('2026-12-01T12:00:00Z');

function version(key: string, kind: 'data' | 'manifest'): ObjectVersion {
  return { key, kind, versionId: `v-${key}`, deleteMarker: false, latest: true, lastModified: NOW, size: 100 };
}

/** A complete, unlocked backup taken at `time`. */
function backupAt(time: Date): BackupEntry {
  const id = newBackupId(time);
  const data = version(dataKey('p', id), 'data');
  const manifest = version(manifestKey('p', id), 'manifest');
  return {
    location: 's3://b/p', id, time: new Date(Math.floor(time.getTime() / 1000) * 1000), status: 'complete', problem: undefined, warnings: [],
    dataVersion: data, globalsVersion: undefined, manifestVersion: manifest, manifest: undefined, size: 100, plaintextSize: undefined, compressionRatio: undefined,
    lock: { kind: 'none', source: 'manifest' }, lockedUntil: undefined, versions: [manifest, data],
  };
}

/**
 * The expected keeps, computed another way than src/repository/gfs.ts: periods from ISO strings, weeks as the date
 * of their Monday.
 */
function expected(entries: readonly BackupEntry[], rules: Record<'daily' | 'weekly' | 'monthly' | 'yearly', number>): Set<string> {
  const monday = (t: Date) => new Date(t.getTime() - ((t.getUTCDay() + 6) % 7) * DAY).toISOString().slice(0, 10);
  const key = { daily: (t: Date) => t.toISOString().slice(0, 10), weekly: monday, monthly: (t: Date) => t.toISOString().slice(0, 7), yearly: (t: Date) => t.toISOString().slice(0, 4) };
  const keep = new Set<string>();
  for (const kind of ['daily', 'weekly', 'monthly', 'yearly'] as const) {
    const newest = new Map<string, BackupEntry>();
    for (const e of [...entries].sort((a, b) => b.time.getTime() - a.time.getTime())) if (!newest.has(key[kind](e.time))) newest.set(key[kind](e.time), e);
    [...newest.values()].slice(0, rules[kind]).forEach((e) => keep.add(e.id));
  }
  return keep;
}

test('GFS over a simulated year of daily backups keeps exactly the newest of each period, and says which', () => {
  // 400 daily backups at 02:17 UTC, the newest yesterday; one day skipped, and two backups on one day.
  const entries = Array.from({ length: 400 }, (_, i) => backupAt(new Date(Date.UTC(2026, 10, 30, 2, 17) - i * DAY))).filter((_, i) => i !== 45);
  entries.push(backupAt(new Date(Date.UTC(2026, 10, 29, 20, 0))));
  const rules = { daily: 7, weekly: 4, monthly: 12, yearly: 3 };
  const plan = planPrune(entries, { now: NOW, olderThanDays: 0, keepLast: 1, gfs: rules });
  const kept = new Set(plan.decisions.filter((d) => d.action === 'keep').map((d) => d.id));
  const want = expected(entries, rules);
  want.add([...entries].sort((a, b) => b.time.getTime() - a.time.getTime())[0]!.id);
  assert.deepEqual([...kept].sort(), [...want].sort());
  // 7 daily (the latest already among them) + weeks and months that reach further back + the oldest year.
  assert.ok(kept.size >= 20 && kept.size <= 26, `${kept.size} kept`);
  const at = (t: number) => plan.decisions.find((d) => d.time.getTime() === t)!;
  const evening = at(Date.UTC(2026, 10, 29, 20, 0));
  assert.equal(evening.action, 'keep');
  assert.match(evening.reason, /^daily 2026-11-29/, 'the newest of its day, not the morning one');
  const morning = at(Date.UTC(2026, 10, 29, 2, 17));
  assert.equal(morning.action, 'delete');
  const yearly = plan.decisions.filter((d) => /yearly/.test(d.reason)).map((d) => d.reason.match(/yearly (\d+)/)![1]);
  assert.deepEqual(yearly.sort(), ['2025', '2026'], 'two years have backups: both kept');
  assert.throws(() => planPrune(entries, { gfs: { weekly: -1 } }), /--keep-weekly must be a whole number/);
  // Without GFS rules the same year keeps only the newest (keep-last 1): the rules are what keeps the others.
  assert.equal(planPrune(entries, { now: NOW, olderThanDays: 0, keepLast: 1 }).decisions.filter((d) => d.action === 'keep').length, 1);
});

describe('GFS on a locked bucket (radosgw)', () => {
  let server: S3TestServer;
  before(async () => {
    server = await startS3Server();
  });
  after(async () => {
    await server?.stop();
  });

  test('a backup promoted to weekly gets its Object Lock extended, data and manifest, read back from the server', async () => {
    const { client } = server;
    const bucket = await server.createBucket({ objectLock: true });
    const now = new Date();
    const retainUntil = new Date(now.getTime() + DAY);
    const old = await putFakeBackup(client, bucket, 'p', { time: new Date(now.getTime() - 20 * DAY), retainUntil, mode: 'COMPLIANCE' });
    await putFakeBackup(client, bucket, 'p', { time: new Date(now.getTime() - 10 * DAY), retainUntil, mode: 'COMPLIANCE' });
    await putFakeBackup(client, bucket, 'p', { time: now, retainUntil, mode: 'COMPLIANCE' });
    const repository = s3Repository({ client, bucket, prefix: 'p' });
    const plan = planPrune(await listBackups(repository), { now, keepLast: 1, olderThanDays: 30, gfs: { weekly: 4 } });
    const decision = plan.decisions.find((d) => d.id === old.id)!;
    const horizon = new Date(Math.floor((now.getTime() - 20 * DAY) / 1000) * 1000 + 28 * DAY);
    assert.equal(decision.extendLock?.until.toISOString(), horizon.toISOString());

    const dry = await executePrune(repository, plan, { dryRun: true });
    assert.match(dry.backups.find((b) => b.id === old.id)!.reason, /would extend its lock to/);
    const lockOf = async (key: string, versionId: string) =>
      (await client.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: key, VersionId: versionId }))).Retention!;
    assert.equal((await lockOf(old.dataKey, old.dataVersionId!)).RetainUntilDate!.getTime(), retainUntil.getTime(), 'a dry run extends nothing');

    const report = await executePrune(repository, plan);
    assert.deepEqual(report.errors, []);
    assert.match(report.backups.find((b) => b.id === old.id)!.reason, /^weekly \d{4}-W\d{2}; lock extended to /);
    for (const [key, versionId] of [[old.dataKey, old.dataVersionId!], [old.manifestKey, old.manifestVersionId!]] as const) {
      const lock = await lockOf(key, versionId);
      assert.equal(lock.Mode, 'COMPLIANCE');
      assert.ok(Math.abs(lock.RetainUntilDate!.getTime() - horizon.getTime()) < 1000, `${key} locked until ${lock.RetainUntilDate?.toISOString()}`);
    }
    // Nothing shortens it again: a later plan without GFS keeps the extended lock and the backup.
    const later = await executePrune(repository, planPrune(await listBackups(repository), { now, keepLast: 1, olderThanDays: 0 }));
    assert.match(later.backups.find((b) => b.id === old.id)!.reason, /^locked until/);
  });
});
