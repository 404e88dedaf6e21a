/**
 * Loaded with `node --import` into a copycat-db under test: names on scw.cloud resolve to 127.0.0.1, so an endpoint
 * such as http://s3.fr-par.scw.cloud:PORT reaches the local radosgw while copycat-db sees Scaleway's domain.
 */
import dns from 'node:dns';

type Callback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

const original = dns.lookup;
(dns as { lookup: unknown }).lookup = function lookup(host: string, options: dns.LookupOptions | number | Callback, callback?: Callback): void {
  const done = (typeof options === 'function' ? options : callback)!;
  const all = typeof options === 'object' && options.all;
  if (!/(^|\.)scw\.cloud$/i.test(host)) return void (original as (...args: unknown[]) => void)(host, options, callback);
  process.nextTick(() => (all ? done(null, [{ address: '127.0.0.1', family: 4 }]) : done(null, '127.0.0.1', 4)));
};
