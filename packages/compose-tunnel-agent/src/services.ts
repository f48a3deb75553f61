// Which ports of a service get a URL: the container's ExposedPorts (compose `ports`, `expose` and
// the image's EXPOSE all land there), narrowed or hidden by the `prevu.expose` label.
import type { ContainerInfo } from './docker.js';

export const EXPOSE_LABEL = 'prevu.expose';

export class ExposeLabelError extends Error {
  override name = 'ExposeLabelError';
}

/** TCP ports to forward for a container, sorted; [] when hidden or nothing is exposed. */
export function exposedPorts(config: ContainerInfo['Config']): number[] {
  const label = config.Labels?.[EXPOSE_LABEL]?.trim();
  if (label !== undefined && label !== '' && label !== 'true') {
    if (label === 'false') return [];
    const ports = label.split(',').map((p) => p.trim());
    if (!ports.every((p) => /^\d{1,5}$/.test(p) && Number(p) >= 1 && Number(p) <= 65535)) {
      throw new ExposeLabelError(`label ${EXPOSE_LABEL}="${label}" must be "false" or a comma-separated list of ports like "80,443"`);
    }
    return [...new Set(ports.map(Number))].sort((a, b) => a - b);
  }
  const ports = Object.keys(config.ExposedPorts ?? {})
    .map((key) => /^(\d+)(?:\/tcp)?$/.exec(key)?.[1])
    .filter((p): p is string => p !== undefined)
    .map(Number);
  return [...new Set(ports)].sort((a, b) => a - b);
}

/** Docker keeps `NONE` for `healthcheck: disable`; an image or compose test otherwise. */
export function hasHealthcheck(config: ContainerInfo['Config']): boolean {
  const test = config.Healthcheck?.Test;
  return Array.isArray(test) && test.length > 0 && test[0] !== 'NONE';
}
