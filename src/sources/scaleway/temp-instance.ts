/**
 * The temporary instance restored from a snapshot: creating it, fencing its network, and deleting it behind guards.
 * Deletion is the one destructive call this source makes, so it checks three independent facts first.
 */
import { CopycatError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { ScalewayApiError, type Endpoint, type Instance, type ScalewayApi, type Snapshot } from './api.js';
import { waitFor, type WaitTiming } from './wait.js';

/** Exact name of every temporary instance; the delete guard refuses any other name. */
export const TEMP_INSTANCE_NAME = 'copycat-db-temp';

/** Instance states that end on their own; anything else stable but not `ready` is a failure for us. */
const TRANSIENT_INSTANCE = new Set(['provisioning', 'configuring', 'deleting', 'autohealing', 'initializing', 'backuping', 'snapshotting', 'restarting']);

export interface InstanceWaitContext {
  api: ScalewayApi;
  timing: WaitTiming;
  signal?: AbortSignal;
  log: Logger;
}

export function waitInstanceReady(c: InstanceWaitContext, id: string, goal: string, extra: (i: Instance) => boolean = () => true): Promise<Instance> {
  return waitFor({
    resource: `instance ${id}`,
    goal,
    poll: () => c.api.getInstance(id),
    status: (i) => i.status,
    done: (i) => i.status === 'ready' && extra(i),
    failed: (i) => (i.status !== 'ready' && !TRANSIENT_INSTANCE.has(i.status) ? `instance is "${i.status}"` : undefined),
    timing: c.timing,
    signal: c.signal,
    log: c.log,
  });
}

/** Newest snapshot that is ready; snapshots still being taken (or failed) cannot be restored. */
export async function newestReadySnapshot(api: ScalewayApi, instanceId: string): Promise<Snapshot> {
  const seen = await api.listSnapshots({ instance_id: instanceId, order_by: 'created_at_desc' });
  // Sorting again costs nothing and does not rely on the server honouring order_by.
  const ready = seen
    .filter((s) => s.status === 'ready' && s.instance_id === instanceId)
    .sort((a, b) => Date.parse(b.created_at ?? '') - Date.parse(a.created_at ?? ''));
  if (!ready[0]) {
    const states = seen.map((s) => s.status).join(', ');
    throw new CopycatError('SCALEWAY_NO_SNAPSHOT',
      `instance ${instanceId} has no ready snapshot${seen.length ? ` (${seen.length} found: ${states})` : ''}; ` +
        'take one first (scw rdb snapshot create) or use mode scw-export');
  }
  return ready[0];
}

export function publicEndpoints(i: Instance): Endpoint[] {
  return (i.endpoints ?? []).filter((e) => e.load_balancer);
}

export function privateEndpoint(i: Instance, privateNetworkId: string): Endpoint | undefined {
  return (i.endpoints ?? []).find((e) => e.private_network?.private_network_id === privateNetworkId && (e.ip || e.hostname));
}

/** Removes every load-balancer endpoint: a copy of production data must not stay reachable from the internet. */
export async function removePublicEndpoints(c: InstanceWaitContext, id: string): Promise<Instance> {
  let inst = await c.api.getInstance(id);
  for (const e of publicEndpoints(inst)) {
    await c.api.deleteEndpoint(e.id);
    c.log.log('info', 'scaleway.endpoint.removed', { instanceId: id, endpointId: e.id, kind: 'load_balancer' });
  }
  inst = await waitInstanceReady(c, id, 'ready without a public endpoint', (i) => publicEndpoints(i).length === 0);
  return inst;
}

export async function attachPrivateNetwork(c: InstanceWaitContext, id: string, privateNetworkId: string, serviceIp?: string): Promise<Endpoint> {
  await c.api.createPrivateEndpoint(id, {
    private_network_id: privateNetworkId,
    ...(serviceIp ? { service_ip: serviceIp } : { ipam_config: {} }),
  });
  const inst = await waitInstanceReady(c, id, `ready on private network ${privateNetworkId}`, (i) => !!privateEndpoint(i, privateNetworkId));
  const ep = privateEndpoint(inst, privateNetworkId)!;
  c.log.log('info', 'scaleway.endpoint.attached', { instanceId: id, endpointId: ep.id, privateNetworkId, ip: ep.ip, port: ep.port });
  return ep;
}

export interface DeleteGuard {
  /** The instance being backed up: never deleted, whatever else is true. */
  productionInstanceId: string;
  /** The id create-instance returned in this run; nothing else is ours to delete. */
  createdInstanceId: string | undefined;
}

/**
 * Deletes `targetId` only if it is not production, is the instance this run created, and (checked by GET just before)
 * is still named exactly TEMP_INSTANCE_NAME. Throws SCALEWAY_GUARD, without calling DELETE, when any check fails.
 */
export async function guardedDeleteTempInstance(api: ScalewayApi, targetId: string, guard: DeleteGuard, log: Logger): Promise<void> {
  const refuse = (why: string): never => {
    throw new CopycatError('SCALEWAY_GUARD', `refusing to delete instance ${targetId}: ${why}`);
  };
  if (!targetId) refuse('no instance id');
  if (targetId === guard.productionInstanceId) refuse('it is the production instance');
  if (!guard.createdInstanceId || targetId !== guard.createdInstanceId) refuse('this run did not create it');
  const current = await api.getInstance(targetId);
  if (current.id !== targetId) refuse(`the API returned instance ${current.id} for it`);
  if (current.name !== TEMP_INSTANCE_NAME) refuse(`it is named "${current.name}", not "${TEMP_INSTANCE_NAME}"`);
  try {
    await api.deleteInstance(targetId);
  } catch (err) {
    // A retried DELETE whose first attempt went through finds the instance already deleting (or gone): that is success.
    const already = err instanceof ScalewayApiError &&
      (err.type === 'not_found' || (err.type === 'transient_state' && err.body?.current_state === 'deleting'));
    if (!already) throw err;
  }
  log.log('info', 'scaleway.temp_instance.deleted', { id: targetId, name: current.name });
}
