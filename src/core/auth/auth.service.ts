import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { CommandBus } from '../commands/command-bus';
import { BRAMBLE_CONFIG, type BrambleConfig } from '../config/config';
import { IssueApiTokenCommand } from '../commands/system.commands';
import { commandMeta } from '../commands/meta';
import { APP_LOGGER } from '../logging/logging.tokens';
import type { Logger } from '../logging/logger';
import { ReadModelQueries } from '../projections/read-model-queries';

export const ADMIN_TOKEN_FILE = 'admin-token';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Bearer tokens. Only SHA-256 digests of tokens are stored (ApiTokenIssued events); the first admin
 * token is BRAMBLE_ADMIN_TOKEN, or one generated on first start and written once to
 * `<data>/admin-token` with mode 0600. The token's name becomes the actor of every event.
 */
@Injectable()
export class AuthService {
  private readonly envTokenHash: Buffer | null;
  private readonly logger: Logger;

  constructor(
    private readonly queries: ReadModelQueries,
    private readonly commandBus: CommandBus,
    @Inject(BRAMBLE_CONFIG) private readonly config: BrambleConfig,
    @Inject(APP_LOGGER) logger: Logger,
  ) {
    this.envTokenHash = config.adminToken ? Buffer.from(sha256Hex(config.adminToken), 'hex') : null;
    this.logger = logger.child('auth');
  }

  /** The actor for an `Authorization` header value (or a bare token), or null when not valid. */
  actorFor(authorization: string | undefined | null): string | null {
    if (!authorization) return null;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization.trim());
    const token = match ? match[1] : null;
    if (!token || token.length > 512) return null;
    const hash = sha256Hex(token);
    if (this.envTokenHash && timingSafeEqual(this.envTokenHash, Buffer.from(hash, 'hex'))) return 'admin:env';
    const name = this.queries.tokenName(hash);
    return name ? `admin:${name}` : null;
  }

  /** On first start without BRAMBLE_ADMIN_TOKEN: creates the admin token and writes it once. */
  async ensureAdminToken(): Promise<void> {
    if (this.config.adminToken || this.queries.engine.state.tokens.size > 0) return;
    const token = randomBytes(32).toString('base64url');
    const file = path.join(this.config.dataDir, ADMIN_TOKEN_FILE);
    await fsp.mkdir(this.config.dataDir, { recursive: true, mode: 0o700 });
    // Written before the event, so a crash in between leaves a file and no token (retried next
    // start) rather than a token nobody knows. Owner-only before the token is in it, whatever the
    // umask or the mode of a file left by such a crash.
    const handle = await fsp.open(file, 'w', 0o600);
    try {
      await handle.chmod(0o600);
      await handle.writeFile(token + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    const outcome = await this.commandBus.execute(
      new IssueApiTokenCommand({ name: 'admin', sha256: sha256Hex(token) }, commandMeta('system')),
    );
    await this.queries.engine.waitFor(outcome.position);
    this.logger.info('generated the first admin token', { file });
  }
}
