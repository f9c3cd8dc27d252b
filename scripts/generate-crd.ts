/** Writes the generated CRD (crds/ and the chart's copy), docs/settings.md and the chart's dashboard (`make crds`). */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CHART_CRD_FILE, CRD_FILE, crdYaml } from '../operator/crd/generate-crd.ts';
import { SETTINGS_DOC_FILE, settingsDoc } from '../operator/crd/settings-doc.ts';
import { DASHBOARD_FILE, dashboardJson } from './dashboard.ts';

const at = (file: string) => fileURLToPath(new URL(`../${file}`, import.meta.url));
for (const file of [CRD_FILE, CHART_CRD_FILE]) writeFileSync(at(file), crdYaml());
writeFileSync(at(SETTINGS_DOC_FILE), settingsDoc());
writeFileSync(at(DASHBOARD_FILE), dashboardJson());
process.stdout.write(`wrote ${CRD_FILE}, ${CHART_CRD_FILE}, ${SETTINGS_DOC_FILE}, ${DASHBOARD_FILE}\n`);
