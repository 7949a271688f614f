/**
 * `npm run build`: the product as plain JavaScript in dist/ (what the package ships and the image
 * runs), and the workflow code bundled once, here, so a worker never starts webpack: dist/workflow-bundle.js
 * is what workers/workflow-code.ts loads when it exists.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { BUNDLE_FILES, WORKFLOW_INTERCEPTOR_MODULES } from '../workers/workflow-code.js';
import { REPO_ROOT } from './temporal-cli.js';

const dist = join(REPO_ROOT, 'dist');
const started = Date.now();
rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(REPO_ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
const compiled = Date.now();
// From the compiled JavaScript, so the bundles hold exactly the code the package ships; with and
// without the tracing interceptors (workers/workflow-code.ts says why).
const sizes: string[] = [];
for (const traced of [false, true]) {
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(dist, 'workflows', 'index.js'),
    workflowInterceptorModules: traced ? WORKFLOW_INTERCEPTOR_MODULES : [],
  });
  const file = traced ? BUNDLE_FILES.traced : BUNDLE_FILES.untraced;
  writeFileSync(join(dist, file), code);
  sizes.push(`${file} ${Math.round(code.length / 1024)} KiB`);
}
for (const bin of ['client/main.js', 'workers/main.js']) chmodSync(join(dist, bin), 0o755);
console.error(`build: dist/ in ${compiled - started} ms, workflow bundles (${sizes.join(', ')}) in ${Date.now() - compiled} ms`);
