import type { PluginFactory } from '../core/plugin-api/plugin';
import { createDhcpPlugin } from './dhcp/dhcp.plugin';
import { createLdapPlugin } from './ldap/ldap.plugin';
import { createNfsPlugin } from './nfs/nfs.plugin';
import { createTftpPlugin } from './tftp/tftp.plugin';

/**
 * The built-in protocol plugins, in start order: the one explicit list. Each plugin lives in
 * src/plugins/<name>/ and imports only src/core/plugin-api/plugin.ts.
 */
export const BUILT_IN_PLUGINS: readonly PluginFactory[] = [createDhcpPlugin(), createTftpPlugin(), createLdapPlugin(), createNfsPlugin()];
