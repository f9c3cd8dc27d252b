/**
 * What names a discovery entry's endpoints, declared once for both sides: the RerankerPool's
 * `spec.discovery[]` (camelCase: portName) and the sidecar's `discovery[]` template (port_name).
 * The per-backend settings of an entry come from backend-settings.ts.
 */
import { z } from 'zod';

export const DISCOVERY_FIELDS = {
  service: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
    .describe(
      "A Service in the pool's namespace; every ready endpoint of its EndpointSlices becomes a backend named <service>/<pod>.",
    ),
  portName: z.string().min(1).max(15).optional().describe("The endpoint port by name (the Service port's name)."),
  port: z.int().min(1).max(65535).optional().describe('The endpoint port by number (default: the only or first port).'),
  scheme: z.enum(['http', 'https']).default('http').describe('How the endpoints are called.'),
} as const;

/** At most this many discovery entries per pool (and Services a sidecar watches). */
export const MAX_DISCOVERY_ENTRIES = 16;
