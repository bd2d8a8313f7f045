// Which API server addresses reach nothing but the machine that dials them. istiod dials the address a remote
// secret carries from its pod: a loopback one there is the pod itself. Preflight, the secrets audit, verify's
// diagnosis and the simulator's istiod all judge an address by this one rule.
const LOOPBACK = /^https?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\]|0\.0\.0\.0|\[::\]|\[::ffff:127\.\d+\.\d+\.\d+\])(:\d+)?(\/|$)/i;

export function isLoopbackServer(server: string): boolean {
  return LOOPBACK.test(server.trim());
}
