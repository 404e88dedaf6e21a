// The backup catalog (listBackups) and prune, against a real S3 server with versioning and Object Lock (radosgw),
// plus planPrune's rules as pure unit tests.
import { s3Repository } from '../src/repository/s3-store.js';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateMultipartUploadCommand, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { CopycatError } from '../src/errors.js';
import type { LogFields, Logger, LogLevel } from '../src/log.js';
import { findBackup, latestComplete, listBackups, type BackupEntry, type BackupStatus, type ObjectVersion } from '../src/repository/index.js';
import { dataKey, manifestKey, newBackupId } from '../src/repository/layout.js';
import { executePrune, planPrune, type PruneOutcome, type PruneReport } from '../src/repository/prune.js';
import { addDeleteMarker, bucketVersions, multipartKeys, putFakeBackup, putObject } from './helpers/backup-objects.js';
import { startS3Server, type S3TestServer } from '../testkit/s3-server.js';

const DAY = 24 * 60 * 60 * 1000;
const HOUR = 60 * 60 * 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Whole seconds: what ids and retain-until dates round-trip exactly. */
const wholeSeconds = (ms: number): Date => new Date(Math.ceil(ms / 1000) * 1000);

function recordingLogger(): Logger & { events: { level: LogLevel; event: string; fields: LogFields }[] } {
  const events: { level: LogLevel; event: string; fields: LogFields }[] = [];
  return { events, log: (level, event, fields = {}) => events.push({ level, event, fields }) };
}

function outcome(report: PruneReport, id: string): PruneOutcome {
  const o = report.backups.find((b) => b.id === id);
  assert.ok(o, `no outcome for ${id} in ${JSON.stringify(report.backups.map((b) => b.id))}`);
  return o;
}

