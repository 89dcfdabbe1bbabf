/**
 * Image jobs: the long file work behind import, convert, runInImage, rollback, clone and export.
 *
 * A command must decide in milliseconds, but importing a 1 GiB image takes a while, so the work is
 * split: a job does the file work through the ports (image-ports.ts), reporting progress and
 * command output live, and only at the end sends one short command that records what it made
 * (`ImageImported`, `ImageVersionCreated`...). Until that event is appended the new tree is
 * invisible to everything else (no read model, no export, no Pi), and a failure before it removes
 * the tree, so a failed, cancelled or interrupted job leaves nothing behind. A crash between the
 * rename and the append leaves an unreferenced `v<N>` folder: the next job that wants that folder
 * removes it first (it is bramble's, under the images folder, and no event names it).
 *
 * One job at a time per image (IMAGE_BUSY otherwise): versions are numbered in order and a second
 * job would race for the same number. Jobs are kept in memory (the last 100 finished ones): the
 * event store holds what they did, a job record only how it went.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Subject, type Observable } from 'rxjs';
import type { CommandBus } from '../commands/command-bus';
import {
  CreateImageVersionCommand,
  RecordImageCloneCommand,
  RecordImageCommandFailedCommand,
  RecordImageExportCommand,
  RecordImageImportCommand,
} from '../commands/image.commands';
import { freeImageId } from '../commands/image.table';
import type {
  ConversionInputs,
  ImageCommandRunner,
  ImageConverter,
  ImageImporter,
  ImageProgress,
  ImageVersionStore,
} from '../commands/image-ports';
import { commandMeta } from '../commands/meta';
import { hostFolderProblem } from '../adapters/fs-image-tree';
import { imageDecider, normalizeImageName, validateImageId } from '../domain/image/image.decider';
import { imageStream } from '../domain/image/image.events';
import { fold } from '../domain/shared/decider';
import { DomainError, ErrorCode, validationError } from '../domain/shared/domain-error';
import type { EventStore } from '../event-store/event-store.port';
import type { Logger } from '../logging/logger';
import type { ImageConversionContribution, ImageFileChange, ImageVersionCreatedData } from '../plugin-api';
import type { ImageRecord } from '../plugin-api/views';

export type ImageJobKind = 'import' | 'convert' | 'command' | 'rollback' | 'clone' | 'export';
export type ImageJobState = 'running' | 'succeeded' | 'failed' | 'cancelled';

/** A job as the API shows it: a frozen snapshot, replaced at each update. */
export interface ImageJobView {
  readonly id: string;
  readonly kind: ImageJobKind;
  /** The image it works on (for import and clone: the new image's id). */
  readonly imageId: string;
  readonly state: ImageJobState;
  readonly phase: string;
  readonly bytesDone: number;
  readonly bytesTotal: number | null;
  readonly files: number;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly error: { readonly code: string; readonly message: string } | null;
  /** The version it made (null: none, e.g. convert found nothing to change, or the command failed). */
  readonly version: number | null;
  /** For convert: the files it changed. */
  readonly changes: readonly ImageFileChange[];
  readonly warnings: readonly string[];
  /** For command: how it ended. */
  readonly exitCode: number | null;
  /** For command: the last 64 KiB of its output (a late subscriber catches up from here). */
  readonly outputTail: string;
  /** For export: the archive written. */
  readonly file: string | null;
}

export interface ImageJobOutput {
  readonly jobId: string;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
  /** Byte offset of `text` in the job's whole output. */
  readonly offset: number;
}

/** What a job needs from the rest of bramble. */
export interface ImageJobDeps {
  imagesDir: string;
  store: EventStore;
  commands: Pick<CommandBus, 'execute'>;
  image(id: string): ImageRecord | null;
  /** The clients assigned to an image (its deletion is refused while any is). */
  serverAddress(): string | null;
  /** The `bootReportPort` setting (0: off), baked into converted images. */
  bootReportPort?(): number;
  conversionContributions(): Promise<ImageConversionContribution>;
  importer: ImageImporter;
  versions: ImageVersionStore;
  converter: ImageConverter;
  runner: ImageCommandRunner;
  logger: Logger;
}

const KEEP_FINISHED = 100;
const OUTPUT_TAIL_BYTES = 64 * 1024;
const PROGRESS_INTERVAL_MS = 100;

interface Running {
  view: ImageJobView;
  abort: AbortController;
  done: Promise<void>;
  lastProgressAt: number;
  outputBytes: number;
}

function aborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

