import { Controller, Get, Headers, HttpCode, HttpException, HttpStatus, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { AuditLog } from '../audit/audit-log';
import { AuthService } from '../auth/auth.service';
import type { EventFilter } from '../event-store/event-store.port';
import { HealthService, type HealthReport } from '../observability/health.service';
import { Metrics } from '../observability/metrics';
import { ProjectionEngine } from '../projections/projection-engine';

function list(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  return items.length ? items : undefined;
}

/** Operational endpoints: `/health` (no auth), `/metrics` (no auth), `/audit/export.ndjson` (auth). */
@Controller()
export class OpsController {
  constructor(
    private readonly health: HealthService,
    private readonly metrics: Metrics,
    private readonly audit: AuditLog,
    private readonly auth: AuthService,
    private readonly engine: ProjectionEngine,
  ) {}

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
    const filter: EventFilter = {
      streamPrefixes: list(query.streamPrefix),
      types: list(query.types),
      actor: one('actor'),
      since: one('since'),
      until: one('until'),
    };
    for (const k of ['since', 'until'] as const) {
      if (filter[k] !== undefined && Number.isNaN(Date.parse(filter[k]!))) {
        throw new HttpException({ code: 'VALIDATION', message: `${k}: not an ISO-8601 time` }, HttpStatus.BAD_REQUEST);
      }
    }
    const afterText = one('after');
    if (afterText !== undefined && !/^\d+$/.test(afterText)) {
      throw new HttpException({ code: 'VALIDATION', message: 'after: not a position' }, HttpStatus.BAD_REQUEST);
    }
    res.status(200).setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
    for await (const line of this.audit.ndjson(filter, afterText === undefined ? undefined : Number(afterText))) {
      if (!res.write(line)) await new Promise((resolve) => res.once('drain', resolve));
    }
    res.end();
  }
}
