/**
 * Preloaded into a sidecar by bench/gc-probe.ts (`node --import`): SIGUSR2 starts V8's sampling
 * heap profiler with collected objects included (every allocation, not only what survives);
 * the next SIGUSR2 stops it and writes the profile to $HEAP_PROFILE_OUT.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const session = new Session();
session.connect();
let sampling = false;
process.on('SIGUSR2', () => {
  if (!sampling) {
    sampling = true;
    session.post('HeapProfiler.enable', () =>
      session.post('HeapProfiler.startSampling', {
        samplingInterval: 4096,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      }),
    );
    return;
  }
  sampling = false;
  session.post('HeapProfiler.stopSampling', (error, result) => {
    if (error === null) writeFileSync(process.env.HEAP_PROFILE_OUT!, JSON.stringify(result.profile));
  });
});
