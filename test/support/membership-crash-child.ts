/**
 * Child process of the membership crash test: creates one user on a store that SIGKILLs this
 * process at the first append to a group stream, i.e. after the user's own append was
 * acknowledged and before its membership was written. Never returns normally.
 *   node membership-crash-child.js <dataDir> <username>
 */
import { CreateUserCommand } from '../../src/core/commands/user.commands';
import { commandMeta } from '../../src/core/commands/meta';
import { faultyStore } from './faulty-store';
import { startCoreApp } from './core-app';

async function main(): Promise<void> {
  const [dataDir, username] = process.argv.slice(2);
  const core = await startCoreApp({ dataDir, wrapStore: (store) => faultyStore(store, { streams: /^group-/, mode: 'kill' }) });
  process.stdout.write('ready\n');
  await core.bus.execute(
    new CreateUserCommand({ username, password: 'Crash-Test-Pass-1', groups: ['pupils', 'teachers'] }, commandMeta('admin:test')),
  );
  process.stdout.write('not killed\n');
  process.exit(3);
}

void main();
