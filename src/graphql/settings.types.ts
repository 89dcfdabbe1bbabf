import { Field, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { JSONScalar } from './json.scalar';

export enum DhcpMode {
  PROXY = 'proxy',
  FULL = 'full',
}
registerEnumType(DhcpMode, {
  name: 'DhcpMode',
  description: 'PROXY: another server hands out addresses, bramble adds the boot options. FULL: bramble is the DHCP server.',
});

@ObjectType({ description: 'Run-time settings (the environment may pin interface and serverIp).' })
export class Settings {
  @Field(() => DhcpMode) dhcpMode!: DhcpMode;
  @Field(() => String, { nullable: true }) dhcpRangeStart!: string | null;
  @Field(() => String, { nullable: true }) dhcpRangeEnd!: string | null;
  @Field(() => String, { nullable: true }) dhcpNetmask!: string | null;
  @Field(() => Int) dhcpLeaseSeconds!: number;
  @Field(() => String, { nullable: true }) gateway!: string | null;
  @Field(() => [String]) dnsServers!: string[];
  @Field(() => String, { nullable: true }) interface!: string | null;
  @Field(() => String, { nullable: true }) serverIp!: string | null;
  @Field() ldapBaseDn!: string;
  @Field(() => JSONScalar, { description: 'Settings of plugins, by plugin name then key.' })
  plugins!: Record<string, Record<string, unknown>>;
}

/** Every field optional: only the fields given change. */
@InputType()
export class SettingsInput {
  @Field(() => DhcpMode, { nullable: true }) dhcpMode?: DhcpMode;
  @Field(() => String, { nullable: true }) dhcpRangeStart?: string | null;
  @Field(() => String, { nullable: true }) dhcpRangeEnd?: string | null;
  @Field(() => String, { nullable: true }) dhcpNetmask?: string | null;
  @Field(() => Int, { nullable: true }) dhcpLeaseSeconds?: number;
  @Field(() => String, { nullable: true }) gateway?: string | null;
  @Field(() => [String], { nullable: true }) dnsServers?: string[];
  @Field(() => String, { nullable: true }) interface?: string | null;
  @Field(() => String, { nullable: true }) serverIp?: string | null;
  @Field(() => String, { nullable: true }) ldapBaseDn?: string;
  @Field(() => JSONScalar, { nullable: true, description: 'Plugin name → its settings (each plugin named gets exactly these values).' })
  plugins?: Record<string, Record<string, unknown>>;
}
