/** The emulator's command line arguments and its text output (tools/pi-emulator/cli.ts, timeline.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgs, UsageError } from '../../../tools/pi-emulator/cli';
import { formatEntry, formatSummary } from '../../../tools/pi-emulator/timeline';

describe('pi-emulator command line', () => {
  it('reads Pis, the namespace, the login (password from the environment) and the limits', () => {
    const o = parseArgs(
      [
        '--netns',
        'lab',
        '--login',
        'ada',
        '--attempts',
        '2',
        '--deadline-s',
        '90',
        '--pi',
        'pi4,DC:A6:32:00:00:01,1a2b3c4d,pi0',
        '--pi',
        'pi3b,b8:27:eb:00:00:02,beef,pi1',
      ],
      'Secret-Pass-1',
    );
    assert.equal(o.netns, 'lab');
    assert.equal(o.deadlineMs, 90_000);
    assert.deepEqual(
      o.pis.map((p) => [p.model, p.mac, p.serial, p.interface, p.maxAttempts, p.reportPort, p.login?.username]),
      [
        ['pi4', 'dc:a6:32:00:00:01', 0x1a2b3c4d, 'pi0', 2, 6970, 'ada'],
        ['pi3b', 'b8:27:eb:00:00:02', 0xbeef, 'pi1', 2, 6970, 'ada'],
      ],
    );
    assert.equal(parseArgs(['--report-port', '0', '--pi', 'pi5,2c:cf:67:00:00:01,1,pi0'], undefined).pis[0].reportPort, null);
  });

  for (const [args, message] of [
    [[], /at least one --pi/],
    [['--pi', 'pi2,dc:a6:32:00:00:01,1,pi0'], /model must be one of pi3b, pi4, pi5/],
    [['--pi', 'pi4,dc:a6:32:00:01,1,pi0'], /not a MAC address/],
    [['--pi', 'pi4,dc:a6:32:00:00:01,123456789,pi0'], /up to 8 hex digits/],
    [['--pi', 'pi4,dc:a6:32:00:00:01,1'], /interface is missing/],
    [['--login', 'ada', '--pi', 'pi4,dc:a6:32:00:00:01,1,pi0'], /PI_EMULATOR_PASSWORD/],
    [['--deadline-s', 'soon', '--pi', 'pi4,dc:a6:32:00:00:01,1,pi0'], /not a whole number/],
    [['--netns'], /needs a value/],
    [['--bogus'], /unknown argument/],
  ] as const) {
    it(`refuses ${JSON.stringify(args)}`, () => {
      assert.throws(
        () => parseArgs([...args], undefined),
        (e: unknown) => e instanceof UsageError && message.test(e.message),
      );
    });
  }
});

describe('timeline text', () => {
  it('one line per entry: time, Pi, stage, event, file, detail', () => {
    assert.equal(
      formatEntry('pi4-1', { t: 1234, stage: 'FIRMWARE', event: 'file', file: '1a2b3c4d/start4.elf', detail: '120000 B in 50 ms' }, 6),
      '   1234 ms  pi4-1   FIRMWARE        file  1a2b3c4d/start4.elf  (120000 B in 50 ms)',
    );
  });

  it('a summary row per Pi with its outcome, stage, time, attempts, files read and cause', () => {
    const text = formatSummary([
      {
        name: 'pi4-1',
        mac: 'dc:a6:32:00:00:01',
        model: 'pi4',
        outcome: 'failed',
        stage: 'FIRMWARE',
        cause: 'start4.elf: file not found',
        ip: '10.0.0.5',
        attempts: 3,
        ms: 15_321,
        files: [
          { file: 'config.txt', status: 'ok', bytes: 3, ms: 1, blksize: 1468, stage: 'FIRMWARE' },
          { file: 'start4.elf', status: 'missing', bytes: 0, ms: 0, blksize: 0, stage: 'FIRMWARE' },
        ],
        timeline: [],
      },
    ]);
    const row = text.split('\n')[1];
    assert.match(row, /^pi4-1\s+pi4\s+failed\s+FIRMWARE\s+15321\s+3\s+1\s+start4\.elf: file not found$/);
  });
});
