// Turns what @kubernetes/client-node throws into one PrevuError line that names the cause. The
// driver knows which verb on which resource each call needs, so a 403 names that pair instead of
// quoting the API server's wording; REST calls fail with ApiException (`code`), WebSocket upgrades
// (exec, port-forward) with the `ws` library's "Unexpected server response: <status>".
import { errors, isPrevuError, type PrevuError } from '../errors.js';

export interface KubeCall {
  /** The RBAC verb and resource the call needs, e.g. `create` and `pods/portforward`. */
  verb: string;
  resource: string;
  namespace: string;
  /** The API server's address, as the kubeconfig gives it. */
  server: string;
}

const NETWORK = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|CERT_\w+|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_\w+)$/;

/** The HTTP status of a failed call, from either kind of failure; undefined when there was no answer. */
export function kubeStatus(error: unknown): number | undefined {
  const e = error as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'number') return e.code;
  const upgrade = /Unexpected server response: (\d{3})/.exec(String(e?.message ?? ''));
  return upgrade ? Number(upgrade[1]) : undefined;
}

export function kubeError(error: unknown, call: KubeCall): PrevuError {
  if (isPrevuError(error)) return error;
  const status = kubeStatus(error);
  let mapped: PrevuError;
  if (status === 401) mapped = errors.kubeUnauthorized(call.server);
  else if (status === 403) mapped = errors.kubeForbidden(call.verb, call.resource, call.namespace);
  else if (status === 404 && call.verb === 'create' && call.resource === 'pods') mapped = errors.kubeNamespaceMissing(call.namespace);
  else {
    const e = error as { code?: unknown; cause?: { code?: unknown }; message?: unknown; body?: { message?: unknown } };
    const code = [e?.code, e?.cause?.code].find((c): c is string => typeof c === 'string' && NETWORK.test(c));
    const detail = String(e?.body?.message ?? (status ? `HTTP ${status}` : e?.message ?? error)).split('\n')[0]!;
    mapped = code ? errors.kubeUnreachable(call.server, code) : errors.kubeFailed(`${call.verb} ${call.resource} in ${call.namespace}`, detail);
  }
  mapped.cause = error;
  return mapped;
}