export class ImageJobs {
  private readonly jobs = new Map<string, Running>();
  /** Images a job is changing (or, for import and clone, the ids being created). */
  private readonly busy = new Set<string>();
  private readonly updates = new Subject<ImageJobView>();
  private readonly output = new Subject<ImageJobOutput>();
  private stopping = false;

  constructor(private readonly deps: ImageJobDeps) {}

  /** Every job update (a new frozen view each time). */
  get updates$(): Observable<ImageJobView> {
    return this.updates.asObservable();
  }

  get output$(): Observable<ImageJobOutput> {
    return this.output.asObservable();
  }

  get(id: string): ImageJobView | null {
    return this.jobs.get(id)?.view ?? null;
  }

  list(): ImageJobView[] {
    return [...this.jobs.values()].map((j) => j.view);
  }

  /** Resolves when the job has finished (for tests and the CLI). */
  async finished(id: string): Promise<ImageJobView | null> {
    const job = this.jobs.get(id);
    if (!job) return null;
    await job.done;
    return job.view;
  }

  /** Cancels a running job: it stops, removes what it made, and ends `cancelled`. */
  cancel(id: string): ImageJobView {
    const job = this.jobs.get(id);
    if (!job) throw new DomainError(ErrorCode.NOT_FOUND, `no image job ${id}`, 'jobId');
    if (job.view.state === 'running') job.abort.abort();
    return job.view;
  }

  /** Removes staging folders left by a crash. */
  async recover(): Promise<void> {
    try {
      const swept = await this.deps.versions.sweepStaging();
      if (swept.length > 0) this.deps.logger.warn('removed unfinished image trees left by a crash', { folders: swept });
    } catch (error) {
      this.deps.logger.error('could not sweep the images folder', { error: (error as Error).message });
    }
  }

  /** Aborts every running job and waits for them to clean up. */
  async stop(): Promise<void> {
    this.stopping = true;
    const running = [...this.jobs.values()].filter((j) => j.view.state === 'running');
    for (const j of running) j.abort.abort();
    await Promise.allSettled(running.map((j) => j.done));
  }

  // -------------------------------------------------------------------------------------------
  // Jobs

  async startImport(name: string, source: string, actor: string): Promise<ImageJobView> {
    const normalized = normalizeImageName(name);
    checkServerPath('source', source);
    const imageId = await freeImageId(this.deps.store, normalized, this.busy);
    const target = this.versionPath(imageId, 1);
    return this.start('import', imageId, async (job, signal) => {
      await this.clearOrphan(imageId, target);
      const result = await this.deps.importer.import(source, target, { signal, onProgress: (p) => this.progress(job, p) });
      await this.recordOrRemove(target, signal, () =>
        this.deps.commands.execute(
          new RecordImageImportCommand(
            {
              data: {
                imageId,
                name: normalized,
                source: result.source,
                path: target,
                bootPath: result.bootPath,
                sizeBytes: result.sizeBytes,
                fileCount: result.fileCount,
                osRelease: result.osRelease,
                architecture: result.architecture,
              },
            },
            commandMeta(actor),
          ),
        ),
      );
      this.patch(job, { version: 1, warnings: result.warnings, files: result.fileCount });
    });
  }

  async startConvert(imageId: string, activate: boolean, actor: string): Promise<ImageJobView> {
    const image = this.mustExist(imageId);
    const inputs = await this.conversionInputs();
    return this.start('convert', imageId, async (job, signal) => {
      const parent = image.version;
      const plan = await this.deps.converter.plan(image.path, inputs);
      if (plan.changes.length === 0) {
        this.patch(job, { phase: 'already-converted', warnings: plan.warnings });
        return;
      }
      const { version, target } = await this.nextVersion(imageId);
      this.progress(job, { phase: 'cloning', bytesDone: 0, bytesTotal: null, files: 0 });
      await this.deps.versions.clone(image.path, target, { signal, onProgress: (p) => this.progress(job, p) });
      try {
        this.progress(job, { phase: 'converting', bytesDone: 0, bytesTotal: null, files: 0 });
        const result = await this.deps.converter.convert(target, inputs);
        if (aborted(signal)) throw abortedError();
        await this.recordVersion(signal, actor, activate, {
          imageId,
          version,
          parentVersion: parent,
          reason: 'convert',
          path: target,
          bootPath: bootPathIn(target, image),
          changes: result.changes,
          command: null,
        });
        this.patch(job, { version, changes: result.changes, warnings: result.warnings });
      } catch (error) {
        await this.removeQuietly(target);
        throw error;
      }
    });
  }

