#!/usr/bin/env node
/** The `ferry` executable: the command line of client/run.ts, its answer as the exit code. */
import { main } from './run.js';

process.exitCode = await main(process.argv.slice(2));
