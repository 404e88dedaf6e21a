export { scalewayRdb, instanceDatabases, defaultBackupName, SCALEWAY_MODES, type ScalewayRdbOptions, type ScalewayMode, type PgSslMode } from './source.js';
export { loadScalewayCredentials, parseScwConfig, defaultConfigPath, DEFAULT_API_URL, DEFAULT_REGION, type ScalewayCredentials, type ScwConfigFile, type LoadCredentialsOptions } from './config.js';
export { ScalewayApi, ScalewayApiError, describeScalewayError, type ScalewayApiOptions, type ApiRetryOptions, type DatabaseBackup, type Instance, type Endpoint, type Snapshot } from './api.js';
export { waitFor, DEFAULT_WAIT_TIMING, type WaitTiming, type WaitSpec } from './wait.js';
export { resumableDownload, newDownloadStats, type DownloadOptions, type DownloadStats, type DownloadLocation, type DownloadRetryOptions } from './download.js';
export { TEMP_INSTANCE_NAME, guardedDeleteTempInstance, newestReadySnapshot, type DeleteGuard } from './temp-instance.js';