function isCopycat(code: string, message?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof CopycatError, `expected CopycatError ${code}, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    assert.doesNotMatch(err.message, /\n/);
    return true;
  };
}

describe('S3 catalog and prune (radosgw)', () => {
  let server: S3TestServer;

  before(async () => {
    server = await startS3Server();
  });

  after(async () => {
    await server?.stop();
  });

  test('listBackups: complete, incomplete, orphan and deleted backups, with ratio and locked-until; other keys ignored', async () => {
    const { client } = server;
    const bucket = await server.createBucket({ objectLock: true });
    const t0 = Date.now();
    const longLock = wholeSeconds(t0 + HOUR);
    const a = await putFakeBackup(client, bucket, 'p', {
      time: new Date(t0 - 3 * DAY), storedBytes: 1000, plaintextBytes: 3000, retainUntil: longLock, mode: 'COMPLIANCE',
    });
    const b = await putFakeBackup(client, bucket, 'p', { time: new Date(t0 - 2.5 * DAY), manifest: 'none', retainUntil: wholeSeconds(t0 + 2 * HOUR) });
    const c = await putFakeBackup(client, bucket, 'p', { time: new Date(t0 - 2 * DAY), data: false });
    const d = await putFakeBackup(client, bucket, 'p', { time: new Date(t0 - 1.5 * DAY), manifest: 'garbage' });
    const e = await putFakeBackup(client, bucket, 'p', { time: new Date(t0 - 1 * DAY), manifest: 'mismatch' });
    const f = await putFakeBackup(client, bucket, 'p', { time: new Date(t0 - 0.5 * DAY) });
    await addDeleteMarker(client, bucket, f.dataKey);
    await addDeleteMarker(client, bucket, f.manifestKey);
    const g = await putFakeBackup(client, bucket, 'p', { time: new Date(t0 - HOUR), storedBytes: 100, plaintextBytes: 250 });
    const h = newBackupId(new Date(t0 - 0.25 * DAY)); // only a delete marker: nothing of it is left
    await addDeleteMarker(client, bucket, dataKey('p', h));
    // Not ours: a sibling prefix, a key that merely starts like the prefix, other names under it, a deeper level.
    const other = newBackupId(new Date(t0 - 10 * DAY));
    await putObject(client, bucket, dataKey('p2', other), 'x');
    await putObject(client, bucket, 'p-other', 'x');
    await putObject(client, bucket, 'p/notes.txt', 'x');
    await putObject(client, bucket, `p/sub/${other}.backup`, 'x');

    const entries = await listBackups(s3Repository({ client: client, bucket: bucket, prefix: 'p' }));
    assert.deepEqual(entries.map((x) => x.id), [a.id, b.id, c.id, d.id, e.id, f.id, h, g.id], 'every backup, oldest first, nothing else');
    const byId = (id: string): BackupEntry => findBackup(entries, id);
    const status = (id: string): BackupStatus => byId(id).status;

    const ea = byId(a.id);
    assert.equal(ea.status, 'complete');
    assert.equal(ea.problem, undefined);
    assert.equal(ea.compressionRatio, 3);
    assert.equal(ea.size, 1000);
    assert.equal(ea.plaintextSize, 3000);
    assert.equal(ea.lockedUntil?.getTime(), longLock.getTime());
    assert.deepEqual(ea.lock, { kind: 'retention', mode: 'COMPLIANCE', until: longLock, source: 'manifest' });
    assert.equal(ea.dataVersion?.versionId, a.dataVersionId);
    assert.equal(ea.manifestVersion?.versionId, a.manifestVersionId);
    assert.equal(ea.manifest?.id, a.id);
    assert.deepEqual(ea.warnings, []);
    assert.equal(ea.time.getTime(), Math.floor((t0 - 3 * DAY) / 1000) * 1000, 'time comes from the id');

    const eb = byId(b.id);
    assert.equal(eb.status, 'incomplete');
    assert.match(eb.problem ?? '', /no manifest/);
    assert.equal(eb.lockedUntil?.getTime(), b.retainUntil!.getTime(), 'locked-until from GetObjectRetention');
    assert.equal(eb.lock.kind === 'retention' && eb.lock.source, 'server');
    assert.equal(eb.compressionRatio, undefined);

    assert.equal(status(c.id), 'orphan-manifest');
    assert.match(byId(c.id).problem ?? '', /manifest without data/);
    assert.equal(status(d.id), 'incomplete');
    assert.match(byId(d.id).problem ?? '', /manifest unreadable/);
    assert.equal(status(e.id), 'incomplete');
    assert.match(byId(e.id).problem ?? '', /names data version some-other-version, which is not among the 1 version of s3:\/\/.*\.backup$/);
    // Delete markers hide nothing from the catalog: the backup's own versions are still there, so it is complete.
    const ef = byId(f.id);
    assert.equal(ef.status, 'complete');
    assert.equal(ef.versions.filter((v) => v.deleteMarker).length, 2);
    assert.equal(ef.dataVersion?.versionId, f.dataVersionId, 'the version behind the marker is the one restored');
    assert.equal(ef.warnings.length, 2);
    assert.match(ef.warnings[0]!, new RegExp(`^a delete marker hides s3://${bucket}/${f.dataKey} \\(VersionId \\S+\\) from plain S3 reads; the backup's own version remains`));
    assert.match(ef.warnings[1]!, new RegExp(`^a delete marker hides s3://${bucket}/${f.manifestKey} `));
    assert.equal(status(h), 'deleted');
    assert.equal(byId(h).problem, 'deleted: only delete markers are left');
    const eg = byId(g.id);
    assert.equal(eg.status, 'complete');
    assert.equal(eg.compressionRatio, 2.5);
    assert.deepEqual(eg.lock, { kind: 'none', source: 'manifest' });
    assert.equal(eg.lockedUntil, undefined);

    assert.equal(latestComplete(entries).id, g.id);
    // Pagination: two entries per page gives the same catalog.
    assert.deepEqual(await listBackups(s3Repository({ client, bucket, prefix: 'p', pageSize: 2 })), entries);
    assert.deepEqual(await listBackups(s3Repository({ client, bucket, prefix: 'p/' })), entries, 'a trailing slash changes nothing');
    assert.deepEqual((await listBackups(s3Repository({ client: client, bucket: bucket, prefix: 'p2' }))).map((x) => x.id), [other]);

    const missing = newBackupId(new Date(t0));
    assert.throws(() => findBackup(entries, missing), isCopycat('BACKUP_NOT_FOUND', new RegExp(`^no backup ${missing} under s3://${bucket}/p: run copycat-db list$`)));
    assert.throws(() => findBackup([], 'latest', `s3://${bucket}/p`), isCopycat('BACKUP_NOT_FOUND', /no backup latest under s3:\/\/.*\/p \(ids look like/));
    assert.throws(() => latestComplete(entries.filter((x) => x.status !== 'complete')), isCopycat('NO_COMPLETE_BACKUP', /no complete backup under s3:\/\/.*\/p/));
    assert.throws(() => latestComplete([], `s3://${bucket}/p`), isCopycat('NO_COMPLETE_BACKUP', /run copycat-db backup first/));
  });

  test('prune deletes versions whose retention passed, keeps locked ones and the newest N, cleans delete markers, stays inside the prefix', async () => {
    const { client } = server;
    const bucket = await server.createBucket({ objectLock: true });
    const t0 = Date.now();
    const shortLock = wholeSeconds(t0 + 6000);
    const longLock = wholeSeconds(t0 + HOUR);
    const at = (ms: number) => new Date(t0 - ms);

    const c1 = await putFakeBackup(client, bucket, 'p', { time: at(60 * DAY), retainUntil: shortLock });
    const c2 = await putFakeBackup(client, bucket, 'p', { time: at(50 * DAY), retainUntil: longLock, mode: 'COMPLIANCE' });
    // Data locked, manifest not: shows why the data is deleted first (a refusal leaves the backup whole).
    const c3 = await putFakeBackup(client, bucket, 'p', { time: at(45 * DAY), retainUntil: shortLock, lockManifest: false });
    const c4 = await putFakeBackup(client, bucket, 'p', { time: at(10 * DAY), retainUntil: shortLock });
    const c5 = await putFakeBackup(client, bucket, 'p', { time: at(5 * DAY), retainUntil: shortLock });
    // c5's manifest was deleted once and written again: a delete marker in the middle of its history.
    const c5Marker = await addDeleteMarker(client, bucket, c5.manifestKey);
    const c5Body = (await listBackups(s3Repository({ client: client, bucket: bucket, prefix: 'p' }))).find((x) => x.id === c5.id)!.manifest;
    const c5Manifest2 = await putObject(client, bucket, c5.manifestKey, JSON.stringify(c5Body));
    const c6 = await putFakeBackup(client, bucket, 'p', { time: at(1 * DAY), retainUntil: shortLock });
    const i1 = await putFakeBackup(client, bucket, 'p', { time: at(3 * DAY), manifest: 'none', retainUntil: shortLock });
    const i2 = await putFakeBackup(client, bucket, 'p', { time: at(HOUR), manifest: 'none', retainUntil: shortLock });
    const d1 = await putFakeBackup(client, bucket, 'p', { time: at(70 * DAY), retainUntil: shortLock });
    await addDeleteMarker(client, bucket, d1.dataKey);
    await addDeleteMarker(client, bucket, d1.manifestKey);
    const m1 = newBackupId(at(80 * DAY)); // a delete marker on a key that never held anything
    await addDeleteMarker(client, bucket, dataKey('p', m1));
    // Outside the prefix: an old, unlocked backup in a sibling prefix (with a marker), and a key starting like it.
    const outsideId = newBackupId(at(90 * DAY));
    await putObject(client, bucket, dataKey('p2', outsideId), 'x');
    await putObject(client, bucket, manifestKey('p2', outsideId), '{}');
    await addDeleteMarker(client, bucket, dataKey('p2', outsideId));
    await putObject(client, bucket, 'p-other', 'x');
    const outside = (all: string[]) => all.filter((line) => !line.startsWith('p/'));
    const outsideBefore = outside(await bucketVersions(client, bucket));
    assert.equal(outsideBefore.length, 4);

    // The server enforces the lock: a versioned DELETE of a locked version is refused.
    await assert.rejects(
      client.send(new DeleteObjectCommand({ Bucket: bucket, Key: c1.dataKey, VersionId: c1.dataVersionId })),
      { name: 'AccessDenied' },
    );
    assert.ok(Date.now() < shortLock.getTime() - 1500, 'setup took too long: the short locks are about to expire');

    const opts = { keepLast: 2, olderThanDays: 30 };

    // Run 1, while the short locks hold: nothing is deleted but delete markers that hide nothing.
    const log1 = recordingLogger();
    const run1 = await executePrune(s3Repository({ client: client, bucket: bucket, prefix: 'p' }), planPrune(await listBackups(s3Repository({ client: client, bucket: bucket, prefix: 'p' })), opts), { log: log1 });
    assert.equal(outcome(run1, c1.id).reason, `locked until ${shortLock.toISOString()}`);
    assert.equal(outcome(run1, c2.id).reason, `locked until ${longLock.toISOString()}`);
    assert.equal(outcome(run1, c4.id).reason, 'younger than 30 days');
    assert.equal(outcome(run1, c5.id).reason, 'within keep-last 2');
    assert.equal(outcome(run1, c5.id).deleteMarkersDeleted, 1);
    assert.equal(outcome(run1, c6.id).reason, 'within keep-last 2');
    assert.equal(outcome(run1, i2.id).reason, 'incomplete, younger than 1 day (may still be uploading)');
    assert.equal(outcome(run1, d1.id).status, 'complete', 'delete markers hide nothing from the catalog');
    assert.equal(outcome(run1, d1.id).reason, `locked until ${shortLock.toISOString()}`);
    assert.equal(outcome(run1, d1.id).deleteMarkersDeleted, 2, "a kept backup's delete markers are clutter, and go");
    assert.deepEqual(outcome(run1, m1), { ...outcome(run1, m1), action: 'deleted', reason: 'only delete markers left; deleted 1 delete marker' });
    assert.equal(run1.totals.versionsDeleted, 0);
    assert.deepEqual(run1.errors, []);
    assert.equal(log1.events.filter((x) => x.event === 'prune.keep').length, 9);
    assert.deepEqual(
      log1.events.find((x) => x.event === 'prune.keep' && x.fields['id'] === c4.id)?.fields,
      { id: c4.id, status: 'complete', reason: 'younger than 30 days', lockedUntil: shortLock.toISOString(), versionsDeleted: 0, deleteMarkersDeleted: 0, dryRun: false },
    );
    const afterRun1 = await bucketVersions(client, bucket);
    assert.ok(!afterRun1.includes(`${c5.manifestKey} ${c5Marker} marker`), "c5's stray delete marker is gone");
    assert.ok(afterRun1.includes(`${c5.manifestKey} ${c5Manifest2}`));
    assert.ok(!afterRun1.some((l) => l.startsWith(dataKey('p', m1))));

    // Run 2 planned for a time past the short locks, while the server still enforces them: it refuses, and since the
    // retention the server reported still holds by this machine's clock, prune reports the backups as locked, not as
    // errors. The data goes first: c3's refused data leaves its unlocked manifest in place, and the backup whole.
    const run2 = await executePrune(s3Repository({ client: client, bucket: bucket, prefix: 'p' }), planPrune(await listBackups(s3Repository({ client: client, bucket: bucket, prefix: 'p' })), { ...opts, now: new Date(t0 + 10 * 60_000) }));
    assert.deepEqual(run2.errors, []);
    assert.equal(outcome(run2, c1.id).reason, `locked until ${shortLock.toISOString()} (the server refused the deletion; 1 other version not tried)`);
    assert.equal(outcome(run2, c1.id).action, 'kept');
    assert.equal(outcome(run2, i1.id).reason, `locked until ${shortLock.toISOString()} (the server refused the deletion)`);
    assert.equal(outcome(run2, c2.id).reason, `locked until ${longLock.toISOString()}`);
    assert.equal(outcome(run2, c3.id).reason, `locked until ${shortLock.toISOString()} (the server refused the deletion; 1 other version not tried)`);
    assert.equal(outcome(run2, c3.id).versionsDeleted, 0);
    assert.equal(findBackup(await listBackups(s3Repository({ client: client, bucket: bucket, prefix: 'p' })), c3.id).status, 'complete');

    // Wait for the short locks to pass (the server compares whole seconds: leave a margin).
    await sleep(Math.max(0, shortLock.getTime() - Date.now()) + 1200);

    // Dry run: the plan, and not one deletion.
    const before = await bucketVersions(client, bucket);
    const logDry = recordingLogger();
    const dry = await executePrune(s3Repository({ client: client, bucket: bucket, prefix: 'p' }), planPrune(await listBackups(s3Repository({ client: client, bucket: bucket, prefix: 'p' })), opts), { dryRun: true, log: logDry });
    assert.deepEqual(await bucketVersions(client, bucket), before, 'a dry run deletes nothing');
    assert.equal(dry.dryRun, true);
    assert.deepEqual(
      dry.backups.filter((x) => x.action === 'would-delete').map((x) => x.id).sort(),
      [c1.id, c3.id, i1.id, d1.id].sort(),
    );
    assert.equal(outcome(dry, c1.id).reason, 'retention passed; would delete 2 versions');
    assert.ok(logDry.events.some((x) => x.event === 'prune.delete' && x.fields['id'] === c1.id && x.fields['dryRun'] === true));

    // The real run.
    const log3 = recordingLogger();
    const run3 = await executePrune(s3Repository({ client: client, bucket: bucket, prefix: 'p' }), planPrune(await listBackups(s3Repository({ client: client, bucket: bucket, prefix: 'p' })), opts), { log: log3 });
    assert.deepEqual(run3.errors, []);
    assert.deepEqual(
      run3.backups.map((x) => [x.id, x.action, x.reason]),
      [
        [d1.id, 'deleted', 'retention passed; deleted 2 versions'],
        [c1.id, 'deleted', 'retention passed; deleted 2 versions'],
        [c2.id, 'kept', `locked until ${longLock.toISOString()}`],
        [c3.id, 'deleted', 'retention passed; deleted 2 versions'],
        [c4.id, 'kept', 'younger than 30 days'],
        [c5.id, 'kept', 'within keep-last 2'],
        [i1.id, 'deleted', 'retention passed; deleted 1 version'],
        [c6.id, 'kept', 'within keep-last 2'],
        [i2.id, 'kept', 'incomplete, younger than 1 day (may still be uploading)'],
      ],
    );
    assert.deepEqual(run3.totals, { backupsDeleted: 4, backupsKept: 5, versionsDeleted: 7, deleteMarkersDeleted: 0, uploadsAborted: 0 });
    assert.deepEqual(
      log3.events.filter((x) => x.event === 'prune.delete').map((x) => x.fields['id']).sort(),
      [c1.id, c3.id, i1.id, d1.id].sort(),
    );
    assert.equal(log3.events.filter((x) => x.event === 'prune.keep').length, 5);

    const remaining = await bucketVersions(client, bucket);
    for (const gone of [c1, c3, i1, d1]) {
      assert.ok(!remaining.some((l) => l.startsWith(`p/${gone.id}`)), `${gone.id} has no version or marker left`);
    }
    const left = await listBackups(s3Repository({ client: client, bucket: bucket, prefix: 'p' }));
    assert.deepEqual(left.map((x) => x.id), [c2.id, c4.id, c5.id, c6.id, i2.id]);
    assert.ok(left.every((x) => x.versions.every((v: ObjectVersion) => !v.deleteMarker)), 'no delete marker left under the prefix');
    assert.deepEqual(outside(remaining), outsideBefore, 'keys outside the prefix are untouched');
  });

  test('prune aborts multipart uploads of backup keys under the prefix started more than a day ago, nothing else', async () => {
    const { client } = server;
    const bucket = await server.createBucket({ objectLock: true });
    const id = newBackupId(new Date(Date.now() - 2 * DAY));
    const keys = [dataKey('p', id), dataKey('p2', id), 'p-other', 'p/junk.bin'];
    for (const Key of keys) await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));

    const plan = (now?: Date) => listBackups(s3Repository({ client: client, bucket: bucket, prefix: 'p' })).then((entries) => planPrune(entries, { now }));
    const fresh = await executePrune(s3Repository({ client: client, bucket: bucket, prefix: 'p' }), await plan());
    assert.deepEqual(
      fresh.uploads.map((u) => [u.key, u.action, u.reason]),
      [
        [dataKey('p', id), 'kept', 'started less than a day ago (may still be running)'],
        ['p/junk.bin', 'kept', 'not a backup key: left alone'],
      ],
    );
    const later = new Date(Date.now() + 2 * DAY);
    const dry = await executePrune(s3Repository({ client: client, bucket: bucket, prefix: 'p' }), await plan(later), { dryRun: true });
    assert.equal(dry.uploads.find((u) => u.key === dataKey('p', id))?.action, 'would-abort');
    assert.deepEqual(await multipartKeys(client, bucket), [...keys].sort(), 'a dry run aborts nothing');

    const log = recordingLogger();
    const run = await executePrune(s3Repository({ client: client, bucket: bucket, prefix: 'p' }), await plan(later), { log });
    assert.equal(run.totals.uploadsAborted, 1);
    assert.equal(run.uploads.find((u) => u.key === dataKey('p', id))?.action, 'aborted');
    assert.ok(log.events.some((x) => x.event === 'prune.abort-upload' && x.fields['key'] === dataKey('p', id)));
    assert.deepEqual(await multipartKeys(client, bucket), [dataKey('p2', id), 'p-other', 'p/junk.bin'].sort());
  });
});

