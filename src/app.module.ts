import { Module, type DynamicModule } from '@nestjs/common';
import { CoreModule, type CoreModuleOptions } from './core/core.module';
import { OpsController } from './core/http/ops.controller';
import { GraphqlApiModule } from './graphql/graphql.module';

/** The whole application: the core, its HTTP endpoints and the GraphQL API. */
@Module({})
export class AppModule {
  static forRoot(options: CoreModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [CoreModule.forRoot(options), GraphqlApiModule],
      controllers: [OpsController],
    };
  }
}
