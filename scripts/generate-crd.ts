/** Writes the generated CRD (`make crds`). */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CRD_FILE, crdYaml } from '../operator/crd/generate-crd.ts';

const path = fileURLToPath(new URL(`../${CRD_FILE}`, import.meta.url));
writeFileSync(path, crdYaml());
process.stdout.write(`wrote ${CRD_FILE}\n`);
