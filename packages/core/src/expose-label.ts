// The `prevu.expose` label, read one way by core (the URLs `up` waits for) and by the agent (the
// forwards it opens): "false" hides a service, "80,443" picks its ports, "true" or none: all.
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
  const ports = label.split(',').map((p) => p.trim());
  if (!ports.every((p) => /^\d{1,5}$/.test(p) && Number(p) >= 1 && Number(p) <= 65535)) {
    throw new ExposeLabelError(`label ${EXPOSE_LABEL}="${label}" must be "true", "false" or a comma-separated list of ports like "80,443"`);
  }
  return [...new Set(ports.map(Number))].sort((a, b) => a - b);
}
