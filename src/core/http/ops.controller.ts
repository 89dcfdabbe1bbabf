import { Controller, Get, Headers, HttpCode, HttpException, HttpStatus, Inject, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { parsePosition, toAuditFilter } from '../audit/audit-filter';
import { AuditLog } from '../audit/audit-log';
import { AuthService } from '../auth/auth.service';
import { DomainError } from '../domain/shared/domain-error';
import { EventStoreUnavailableError, type EventFilter } from '../event-store/event-store.port';
import { CostlyWork, TooBusyError } from '../limits/concurrency-limiter';
import { APP_LOGGER } from '../logging/logging.tokens';
import type { Logger } from '../logging/logger';
import { HealthService, type HealthReport } from '../observability/health.service';
import { Metrics } from '../observability/metrics';
import { ProjectionEngine } from '../projections/projection-engine';

function list(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = (Array.isArray(value) ? value : [value])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  return items.length ? items : undefined;
}

/** Resolves when `res` can take more data, or when it closed (the client went away). */
function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.once('drain', done).once('close', done);
  });
}

/** Operational endpoints: `/health` (no auth), `/metrics` (no auth), `/audit/export.ndjson` (auth). */
@Controller()
export class OpsController {
  private readonly logger: Logger;

  constructor(
    private readonly health: HealthService,
    private readonly metrics: Metrics,
    private readonly audit: AuditLog,
    private readonly auth: AuthService,
    private readonly engine: ProjectionEngine,
    private readonly costly: CostlyWork,
    @Inject(APP_LOGGER) logger: Logger,
  ) {
    this.logger = logger.child('http');
  }

  @Get('health')
  async getHealth(@Res({ passthrough: true }) res: Response): Promise<HealthReport> {
    const report = await this.health.report();
    res.status(report.status === 'down' ? HttpStatus.SERVICE_UNAVAILABLE : HttpStatus.OK);
    return report;
  }

  @Get('metrics')
  @HttpCode(200)
  async getMetrics(@Res() res: Response): Promise<void> {
    await this.engine.lag().catch(() => undefined); // refreshes bramble_projection_lag_events
    res.setHeader('Content-Type', this.metrics.registry.contentType);
    res.end(await this.metrics.registry.metrics());
  }

  /**
   * The audit log as NDJSON, oldest first. Query: streamPrefix, types (comma-separated), actor,
   * since, until (ISO-8601), after (global position).
   *
   * It never ends cleanly unless every matching event was sent: a read that fails before the first
   * line answers 503 with a code; one that fails later aborts the response (the connection is
   * destroyed before the last chunk, so curl exits non-zero and fetch rejects) and is logged.
   * A client that goes away stops the export.
   */
  @Get('audit/export.ndjson')
  async exportAudit(
    @Headers('authorization') authorization: string | undefined,
    @Query() query: Record<string, string | string[] | undefined>,
    @Res() res: Response,
  ): Promise<void> {
    if (!this.auth.actorFor(authorization)) {
      throw new HttpException({ code: 'UNAUTHENTICATED', message: 'a valid Bearer token is required' }, HttpStatus.UNAUTHORIZED);
    }
    const one = (k: string): string | undefined => {
      const v = query[k];
      return Array.isArray(v) ? v[0] : v;
    };
    let filter: EventFilter;
    let after: number | undefined;
    try {
      filter = toAuditFilter({
        streamPrefixes: list(query.streamPrefix),
        types: list(query.types),
        actor: one('actor'),
        since: one('since'),
        until: one('until'),
      });
      after = parsePosition('after', one('after'));
    } catch (error) {
      if (error instanceof DomainError) throw new HttpException({ code: error.code, message: error.message }, HttpStatus.BAD_REQUEST);
      throw error;
    }
    // A few exports at a time (each streams the whole log); beyond the queue: 503 TOO_BUSY.
    let lines = 0;
    try {
      await this.costly.auditExport.run(async () => {
        res.status(200).setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
        for await (const line of this.audit.ndjson(filter, after)) {
          if (res.destroyed) return; // the client went away: stop reading (the generator is closed by the return)
          lines++;
          if (!res.write(line)) await drained(res);
        }
      });
    } catch (error) {
      if (error instanceof TooBusyError)
        throw new HttpException({ code: error.code, message: error.message }, HttpStatus.SERVICE_UNAVAILABLE);
      if (!res.headersSent) {
        this.logger.error('audit export failed before its first line', { error });
        const code = error instanceof EventStoreUnavailableError ? error.code : 'INTERNAL';
        throw new HttpException({ code, message: 'the audit log could not be read' }, HttpStatus.SERVICE_UNAVAILABLE);
      }
      // Never end a partial export cleanly: the client must see a failure, not a short log.
      this.logger.error('audit export failed mid-stream: aborting the response', { error, linesSent: lines });
      res.destroy();
      return;
    }
    res.end();
  }
}
