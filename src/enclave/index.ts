/**
 * The enclave runtime (simulated SCONE): OCI app images, MrEnclave, the file-system shield (FSPF),
 * fingerprints, and sandboxed execution with bubblewrap. SIMULATION: no confidentiality against the host.
 */
export {
  buildApp,
  measureApp,
  loadProtectedImage,
  DEFAULT_HEAP,
  DEFAULT_STACK,
  DEFAULT_THREADS,
  type AppIdentity,
  type BuildAppParameters,
  type BuildAppReturnType,
  type LoadedImage,
  type MeasureAppReturnType,
  type MrenclaveJson,
} from './build.js';
export {
  runEnclave,
  iexecEnv,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_MAX_OUTPUT,
  MEMORY_LIMIT_MECHANISM,
  type RunEnclaveParameters,
  type RunEnclaveReturnType,
} from './run.js';
export { parseFingerprint, formatFingerprint, type Fingerprint } from '../protocol/index.js';
export { computeMrEnclave, configPage, enclaveSize, type EnclaveConfig } from './mrenclave.js';
export {
  parseRegion,
  normalizeRegions,
  regionOf,
  parseFsKeys,
  FSPF_PATH,
  ENCLAVE_JSON_PATH,
  type Region,
  type Protection,
  type Fspf,
  type FspfEntry,
  type FsKeys,
} from './fspf.js';
export { SCONE_VERSION, type EnclaveJson } from './image.js';
export { openImage, unpackImage, type OpenedImage, type ImageConfigJson } from './oci.js';
export { unpackLayer, unpackLayerBuffer, type UnpackLayerOptions } from './unpack.js';
export {
  unpackLimits,
  UnpackBudget,
  DEFAULT_UNPACK_LIMITS,
  UNPACK_LIMIT_ENV,
  type UnpackLimits,
} from './unpack-limits.js';
export { parseSize, splitCommand } from './util.js';
export {
  LIMIT_ENV,
  resolveLimits,
  type SandboxLimits,
  type SandboxLimitOverrides,
} from './sandbox-limits.js';
export { SECCOMP_DENIED, CLONE_NAMESPACE_FLAGS } from './seccomp.js';
export { sweepStaleRuns } from './rundir.js';
export { normalizeEgress, parseEgressEntry } from './egress-list.js';
export { readClientHello, type ClientHelloVerdict } from './network/client-hello.js';
export {
  startEgressProxy,
  describeTunnel,
  DEFAULT_EGRESS_LIMITS,
  type EgressLimits,
  type EgressPolicy,
  type EgressProxy,
  type EgressRecord,
} from './network/proxy.js';
export { PROXY_URL } from './network/netns.js';
export {
  evictImageCache,
  resolveImageCache,
  type ImageCacheOptions,
  type ImageCacheResult,
} from './image-cache.js';
