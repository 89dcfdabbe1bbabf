import { Query, Resolver } from '@nestjs/graphql';
import { HealthService, type HealthReport } from '../core/observability/health.service';
import { Public } from './auth';
import { Health } from './health.types';

@Resolver(() => Health)
export class HealthResolver {
  constructor(private readonly service: HealthService) {}

  @Public()
  @Query(() => Health, { description: 'The one operation that needs no token (same report as GET /health).' })
  health(): Promise<HealthReport> {
    return this.service.report();
  }
}
