#!/usr/bin/env node
// Command-line entry (`npx nhi-audit …`). Registers tsx so the TypeScript sources run as they are:
// there is no build step to forget on a government server.
import { register } from 'tsx/esm/api';
register();
const { runCli } = await import('../server/cli.ts');
process.exitCode = await runCli(process.argv.slice(2));