// ---------------------------------------------------------------------------------------------------- planPrune

const NOW = new Date('2026-06-15T12:00:00Z');

function version(key: string, kind: 'data' | 'manifest', versionId: string, extra: Partial<ObjectVersion> = {}): ObjectVersion {
  return { key, kind, versionId, deleteMarker: false, latest: true, lastModified: NOW, size: kind === 'data' ? 100 : 10, ...extra };
}

/** A hand-made catalog entry: `ago` before NOW, with the given status. LastModified is always NOW, on purpose. */
function entry(ago: number, status: BackupStatus, opts: { lockedUntil?: Date | null; noManifest?: boolean } = {}): BackupEntry {
  const id = newBackupId(new Date(NOW.getTime() - ago));
  const time = new Date(Math.floor((NOW.getTime() - ago) / 1000) * 1000);
  const data = version(dataKey('p', id), 'data', `d-${id}`);
  const manifest = status === 'complete' || (status === 'incomplete' && !opts.noManifest) ? version(manifestKey('p', id), 'manifest', `m-${id}`) : undefined;
  let versions: ObjectVersion[] = [...(manifest ? [manifest] : []), data];
  // 'deleted': only delete markers are left (the catalog's meaning).
  if (status === 'deleted') versions = [version(dataKey('p', id), 'data', `x-${id}`, { deleteMarker: true, latest: true, size: undefined })];
  const lockedUntil = opts.lockedUntil === undefined ? new Date(NOW.getTime() - DAY) : opts.lockedUntil;
  return {
    location: 's3://b/p',
    id,
    time,
    status,
    problem: status === 'complete' ? undefined : 'test',
    warnings: [],
    dataVersion: status === 'deleted' ? undefined : data,
    globalsVersion: undefined,
    manifestVersion: manifest,
    manifest: undefined,
    size: 100,
    plaintextSize: undefined,
    compressionRatio: undefined,
    lock: lockedUntil ? { kind: 'retention', mode: 'GOVERNANCE', until: lockedUntil, source: 'manifest' } : { kind: 'none', source: 'manifest' },
    lockedUntil: lockedUntil ?? undefined,
    versions,
  };
}

