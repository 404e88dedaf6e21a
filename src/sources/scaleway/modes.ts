/** The ways a Scaleway backup can be made (README, "Scaleway Managed Database"); a module of its own so that the
 * CLI and the start-up check can name them without loading the Scaleway client. */
export const SCALEWAY_MODES = ['scw-export', 'snapshot-scw-export', 'snapshot-pgdump'] as const;
export type ScalewayMode = (typeof SCALEWAY_MODES)[number];
