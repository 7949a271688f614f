#!/usr/bin/env node
// The simulator is a test bed run from its TypeScript source: tsx compiles it in this process (one
// node process, not a launcher and a child) and cli.ts sets the exit code.
import { register } from 'tsx/esm/api';

register();
await import('../cli.ts');