  async startCommand(imageId: string, command: string, activate: boolean, actor: string): Promise<ImageJobView> {
    const image = this.mustExist(imageId);
    if (typeof command !== 'string' || command.trim() === '') throw validationError('command', 'must not be empty');
    if (command.length > 16_384) throw validationError('command', 'must be at most 16384 characters');
    if (command.includes('\0')) throw validationError('command', 'must not contain NUL');
    return this.start('command', imageId, async (job, signal) => {
      const parent = image.version;
      const { version, target } = await this.nextVersion(imageId);
      const result = await this.deps.runner.run(image.path, target, command, {
        architecture: image.architecture,
        signal,
        onProgress: (p) => this.progress(job, p),
        onOutput: (text, stream) => this.emitOutput(job, text, stream),
      });
      const record = { command, ...result };
      if (result.exitCode !== 0) {
        await this.removeQuietly(target);
        await this.deps.commands.execute(
          new RecordImageCommandFailedCommand({ data: { imageId, parentVersion: parent, ...record } }, commandMeta(actor)),
        );
        this.patch(job, { exitCode: result.exitCode });
        const how = result.exitCode === null ? `was killed by ${result.signal ?? 'a signal'}` : `exited with status ${result.exitCode}`;
        throw new DomainError(ErrorCode.IMAGE_COMMAND_FAILED, `the command ${how}: no version was made`);
      }
      await this.recordVersion(signal, actor, activate, {
        imageId,
        version,
        parentVersion: parent,
        reason: 'command',
        path: target,
        bootPath: bootPathIn(target, image),
        changes: [],
        command: record,
      });
      this.patch(job, { version, exitCode: 0 });
    });
  }

  /** A new version with the content of the active version's parent, made active: the last change undone. */
  async startRollback(imageId: string, actor: string): Promise<ImageJobView> {
    const image = this.mustExist(imageId);
    const current = image.versions.find((v) => v.version === image.version);
    const back = current?.parentVersion ?? null;
    const from = back === null ? undefined : image.versions.find((v) => v.version === back);
    if (!from) {
      throw new DomainError(
        ErrorCode.IMAGE_VERSION_NOT_FOUND,
        `image ${imageId}: version ${image.version} has no earlier version to roll back to (activateImageVersion picks any version)`,
        'imageId',
      );
    }
    return this.start('rollback', imageId, async (job, signal) => {
      const { version, target } = await this.nextVersion(imageId);
      await this.deps.versions.clone(from.path, target, { signal, onProgress: (p) => this.progress(job, p) });
      await this.recordVersion(signal, actor, true, {
        imageId,
        version,
        parentVersion: from.version,
        reason: 'rollback',
        path: target,
        bootPath: path.join(target, path.relative(from.path, from.bootPath)),
        changes: [],
        command: null,
      });
      this.patch(job, { version });
    });
  }

  async startClone(fromImageId: string, name: string, fromVersion: number | null, actor: string): Promise<ImageJobView> {
    const image = this.mustExist(fromImageId);
    const normalized = normalizeImageName(name);
    const v = this.versionOf(image, fromVersion);
    const imageId = await freeImageId(this.deps.store, normalized, this.busy);
    const target = this.versionPath(imageId, 1);
    return this.start('clone', imageId, async (job, signal) => {
      await this.clearOrphan(imageId, target);
      await this.deps.versions.clone(v.path, target, { signal, onProgress: (p) => this.progress(job, p) });
      await this.recordOrRemove(target, signal, () =>
        this.deps.commands.execute(
          new RecordImageCloneCommand(
            {
              data: {
                imageId,
                name: normalized,
                fromImageId,
                fromVersion: v.version,
                path: target,
                bootPath: path.join(target, path.relative(v.path, v.bootPath)),
              },
            },
            commandMeta(actor),
          ),
        ),
      );
      this.patch(job, { version: 1 });
    });
  }

  async startExport(imageId: string, file: string, version: number | null, actor: string): Promise<ImageJobView> {
    const image = this.mustExist(imageId);
    const v = this.versionOf(image, version);
    checkServerPath('file', file);
    if (!/\.tar\.xz$/.test(file)) throw validationError('file', 'must end in .tar.xz');
    if (!existsSync(path.dirname(file))) throw validationError('file', `its folder ${path.dirname(file)} does not exist`);
    if (existsSync(file)) throw validationError('file', `${file} already exists`);
    return this.start('export', imageId, async (job, signal) => {
      const out = await this.deps.importer.export(v.path, file, { signal, onProgress: (p) => this.progress(job, p) });
      await this.deps.commands.execute(
        new RecordImageExportCommand(
          { data: { imageId, version: v.version, file, sha256: out.sha256, sizeBytes: out.sizeBytes } },
          commandMeta(actor),
        ),
      );
      this.patch(job, { file, version: null, bytesDone: out.sizeBytes });
    });
  }

