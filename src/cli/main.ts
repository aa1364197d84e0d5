/** The `shoal` command (bin/shoal.js imports this module). */
import { runCli } from './program.ts';

const exitCode = await runCli(process.argv);
if (exitCode !== undefined) process.exitCode = exitCode;
