/** Asks each sidecar pod which config it serves (GET /lb/config) and counts those on `hash`. */
import { request } from 'undici';

export interface SidecarPod {
  readonly name: string;
  readonly ip: string;
}

export interface SyncReport {
  readonly total: number;
  readonly synced: number;
  readonly detail: string;
}

export async function checkSidecars(pods: readonly SidecarPod[], port: number, hash: string, timeoutMs = 1000): Promise<SyncReport> {
  const lagging: string[] = [];
  const results = await Promise.all(
    pods.map(async function askSidecar(pod) {
      const host = pod.ip.includes(':') ? `[${pod.ip}]` : pod.ip;
      try {
        const res = await request(`http://${host}:${port}/lb/config`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
        const body = (await res.body.json()) as { hash?: string };
        if (body.hash === hash) return true;
        lagging.push(`${pod.name} serves ${String(body.hash).slice(0, 12)}`);
      } catch (error) {
        lagging.push(`${pod.name} unreachable (${(error as { code?: string }).code ?? 'error'})`);
      }
      return false;
    }),
  );
  lagging.sort();
  return { total: pods.length, synced: results.filter(Boolean).length, detail: lagging.slice(0, 5).join(', ') };
}
