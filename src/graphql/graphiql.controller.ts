import { Controller, Get, Inject, NotFoundException, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { APP_LOGGER } from '../core/logging/logging.tokens';
import type { Logger } from '../core/logging/logger';
import { GraphiqlAssets, PAGE_HTML } from './graphiql.assets';

/** Everything loads from this server; the page talks only to /graphql (HTTP and WebSocket). */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** GraphiQL at /graphiql, served offline from the installed packages (see graphiql.assets.ts). */
@Controller('graphiql')
export class GraphiqlController {
  private readonly assets = new GraphiqlAssets();

  constructor(@Inject(APP_LOGGER) private readonly logger: Logger) {}

  @Get()
  page(@Res() res: Response): void {
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.setHeader('Cache-Control', 'no-cache');
    res.type('html').send(PAGE_HTML);
  }

  @Get('assets/:name')
  asset(@Param('name') name: string, @Res() res: Response): void {
    let asset;
    try {
      asset = this.assets.get(name);
    } catch (error) {
      this.logger.error('cannot serve a GraphiQL asset', { asset: name, error });
      res.status(500).type('text/plain').send(`cannot serve ${name}: see the server log`);
      return;
    }
    if (!asset) throw new NotFoundException(`no GraphiQL asset ${name}`);
    // Revalidated with the ETag on each load: the files change when the packages are updated.
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.type(asset.contentType).send(asset.body);
  }
}
