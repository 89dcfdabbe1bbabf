/**
 * A stand-in for bramble, killed by tests in the middle of an image job:
 *   node dist/test/support/import-child.js import SOURCE TARGET   prints `phase <name>` per progress phase
 *   node dist/test/support/import-child.js tool                   spawns `sleep 60` as an image tool, prints `tool <pid>`
 */
import { FsImageImporter } from '../../src/core/adapters/images/image-importer';
import { ToolSet } from '../../src/core/adapters/images/tool-process';

const [mode, source, target] = process.argv.slice(2);
if (mode === 'tool') {
  const run = new ToolSet().spawn('sleep', ['60']);
  // The tool runs under setpriv, which execs it: same pid.
  process.stdout.write(`tool ${run.child.pid}\n`);
  run.done.catch(() => undefined);
} else {
  let last = '';
  new FsImageImporter()
    .import(source, target, {
      onProgress: (p) => {
        if (p.phase !== last) process.stdout.write(`phase ${(last = p.phase)}\n`);
      },
    })
    .then(
      () => process.stdout.write('imported\n'),
      (error: unknown) => {
        process.stdout.write(`failed ${String(error)}\n`);
        process.exitCode = 1;
      },
    );
}
