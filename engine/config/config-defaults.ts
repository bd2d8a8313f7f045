// The values a config leaves out: the Istio page's, and Istio's own for the CA.
import { DEFAULT_VERIFY_TIMEOUT } from '../../shared/model.js';

export const DEFAULTS = {
  meshID: 'mesh1',
  network: 'network1',
  gatewayAddress: '5m',
  command: '10m',
  retry: { attempts: 3, initialDelay: '1s', maxDelay: '30s', factor: 2 },
  maxParallelRemotes: 16,
  // Istio's tools/certs/common.mk: 4096-bit keys, root valid 3650 days, intermediates 730.
  trust: { keySize: 4096, rootDays: 3650, intermediateDays: 730 },
  // Istio's doc tests retry each request for up to 120 s.
  verifyTimeout: DEFAULT_VERIFY_TIMEOUT,
} as const;
