import type { Repository } from './index.js';
import { databaseSegment } from './layout.js';

/**
 * One database's backups in a repository of several (PREFIX/DBNAME/, layout.ts): a repository of its own in the same
 * store, at the location an operator can also name directly (s3://BUCKET/PREFIX/DBNAME, file:DIR/DBNAME).
 */
export function databaseRepository(repo: Repository, database: string): Repository {
  return repo.store.below(repo.prefix, databaseSegment(database));
}