  /** IMAGE_BUSY while a job is changing the image (deleting it then would pull the tree from under the job). */
  assertIdle(imageId: string): void {
    if (this.busy.has(imageId)) {
      throw new DomainError(ErrorCode.IMAGE_BUSY, `a job is changing image ${imageId}: wait for it to finish (imageJobs)`, 'imageId');
    }
  }

  /**
   * After a version or an image was deleted (its event recorded): removes the trees bramble made
   * for it. A registered image's own folder (the admin's) is never removed; a tree a running job
   * is writing is not touched (the image is busy).
   */
  async removeTrees(trees: readonly string[]): Promise<void> {
    const root = path.resolve(this.deps.imagesDir) + path.sep;
    for (const tree of trees) {
      if (!path.resolve(tree).startsWith(root)) continue;
      await this.removeQuietly(tree);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Machinery

  private start(kind: ImageJobKind, imageId: string, work: (job: Running, signal: AbortSignal) => Promise<void>): ImageJobView {
    if (this.stopping) throw new DomainError(ErrorCode.IMAGE_JOB_ABORTED, 'bramble is stopping', 'imageId');
    if (this.busy.has(imageId)) {
      throw new DomainError(ErrorCode.IMAGE_BUSY, `another job is changing image ${imageId}: wait for it to finish (imageJobs)`, 'imageId');
    }
    this.busy.add(imageId);
    const abort = new AbortController();
    const view: ImageJobView = Object.freeze({
      id: randomUUID(),
      kind,
      imageId,
      state: 'running',
      phase: 'starting',
      bytesDone: 0,
      bytesTotal: null,
      files: 0,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      error: null,
      version: null,
      changes: [],
      warnings: [],
      exitCode: null,
      outputTail: '',
      file: null,
    });
    const job: Running = { view, abort, done: Promise.resolve(), lastProgressAt: 0, outputBytes: 0 };
    this.jobs.set(view.id, job);
    this.trim();
    job.done = (async () => {
      try {
        await work(job, abort.signal);
        this.finish(job, abort.signal.aborted ? 'cancelled' : 'succeeded', null);
      } catch (error) {
        const cancelled = abort.signal.aborted || (error instanceof DomainError && error.code === ErrorCode.IMAGE_JOB_ABORTED);
        const code = error instanceof DomainError ? error.code : ErrorCode.INTERNAL;
        const message = error instanceof DomainError ? error.message : 'the job failed unexpectedly (see the server log)';
        if (!(error instanceof DomainError))
          this.deps.logger.error('image job failed', { jobId: view.id, kind, imageId, error: (error as Error).message });
        this.finish(
          job,
          cancelled ? 'cancelled' : 'failed',
          cancelled ? { code: ErrorCode.IMAGE_JOB_ABORTED, message: 'cancelled: nothing was kept' } : { code, message },
        );
      } finally {
        this.busy.delete(imageId);
      }
    })();
    this.updates.next(view);
    return view;
  }

  private patch(job: Running, change: Partial<Omit<ImageJobView, 'id' | 'kind' | 'imageId'>>): void {
    job.view = Object.freeze({ ...job.view, ...change });
    this.updates.next(job.view);
  }

  private progress(job: Running, p: ImageProgress): void {
    const now = Date.now();
    if (now - job.lastProgressAt < PROGRESS_INTERVAL_MS && p.phase === job.view.phase) return;
    job.lastProgressAt = now;
    this.patch(job, { phase: p.phase, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, files: p.files });
  }

  private emitOutput(job: Running, text: string, stream: 'stdout' | 'stderr'): void {
    const offset = job.outputBytes;
    job.outputBytes += Buffer.byteLength(text);
    const tail = (job.view.outputTail + text).slice(-OUTPUT_TAIL_BYTES);
    job.view = Object.freeze({ ...job.view, outputTail: tail });
    this.output.next(Object.freeze({ jobId: job.view.id, stream, text, offset }));
  }

  private finish(job: Running, state: ImageJobState, error: ImageJobView['error']): void {
    this.patch(job, { state, error, finishedAt: new Date().toISOString(), phase: state === 'succeeded' ? job.view.phase : state });
  }

  private trim(): void {
    const finished = [...this.jobs.values()].filter((j) => j.view.state !== 'running');
    for (const j of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.jobs.delete(j.view.id);
  }

  private mustExist(imageId: string): ImageRecord {
    validateImageId(imageId);
    const image = this.deps.image(imageId);
    if (!image) throw new DomainError(ErrorCode.IMAGE_NOT_FOUND, `image ${imageId} not found`, 'imageId');
    return image;
  }

  private versionOf(image: ImageRecord, version: number | null): ImageRecord['versions'][number] {
    const wanted = version ?? image.version;
    const v = image.versions.find((x) => x.version === wanted);
    if (!v) throw new DomainError(ErrorCode.IMAGE_VERSION_NOT_FOUND, `image ${image.id} has no version ${wanted}`, 'version');
    return v;
  }

  private versionPath(imageId: string, version: number): string {
    return path.join(this.deps.imagesDir, imageId, `v${version}`);
  }

  /** The next version's number (from the image's stream: numbers of deleted versions are never reused) and folder. */
  private async nextVersion(imageId: string): Promise<{ version: number; target: string }> {
    const state = fold(imageDecider, await this.deps.store.readStream(imageStream(imageId)));
    if (state.status !== 'registered') throw new DomainError(ErrorCode.IMAGE_NOT_FOUND, `image ${imageId} not found`, 'imageId');
    const version = state.nextVersion;
    const target = this.versionPath(imageId, version);
    await this.clearOrphan(imageId, target);
    return { version, target };
  }

  /** A tree at `target` no event names is left by a crash between its rename and its event: removed. */
  private async clearOrphan(imageId: string, target: string): Promise<void> {
    if (!existsSync(target)) return;
    const image = this.deps.image(imageId);
    if (image?.versions.some((v) => v.path === target)) {
      throw new DomainError(ErrorCode.INTERNAL, `image ${imageId}: ${target} already belongs to a version`);
    }
    this.deps.logger.warn('removing an image tree no event names (left by a crash)', { imageId, path: target });
    await this.deps.versions.remove(target);
  }

  /** Records a new version whose tree is in place at `data.path` (removed when recording fails). */
  private recordVersion(signal: AbortSignal, actor: string, activate: boolean, data: ImageVersionCreatedData): Promise<void> {
    return this.recordOrRemove(data.path, signal, () =>
      this.deps.commands.execute(new CreateImageVersionCommand({ data, activate }, commandMeta(actor))),
    );
  }

  /** Records the tree (unless cancelled meanwhile); removes it when recording fails. */
  private async recordOrRemove(target: string, signal: AbortSignal, record: () => Promise<unknown>): Promise<void> {
    try {
      if (signal.aborted) throw abortedError();
      await record();
    } catch (error) {
      await this.removeQuietly(target);
      throw error;
    }
  }

  private async removeQuietly(tree: string): Promise<void> {
    try {
      if (existsSync(tree)) await this.deps.versions.remove(tree);
    } catch (error) {
      this.deps.logger.error('could not remove an unfinished image tree', { path: tree, error: (error as Error).message });
    }
  }

  private async conversionInputs(): Promise<ConversionInputs> {
    const serverIp = this.deps.serverAddress();
    if (!serverIp) {
      throw new DomainError(
        ErrorCode.VALIDATION,
        'no server address: set the serverIp setting (or BRAMBLE_SERVER_IP) first; the converted image mounts /home from it',
        'serverIp',
      );
    }
    const c = await this.deps.conversionContributions();
    const port = this.deps.bootReportPort?.() ?? 0;
    return { serverIp, homes: c.homes ?? null, ldap: c.ldap ?? null, bootReportPort: port > 0 ? port : null };
  }
}

function abortedError(): DomainError {
  return new DomainError(ErrorCode.IMAGE_JOB_ABORTED, 'cancelled: nothing was kept');
}

/** The boot folder of a new version: at the same place inside it as in the image's active version. */
function bootPathIn(target: string, image: ImageRecord): string {
  return path.join(target, path.relative(image.path, image.bootPath));
}

/** An absolute path on the server, not inside its system folders. */
function checkServerPath(field: string, value: string): void {
  if (typeof value !== 'string' || !path.isAbsolute(value)) throw validationError(field, 'must be an absolute path on the server');
  if (value.includes('\0')) throw validationError(field, 'must not contain NUL');
  if (value.length > 4096) throw validationError(field, 'must be at most 4096 characters');
  const problem = hostFolderProblem(path.resolve(value));
  if (problem) throw validationError(field, `${value} ${problem}`);
}
