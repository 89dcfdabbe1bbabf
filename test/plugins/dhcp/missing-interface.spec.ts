/**
 * An interface that does not exist is accepted as a setting (it may appear later: a USB NIC, a VLAN
 * brought up after bramble), and /health says so: the DHCP plugin is down with the reason.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UpdateSettingsCommand } from '../../../src/core/commands/system.commands';
import { commandMeta } from '../../../src/core/commands/meta';
import { HealthService } from '../../../src/core/observability/health.service';
import { createDhcpPlugin } from '../../../src/plugins/dhcp/dhcp.plugin';
import { startCoreApp } from '../../support/core-app';
import { eventually } from '../../support/temp';

describe('DHCP on an interface that does not exist', { skip: process.getuid?.() !== 0 ? 'SO_BINDTODEVICE needs root' : false }, () => {
  it('the setting is accepted; the DHCP plugin is down in /health naming the interface and ENODEV', async () => {
    const core = await startCoreApp({ plugins: [createDhcpPlugin({ probeIntervalMs: 0 })] });
    try {
      const health = core.app.nest.get(HealthService);
      assert.match((await health.report()).plugins.dhcp.detail ?? '', /no interface configured/);
      await core.exec(new UpdateSettingsCommand({ changes: { interface: 'nosuch0', serverIp: '10.9.0.1' } }, commandMeta('admin:t')));
      assert.equal(core.queries.settings().interface, 'nosuch0');
      await eventually(
        async () => /nosuch0.*ENODEV/.test((await health.report()).plugins.dhcp.detail ?? ''),
        5000,
        'health names the problem',
      );
      const report = await health.report();
      assert.equal(report.plugins.dhcp.status, 'down');
      assert.equal(report.status, 'degraded', 'bramble itself keeps serving');
    } finally {
      await core.close();
    }
  });
});