function decisions(entries: BackupEntry[], opts: Parameters<typeof planPrune>[1] = {}): [string, string][] {
  const plan = planPrune(entries, { now: NOW, ...opts });
  return plan.decisions.map((d) => [d.action, d.reason]);
}

describe('planPrune rules', () => {
  test('keep-last counts only complete backups and protects them whatever their age; the others go when old and unlocked', () => {
    const entries = [100, 90, 80, 70, 60].map((d) => entry(d * DAY, 'complete'));
    entries.push(entry(50 * DAY, 'incomplete', { noManifest: true }));
    assert.deepEqual(decisions(entries), [
      ['delete', 'older than 30 days, not within keep-last 3; retention passed'],
      ['delete', 'older than 30 days, not within keep-last 3; retention passed'],
      ['keep', 'within keep-last 3'],
      ['keep', 'within keep-last 3'],
      ['keep', 'within keep-last 3'],
      ['delete', 'incomplete (no manifest) and older than 1 day; retention passed'],
    ]);
    assert.deepEqual(decisions(entries.slice(0, 5), { keepLast: 0 }).map(([a]) => a), ['delete', 'delete', 'delete', 'delete', 'delete']);
    assert.deepEqual(decisions(entries.slice(0, 5), { keepLast: 10 }).map(([a]) => a), ['keep', 'keep', 'keep', 'keep', 'keep']);
  });

  test('age comes from the id, never LastModified; the default is 30 days', () => {
    const entries = [entry(31 * DAY, 'complete'), entry(29 * DAY, 'complete'), ...[3, 2, 1].map((d) => entry(d * HOUR, 'complete'))];
    assert.deepEqual(decisions(entries).slice(0, 2), [
      ['delete', 'older than 30 days, not within keep-last 3; retention passed'],
      ['keep', 'younger than 30 days'],
    ]);
    assert.deepEqual(decisions(entries, { olderThanDays: 1 }).slice(0, 2).map(([a]) => a), ['delete', 'delete']);
    assert.equal(decisions(entries, { olderThanDays: 1, keepLast: 0 })[4]![1], 'younger than 1 day');
  });

  test('a retention not yet passed keeps the backup; one that ends exactly now does not', () => {
    const locked = new Date(NOW.getTime() + 1000);
    const entries = [entry(60 * DAY, 'complete', { lockedUntil: locked }), entry(59 * DAY, 'complete', { lockedUntil: NOW }), entry(58 * DAY, 'complete', { lockedUntil: null })];
    assert.deepEqual(decisions(entries, { keepLast: 0 }), [
      ['keep', `locked until ${locked.toISOString()}`],
      ['delete', 'older than 30 days, not within keep-last 0; retention passed'],
      ['delete', 'older than 30 days, not within keep-last 0; no retention'],
    ]);
    const unknown = { ...entry(60 * DAY, 'incomplete', { noManifest: true }), lock: { kind: 'unknown', reason: 'x' } as const, lockedUntil: undefined };
    assert.deepEqual(decisions([unknown]), [['delete', 'incomplete (no manifest) and older than 1 day; retention to be checked']]);
    assert.equal(planPrune([unknown], { now: NOW }).decisions[0]!.versions[0]!.lockedUntil, undefined, 'left for executePrune to ask the server');
  });

  test('data without manifest goes after a day; other incomplete and orphan backups follow the age rule', () => {
    const entries = [
      entry(25 * HOUR, 'incomplete', { noManifest: true }),
      entry(23 * HOUR, 'incomplete', { noManifest: true }),
      entry(10 * DAY, 'incomplete'), // unreadable manifest: not evidence of a failed upload
      entry(10 * DAY, 'orphan-manifest'),
      entry(40 * DAY, 'orphan-manifest'),
    ];
    const byReason = new Map(planPrune(entries, { now: NOW }).decisions.map((d) => [d.id, d]));
    assert.equal(byReason.get(entries[0]!.id)!.action, 'delete');
    assert.equal(byReason.get(entries[1]!.id)!.reason, 'incomplete, younger than 1 day (may still be uploading)');
    assert.equal(byReason.get(entries[2]!.id)!.reason, 'younger than 30 days');
    assert.equal(byReason.get(entries[3]!.id)!.reason, 'younger than 30 days');
    assert.equal(byReason.get(entries[4]!.id)!.reason, 'older than 30 days; retention passed');
  });

  test('delete markers: all go, whether the backup stays or goes; markers alone go whatever their age', () => {
    const markersOnly = entry(1 * HOUR, 'deleted');
    const stray = version(manifestKey('p', 'x'), 'manifest', 'stray', { deleteMarker: true, latest: true, size: undefined });
    const complete = entry(1 * DAY, 'complete');
    const withStray = { ...complete, versions: [{ ...stray, key: manifestKey('p', complete.id) }, ...complete.versions] };
    const old = entry(60 * DAY, 'complete');
    const oldWithStray = { ...old, versions: [{ ...stray, key: manifestKey('p', old.id) }, ...old.versions] };
    const plan = planPrune([oldWithStray, markersOnly, withStray], { now: NOW, keepLast: 1 });
    const d = new Map(plan.decisions.map((x) => [x.id, x]));
    assert.deepEqual([d.get(markersOnly.id)!.action, d.get(markersOnly.id)!.reason], ['delete', 'only delete markers left']);
    assert.equal(d.get(withStray.id)!.action, 'keep');
    assert.deepEqual(d.get(withStray.id)!.deleteMarkers.map((m) => m.versionId), ['stray'], 'a marker, even a current one, hides nothing the catalog uses');
    assert.equal(d.get(oldWithStray.id)!.action, 'delete');
    assert.deepEqual(d.get(oldWithStray.id)!.deleteMarkers.map((m) => m.versionId), ['stray']);
  });

  test("deletion order: the data, then the manifest; on each key the backup's own version last", () => {
    const e = entry(60 * DAY, 'complete');
    const other = (v: ObjectVersion, id: string): ObjectVersion => ({ ...v, versionId: id, latest: false });
    const [m, d] = e.versions as [ObjectVersion, ObjectVersion];
    // Newer versions someone else wrote over both keys, listed before the backup's own.
    const shuffled = { ...e, versions: [other(m, 'm-new'), m, other(d, 'd-new'), d] };
    const plan = planPrune([shuffled], { now: NOW, keepLast: 0 });
    assert.deepEqual(plan.decisions[0]!.versions.map((v) => v.versionId), ['d-new', d.versionId, 'm-new', m.versionId]);
    assert.equal(plan.decisions[0]!.versions.find((v) => v.versionId === d.versionId)!.lockedUntil?.getTime(), NOW.getTime() - DAY);
    assert.equal(plan.decisions[0]!.versions.find((v) => v.versionId === 'd-new')!.lockedUntil, undefined);
  });

  test('bad options are refused with one-line errors', () => {
    assert.throws(() => planPrune([], { keepLast: -1 }), isCopycat('OPTION_INVALID', /keep-last/));
    assert.throws(() => planPrune([], { keepLast: 1.5 }), isCopycat('OPTION_INVALID', /keep-last/));
    assert.throws(() => planPrune([], { olderThanDays: Number.NaN }), isCopycat('OPTION_INVALID', /older-than/));
  });
});
