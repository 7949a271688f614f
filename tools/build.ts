/**
 * `npm run build`: the product as plain JavaScript in dist/ (what the package ships and the image
 * runs), and the workflow code bundled once, here, so a worker never starts webpack: dist/workflow-bundle.js
 * is what workers/workflow-code.ts loads when it exists.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../workers/workflow-code.js';
import { REPO_ROOT } from './temporal-cli.js';

const dist = join(REPO_ROOT, 'dist');
const started = Date.now();
rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(REPO_ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
const compiled = Date.now();
// From the compiled JavaScript, so the bundle holds exactly the code the package ships.
const { code } = await bundleWorkflowCode({ workflowsPath: join(dist, 'workflows', 'index.js'), workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES });
writeFileSync(join(dist, 'workflow-bundle.js'), code);
for (const bin of ['client/main.js', 'workers/main.js']) chmodSync(join(dist, bin), 0o755);
console.error(`build: dist/ in ${compiled - started} ms, workflow bundle (${Math.round(code.length / 1024)} KiB) in ${Date.now() - compiled} ms`);
