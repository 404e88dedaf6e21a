/** The ways a Scaleway backup can be made (README, "Scaleway Managed Database"); a module of its own so that the
 * CLI and the start-up check can name them without loading the Scaleway client. */
export const SCALEWAY_MODES = ['scw-export', 'snapshot-scw-export', 'snapshot-pgdump'] as const;
export type ScalewayMode = (typeof SCALEWAY_MODES)[number];

/** How a backup takes its dump: a local pg_dump, or one of the Scaleway modes. */
export const BACKUP_MODES = ['pgdump', ...SCALEWAY_MODES] as const;
export type BackupMode = (typeof BACKUP_MODES)[number];

/** The one rule for an unset mode: a configured Scaleway instance means its export, else a local pg_dump. */
export function defaultMode(instance: string | undefined): BackupMode {
  return instance ? 'scw-export' : 'pgdump';
}

/** What a mode needs besides libpq's settings; the start-up check names each one that is missing. */
export function modeNeeds(mode: string): readonly ('instance' | 'database' | 'privateNetwork')[] {
  if (!(SCALEWAY_MODES as readonly string[]).includes(mode)) return [];
  return mode === 'snapshot-pgdump' ? ['instance', 'database', 'privateNetwork'] : ['instance', 'database'];
}
