// Which ports of a service get a URL: the container's ExposedPorts (compose `ports`, `expose` and
// the image's EXPOSE all land there), narrowed or hidden by the `prevu.expose` label; and which of
// them speak HTTP/2 in clear (`prevu.h2c`).
import { EXPOSE_LABEL, exposeLabelPorts, exposeLabelTcpPorts, H2C_LABEL, h2cLabelPorts } from '@prevu/core/expose-label';
import type { ContainerInfo } from './docker.js';

/** TCP ports to forward for a container, sorted; [] when hidden or nothing is exposed. Throws ExposeLabelError. */
export function exposedPorts(config: ContainerInfo['Config']): number[] {
  const chosen = exposeLabelPorts(config.Labels?.[EXPOSE_LABEL]);
  if (chosen) return chosen;
  const ports = Object.keys(config.ExposedPorts ?? {})
    .map((key) => /^(\d+)(?:\/tcp)?$/.exec(key)?.[1])
    .filter((p): p is string => p !== undefined)
    .map(Number);
  return [...new Set(ports)].sort((a, b) => a - b);
}

/** Of those, the ports for `prevu connect` only (label `tcp:N`): forwarded privately, no public URL. */
export function tcpOnlyPorts(config: ContainerInfo['Config']): number[] {
  return exposeLabelTcpPorts(config.Labels?.[EXPOSE_LABEL]);
}

/** Ports that speak HTTP/2 in clear (gRPC), from the `prevu.h2c` label (the CLI sets it from compose's `app_protocol`). Throws ExposeLabelError. */
export function h2cPorts(config: ContainerInfo['Config']): number[] {
  return h2cLabelPorts(config.Labels?.[H2C_LABEL]);
}

/** Docker keeps `NONE` for `healthcheck: disable`; an image or compose test otherwise. */
export function hasHealthcheck(config: ContainerInfo['Config']): boolean {
  const test = config.Healthcheck?.Test;
  return Array.isArray(test) && test.length > 0 && test[0] !== 'NONE';
}
