/** The emulator itself: documented paths, error shapes, transitions and Range semantics, so the source's tests mean something. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { startScalewayEmulator, type ScalewayEmulator } from './helpers/scaleway-emulator.js';

const KEY = 'emulator-test-key';
const P = '/rdb/v1/regions/fr-par';
const payload = randomBytes(100_000);
let emu: ScalewayEmulator;

// Transitions are slow enough (300 ms) that intermediate states stay observable when test files run in parallel.
before(async () => {
  emu = await startScalewayEmulator({
    secretKey: KEY, dump: () => payload, downloadUrlTtlMs: 600,
    delays: { backupCreate: 300, backupExport: 30, instanceCreate: 300, instanceConfigure: 300, instanceDelete: 30 },
  });
});
after(() => emu.close());

async function call(method: 'GET' | 'POST' | 'DELETE' | 'PATCH', path: string, body?: unknown, headers: Record<string, string> = { 'x-auth-token': KEY }) {
  const res = await request(`${emu.url}${path}`, {
    method, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: text ? (JSON.parse(text) as Record<string, any>) : undefined };
}

const until = async (fn: () => Promise<boolean>) => {
  for (let i = 0; i < 1000 && !(await fn()); i++) await new Promise((r) => setTimeout(r, 5));
};

test('auth: no or wrong X-Auth-Token is denied_authentication 401', async () => {
  const none = await call('GET', `${P}/backups`, undefined, {});
  assert.equal(none.status, 401);
  assert.deepEqual(none.json, { message: 'authentication is denied', method: 'api_key', reason: 'not_found', type: 'denied_authentication' });
  assert.equal((await call('GET', `${P}/backups`, undefined, { 'x-auth-token': 'nope' })).json!.reason, 'invalid_argument');
});

test('backups: validation, transient_state, creating → ready → exporting → ready with a download URL', async () => {
  const inst = emu.addInstance({ name: 'db', databases: ['app'] });
  const dotted = await call('POST', `${P}/backups`, { instance_id: inst.id, database_name: 'app', name: 'a.b', expires_at: new Date(Date.now() + 60_000).toISOString() });
  assert.equal(dotted.status, 400);
  assert.deepEqual(dotted.json, { details: [{ argument_name: 'name', help_message: 'must not contain dots', reason: 'constraint' }], message: 'invalid argument(s)', type: 'invalid_arguments' });
  assert.equal((await call('POST', `${P}/backups`, { instance_id: inst.id, database_name: 'nope', name: 'x' })).json!.resource, 'database');

  const created = await call('POST', `${P}/backups`, { instance_id: inst.id, database_name: 'app', name: 'nightly', expires_at: new Date(Date.now() + 60_000).toISOString() });
  assert.equal(created.json!.status, 'creating');
  assert.equal(created.json!.size, null);
  const id = created.json!.id as string;
  assert.equal((await call('GET', `${P}/instances/${inst.id}`)).json!.status, 'backuping');
  const early = await call('POST', `${P}/backups/${id}/export`, {});
  assert.equal(early.status, 409);
  assert.deepEqual(early.json, { current_state: 'creating', message: 'resource is in a transient state', resource: 'database_backup', resource_id: id, type: 'transient_state' });

  await until(async () => (await call('GET', `${P}/backups/${id}`)).json!.status === 'ready');
  assert.equal((await call('GET', `${P}/backups/${id}`)).json!.size, payload.length);
  assert.equal((await call('POST', `${P}/backups/${id}/export`, {})).json!.status, 'exporting');
  await until(async () => !!(await call('GET', `${P}/backups/${id}`)).json!.download_url);
  const b = (await call('GET', `${P}/backups/${id}`)).json!;
  assert.equal(b.status, 'ready');
  assert.ok(Date.parse(b.download_url_expires_at) > Date.now());

  const full = await request(b.download_url);
  assert.equal(full.statusCode, 200);
  assert.ok(Buffer.from(await full.body.arrayBuffer()).equals(payload));
  const part = await request(b.download_url, { headers: { range: 'bytes=99000-' } });
  assert.equal(part.statusCode, 206);
  assert.equal(part.headers['content-range'], `bytes 99000-99999/${payload.length}`);
  assert.ok(Buffer.from(await part.body.arrayBuffer()).equals(payload.subarray(99000)));
  const bad = await request(b.download_url, { headers: { range: 'bytes=100000-' } });
  assert.equal(bad.statusCode, 416);
  await bad.body.dump();

  await new Promise((r) => setTimeout(r, 650));
  const expired = await request(b.download_url);
  assert.equal(expired.statusCode, 403);
  assert.match(await expired.body.text(), /AccessDenied/);

  const list = await call('GET', `${P}/backups?instance_id=${inst.id}&order_by=created_at_desc`);
  assert.equal(list.json!.total_count, 1);
  assert.equal(list.json!.database_backups[0].id, id);
});

test('snapshots, create-instance, endpoints and delete follow their transitions', async () => {
  const prod = emu.addInstance({ name: 'prod' });
  const older = emu.addSnapshot({ instanceId: prod.id, createdAt: new Date(Date.now() - 7200_000) });
  const newer = emu.addSnapshot({ instanceId: prod.id, createdAt: new Date(Date.now() - 3600_000) });
  const listed = await call('GET', `${P}/snapshots?instance_id=${prod.id}&order_by=created_at_desc&page=1&page_size=1`);
  assert.deepEqual([listed.json!.total_count, listed.json!.snapshots.map((s: { id: string }) => s.id)], [2, [newer.id]]);
  assert.equal((await call('GET', `${P}/snapshots?instance_id=${prod.id}&order_by=created_at_desc&page=2&page_size=1`)).json!.snapshots[0].id, older.id);

  const made = await call('POST', `${P}/snapshots/${newer.id}/create-instance`, { instance_name: 'copycat-db-temp', is_ha_cluster: false });
  assert.equal(made.json!.status, 'provisioning');
  const id = made.json!.id as string;
  const busy = await call('DELETE', `${P}/instances/${id}`);
  assert.equal(busy.status, 409);
  await until(async () => (await call('GET', `${P}/instances/${id}`)).json!.status === 'ready');
  const lb = (await call('GET', `${P}/instances/${id}`)).json!.endpoints[0];
  assert.deepEqual(lb.load_balancer, {});

  assert.equal((await call('DELETE', `${P}/endpoints/${lb.id}`)).status, 204);
  assert.equal((await call('GET', `${P}/instances/${id}`)).json!.status, 'configuring');
  await until(async () => (await call('GET', `${P}/instances/${id}`)).json!.status === 'ready');
  assert.deepEqual((await call('GET', `${P}/instances/${id}`)).json!.endpoints, []);

  const noPn = await call('POST', `${P}/instances/${id}/endpoints`, { endpoint_spec: { private_network: { ipam_config: {} } } });
  assert.equal(noPn.json!.details[0].argument_name, 'endpoint_spec.private_network.private_network_id');
  const ep = await call('POST', `${P}/instances/${id}/endpoints`, { endpoint_spec: { private_network: { private_network_id: 'pn-1', ipam_config: {} } } });
  assert.equal(ep.json!.private_network.private_network_id, 'pn-1');
  await until(async () => (await call('GET', `${P}/instances/${id}`)).json!.endpoints.length === 1);

  assert.equal((await call('DELETE', `${P}/instances/${id}`)).json!.status, 'deleting');
  await until(async () => (await call('GET', `${P}/instances/${id}`)).status === 404);
  assert.deepEqual((await call('GET', `${P}/instances/${id}`)).json, { message: 'resource is not found', resource: 'instance', resource_id: id, type: 'not_found' });
  assert.equal((await call('GET', `/rdb/v1/regions/nl-ams/instances/${prod.id}`)).status, 404, 'resources live in one region');
});

test('faults: 429 bare as the real edge proxy sends it, 5xx for a pattern, slow answers; every request is recorded', async () => {
  emu.faults.rateLimitNext('GET /rdb/v1/regions/fr-par/backups', 1);
  const limited = await call('GET', `${P}/backups`);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers['retry-after'], undefined);
  assert.equal(limited.headers['x-envoy-ratelimited'], 'true');
  assert.equal(limited.json, undefined, 'no body');
  emu.faults.failNext(/^GET .*\/backups$/, 2, { status: 503 });
  assert.deepEqual([(await call('GET', `${P}/backups`)).status, (await call('GET', `${P}/backups`)).status, (await call('GET', `${P}/backups`)).status], [503, 503, 200]);
  emu.faults.delay('GET /rdb/v1/regions/fr-par/snapshots', 120, 1);
  const t0 = Date.now();
  await call('GET', `${P}/snapshots`);
  assert.ok(Date.now() - t0 >= 110);
  const recorded = emu.calls(`GET ${P}/backups`).filter((r) => r.path === `${P}/backups`).map((r) => r.status);
  assert.deepEqual(recorded.slice(-4), [429, 503, 503, 200]);
});
