/**
 * The job machinery over fake ports: what a job records, and that a failed, cancelled or refused
 * job leaves no tree behind. (The real adapters are tested on their own, and together through
 * GraphQL in images.e2e.)
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { ImageCommandRunner, ImageConverter, ImageImporter, ImageVersionStore } from '../../../src/core/commands/image-ports';
import {
  CreateImageVersionCommand,
  RecordImageCommandFailedCommand,
  RecordImageImportCommand,
} from '../../../src/core/commands/image.commands';
import { DomainError } from '../../../src/core/domain/shared/domain-error';
import { ImageJobs, type ImageJobDeps } from '../../../src/core/images/image-jobs';
import { silentLogger } from '../../../src/core/logging/logger';
import type { ImageRecord, RecordedEvent } from '../../../src/core/plugin-api';
import { tempDir } from '../../support/temp';

const tmp = tempDir('bramble-image-jobs-');
after(() => tmp.cleanup());

function makeTree(dir: string): void {
  mkdirSync(path.join(dir, 'etc'), { recursive: true });
  mkdirSync(path.join(dir, 'boot', 'firmware'), { recursive: true });
  writeFileSync(path.join(dir, 'etc', 'hostname'), 'pi\n');
}

function imageRecord(imagesDir: string, id: string): ImageRecord {
  const p = path.join(imagesDir, id, 'v1');
  return {
    id,
    name: id,
    path: p,
    bootPath: `${p}/boot/firmware`,
    version: 1,
    versions: [{ version: 1, parentVersion: null, reason: 'imported', path: p, bootPath: `${p}/boot/firmware`, createdAt: '' }],
    managed: true,
    architecture: null,
    osRelease: null,
    converted: false,
    registeredAt: '',
  };
}

interface Harness {
  jobs: ImageJobs;
  sent: unknown[];
  imagesDir: string;
  images: Map<string, ImageRecord>;
  failRecord: { on: boolean };
}

function harness(
  name: string,
  ports: Partial<Pick<ImageJobDeps, 'importer' | 'versions' | 'converter' | 'runner'>> = {},
  streams: Record<string, RecordedEvent[]> = {},
): Harness {
  const imagesDir = path.join(tmp.dir, name);
  mkdirSync(imagesDir, { recursive: true });
  const sent: unknown[] = [];
  const images = new Map<string, ImageRecord>();
  const failRecord = { on: false };
  const versions: ImageVersionStore = {
    async clone(source, target) {
      makeTree(target);
      return { method: 'hardlink', files: 3 };
    },
    async remove(tree) {
      const { rmSync } = await import('node:fs');
      rmSync(tree, { recursive: true, force: true });
    },
    async sweepStaging() {
      return [];
    },
  };
  const jobs = new ImageJobs({
    imagesDir,
    store: { readStream: async (stream: string) => streams[stream] ?? [] } as never,
    commands: {
      execute: (async (command: unknown) => {
        if (failRecord.on) throw new DomainError('IMAGE_EXISTS', 'an image named x already exists', 'name');
        sent.push(command);
        return { position: sent.length, events: [] };
      }) as never,
    },
    image: (id) => images.get(id) ?? null,
    serverAddress: () => '10.0.0.1',
    conversionContributions: async () => ({}),
    importer: ports.importer ?? ({} as ImageImporter),
    versions: ports.versions ?? versions,
    converter: ports.converter ?? ({} as ImageConverter),
    runner: ports.runner ?? ({} as ImageCommandRunner),
    logger: silentLogger,
  });
  return { jobs, sent, imagesDir, images, failRecord };
}

const importedStream = (imageId: string, path1: string): RecordedEvent[] =>
  [{ type: 'ImageImported', data: { imageId, name: imageId, path: path1, bootPath: `${path1}/boot/firmware` } }] as never;

describe('image jobs', () => {
  it('an import records ImageImported once its tree is in place, with progress on the way', async () => {
    const importer: ImageImporter = {
      async import(source, target, options) {
        options?.onProgress?.({ phase: 'extracting-root', bytesDone: 50, bytesTotal: 100, files: 1 });
        makeTree(target);
        options?.onProgress?.({ phase: 'done', bytesDone: 100, bytesTotal: 100, files: 3 });
        return {
          source: { kind: 'tar', path: source, sha256: 'e'.repeat(64), sizeBytes: 100 },
          bootPath: `${target}/boot/firmware`,
          sizeBytes: 10,
          fileCount: 3,
          osRelease: null,
          architecture: 'arm64',
          warnings: [],
        };
      },
      export: async () => ({ sha256: '', sizeBytes: 0 }),
    };
    const h = harness('import-ok', { importer });
    const phases: string[] = [];
    const sub = h.jobs.updates$.subscribe((j) => phases.push(`${j.state}:${j.phase}`));
    const job = await h.jobs.startImport('Bookworm Lite', '/srv/lite.tar.xz', 'admin:test');
    assert.equal(job.imageId, 'bookworm-lite');
    const done = await h.jobs.finished(job.id);
    sub.unsubscribe();
    assert.equal(done?.state, 'succeeded', JSON.stringify(done?.error));
    assert.equal(done?.version, 1);
    assert.ok(phases.includes('running:extracting-root'), phases.join(' '));
    assert.equal(h.sent.length, 1);
    const recorded = h.sent[0] as RecordImageImportCommand;
    assert.ok(recorded instanceof RecordImageImportCommand);
    assert.equal(recorded.input.data.path, path.join(h.imagesDir, 'bookworm-lite', 'v1'));
    assert.equal(recorded.input.data.architecture, 'arm64');
    assert.ok(existsSync(path.join(h.imagesDir, 'bookworm-lite', 'v1', 'etc')));
  });

  it('an import whose event cannot be recorded (the name was taken meanwhile) removes its tree', async () => {
    const importer: ImageImporter = {
      async import(source, target) {
        makeTree(target);
        return {
          source: { kind: 'directory', path: source, sha256: null, sizeBytes: 1 },
          bootPath: `${target}/boot/firmware`,
          sizeBytes: 1,
          fileCount: 1,
          osRelease: null,
          architecture: null,
          warnings: [],
        };
      },
      export: async () => ({ sha256: '', sizeBytes: 0 }),
    };
    const h = harness('import-taken', { importer });
    h.failRecord.on = true;
    const job = await h.jobs.startImport('Lite', '/srv/lite', 'admin:test');
    const done = await h.jobs.finished(job.id);
    assert.equal(done?.state, 'failed');
    assert.equal(done?.error?.code, 'IMAGE_EXISTS');
    assert.equal(existsSync(path.join(h.imagesDir, 'lite', 'v1')), false);
  });

  it('a cancelled import ends cancelled and records nothing', async () => {
    const importer: ImageImporter = {
      import: (source, target, options) =>
        new Promise((_, reject) => {
          options?.signal?.addEventListener('abort', () => reject(new DomainError('IMAGE_JOB_ABORTED', 'cancelled')));
        }),
      export: async () => ({ sha256: '', sizeBytes: 0 }),
    };
    const h = harness('import-cancel', { importer });
    const job = await h.jobs.startImport('Lite', '/srv/lite.img', 'admin:test');
    assert.equal(h.jobs.cancel(job.id).state, 'running');
    const done = await h.jobs.finished(job.id);
    assert.equal(done?.state, 'cancelled');
    assert.equal(done?.error?.code, 'IMAGE_JOB_ABORTED');
    assert.equal(h.sent.length, 0);
  });

  it('refuses an import source inside the host system folders, before any work', async () => {
    const h = harness('import-host');
    await assert.rejects(
      h.jobs.startImport('x', '/etc', 'admin:test'),
      (e: DomainError) => e.code === 'VALIDATION' && e.field === 'source',
    );
    await assert.rejects(h.jobs.startImport('x', 'relative.img', 'admin:test'), (e: DomainError) => e.code === 'VALIDATION');
  });

  it('a second job on the same image is IMAGE_BUSY until the first ends', async () => {
    let release!: () => void;
    const runner: ImageCommandRunner = {
      run: () =>
        new Promise((resolve) => {
          release = () => resolve({ exitCode: 0, signal: null, logSha256: 'f'.repeat(64), logBytes: 0, durationMs: 1 });
        }),
    };
    const h = harness('busy', { runner }, {});
    const record = imageRecord(path.join(tmp.dir, 'busy'), 'lite');
    h.images.set('lite', record);
    const streams = importedStream('lite', record.path);
    (h.jobs as unknown as { deps: ImageJobDeps }).deps.store = { readStream: async () => streams } as never;
    const first = await h.jobs.startCommand('lite', 'true', true, 'admin:test');
    await assert.rejects(h.jobs.startCommand('lite', 'true', true, 'admin:test'), (e: DomainError) => e.code === 'IMAGE_BUSY');
    await new Promise((r) => setTimeout(r, 20));
    release();
    const done = await h.jobs.finished(first.id);
    assert.equal(done?.state, 'succeeded', JSON.stringify(done?.error));
    assert.equal(done?.version, 2);
    const created = h.sent[0] as CreateImageVersionCommand;
    assert.ok(created instanceof CreateImageVersionCommand);
    assert.equal(created.input.data.reason, 'command');
    assert.equal(created.input.data.command?.command, 'true');
    assert.equal(created.input.activate, true);
  });

  it('a failing command records ImageCommandFailed, makes no version and fails with IMAGE_COMMAND_FAILED', async () => {
    const runner: ImageCommandRunner = {
      async run(base, target, command, options) {
        options.onOutput?.('E: nope\n', 'stderr');
        return { exitCode: 100, signal: null, logSha256: 'a'.repeat(64), logBytes: 8, durationMs: 3 };
      },
    };
    const h = harness('cmd-fail', { runner });
    const record = imageRecord(h.imagesDir, 'lite');
    h.images.set('lite', record);
    (h.jobs as unknown as { deps: ImageJobDeps }).deps.store = { readStream: async () => importedStream('lite', record.path) } as never;
    const chunks: string[] = [];
    const sub = h.jobs.output$.subscribe((c) => chunks.push(c.text));
    const job = await h.jobs.startCommand('lite', 'apt-get install -y nope', true, 'admin:test');
    const done = await h.jobs.finished(job.id);
    sub.unsubscribe();
    assert.equal(done?.state, 'failed');
    assert.equal(done?.error?.code, 'IMAGE_COMMAND_FAILED');
    assert.equal(done?.exitCode, 100);
    assert.equal(done?.outputTail, 'E: nope\n');
    assert.deepEqual(chunks, ['E: nope\n']);
    assert.equal(h.sent.length, 1);
    assert.ok(h.sent[0] instanceof RecordImageCommandFailedCommand);
    assert.equal(existsSync(path.join(h.imagesDir, 'lite', 'v2')), false);
  });

  it('convert with nothing to change makes no version; with changes, a convert version listing them', async () => {
    let changes = 0;
    const converter: ImageConverter = {
      plan: async () => ({
        changes: changes === 0 ? [] : [{ path: '/etc/fstab', action: 'modified', sha256: '1'.repeat(64) }],
        warnings: [],
      }),
      convert: async () => ({ changes: [{ path: '/etc/fstab', action: 'modified', sha256: '1'.repeat(64) }], warnings: ['no LDAP'] }),
    };
    const h = harness('convert', { converter });
    const record = imageRecord(h.imagesDir, 'lite');
    h.images.set('lite', record);
    (h.jobs as unknown as { deps: ImageJobDeps }).deps.store = { readStream: async () => importedStream('lite', record.path) } as never;
    const same = await h.jobs.finished((await h.jobs.startConvert('lite', true, 'admin:test')).id);
    assert.equal(same?.state, 'succeeded');
    assert.equal(same?.version, null);
    assert.equal(same?.phase, 'already-converted');
    assert.equal(h.sent.length, 0);
    changes = 1;
    const converted = await h.jobs.finished((await h.jobs.startConvert('lite', false, 'admin:test')).id);
    assert.equal(converted?.version, 2);
    assert.deepEqual(converted?.warnings, ['no LDAP']);
    const created = h.sent[0] as CreateImageVersionCommand;
    assert.equal(created.input.data.reason, 'convert');
    assert.equal(created.input.data.parentVersion, 1);
    assert.equal(created.input.data.path, path.join(h.imagesDir, 'lite', 'v2'));
    assert.equal(created.input.data.bootPath, path.join(h.imagesDir, 'lite', 'v2', 'boot', 'firmware'));
    assert.equal(created.input.activate, false);
  });

  it('a tree no event names (left by a crash) is removed before its folder is used again', async () => {
    const converter: ImageConverter = {
      plan: async () => ({ changes: [{ path: '/etc/motd', action: 'created', sha256: null }], warnings: [] }),
      convert: async (root) => {
        assert.equal(existsSync(path.join(root, 'stale-marker')), false, 'the stale tree was reused');
        return { changes: [{ path: '/etc/motd', action: 'created', sha256: null }], warnings: [] };
      },
    };
    const h = harness('orphan', { converter });
    const record = imageRecord(h.imagesDir, 'lite');
    h.images.set('lite', record);
    (h.jobs as unknown as { deps: ImageJobDeps }).deps.store = { readStream: async () => importedStream('lite', record.path) } as never;
    mkdirSync(path.join(h.imagesDir, 'lite', 'v2'), { recursive: true });
    writeFileSync(path.join(h.imagesDir, 'lite', 'v2', 'stale-marker'), '');
    const done = await h.jobs.finished((await h.jobs.startConvert('lite', true, 'admin:test')).id);
    assert.equal(done?.state, 'succeeded', JSON.stringify(done?.error));
  });

  it('convert needs a server address', async () => {
    const h = harness('no-ip');
    h.images.set('lite', imageRecord(h.imagesDir, 'lite'));
    (h.jobs as unknown as { deps: ImageJobDeps }).deps.serverAddress = () => null;
    await assert.rejects(
      h.jobs.startConvert('lite', true, 'admin:test'),
      (e: DomainError) => e.code === 'VALIDATION' && e.field === 'serverIp',
    );
  });
});
