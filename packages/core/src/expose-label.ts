// The `prevu.expose` label, read one way by core (the URLs `up` waits for) and by the agent (the
// forwards it opens): "false" hides a service, "80,443" picks its ports, "true" or none: all.
// "tcp:5432" picks a port for `prevu connect` only: a TCP service that does not speak HTTP gets no
// public URL (the HTTP proxy would hand anyone's request bytes to it), its forward is private.
// And `prevu.h2c`: the ports that speak HTTP/2 in clear (gRPC), which the tunnel server then
// talks HTTP/2 to; the CLI sets it from compose's `app_protocol` (README, "HTTP/2 and gRPC").
// Dependency-free: the agent bundle imports it.

export const EXPOSE_LABEL = 'prevu.expose';

export class ExposeLabelError extends Error {
  override name = 'ExposeLabelError';
}

/** undefined: every exposed port; []: hidden; else the chosen ports, sorted. Throws ExposeLabelError. */
export function exposeLabelPorts(value: string | undefined): number[] | undefined {
  const label = value?.trim();
  if (label === undefined || label === '' || label === 'true') return undefined;
  if (label === 'false') return [];
  const ports = portList(label.split(',').map((p) => p.trim().replace(/^tcp:/, '')).join(','));
  if (!ports) throw new ExposeLabelError(`label ${EXPOSE_LABEL}="${label}" must be "true", "false" or a comma-separated list of ports like "80,443" (tcp:5432 for a port reached by \`prevu connect\` only)`);
  return ports;
}

/** The ports the label marks `tcp:N` (no public URL, `prevu connect` only), sorted. Throws ExposeLabelError. */
export function exposeLabelTcpPorts(value: string | undefined): number[] {
  if (!exposeLabelPorts(value)?.length) return [];
  const tcp = value!.split(',').map((p) => p.trim()).filter((p) => p.startsWith('tcp:')).map((p) => Number(p.slice(4)));
  return [...new Set(tcp)].sort((a, b) => a - b);
}

/** "80, 443" as sorted distinct ports; undefined when any entry is not a port. */
function portList(label: string): number[] | undefined {
  const ports = label.split(',').map((p) => p.trim());
  if (!ports.every((p) => /^\d{1,5}$/.test(p) && Number(p) >= 1 && Number(p) <= 65535)) return undefined;
  return [...new Set(ports.map(Number))].sort((a, b) => a - b);
}

export const H2C_LABEL = 'prevu.h2c';

/** compose `app_protocol` values of a port that speaks HTTP/2 without TLS. */
export const H2C_APP_PROTOCOLS: ReadonlySet<string> = new Set(['grpc', 'h2c']);

/** The ports `prevu.h2c` names (none when unset). Throws ExposeLabelError. */
export function h2cLabelPorts(value: string | undefined): number[] {
  const label = value?.trim();
  if (!label) return [];
  const ports = portList(label);
  if (!ports) throw new ExposeLabelError(`label ${H2C_LABEL}="${label}" must be a comma-separated list of ports like "50051"`);
  return ports;
}
