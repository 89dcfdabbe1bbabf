import { UseGuards } from '@nestjs/common';
import { Args, Query, Resolver } from '@nestjs/graphql';
import { DiagnosisService, type Diagnosis as DiagnosisResult } from '../core/boot/diagnosis.service';
import { AuthenticatedGuard } from './auth';
import { Diagnosis } from './diagnose.types';

@Resolver(() => Diagnosis)
@UseGuards(AuthenticatedGuard)
export class DiagnoseResolver {
  constructor(private readonly diagnosis: DiagnosisService) {}

  @Query(() => Diagnosis, {
    description:
      'Why a client does not boot: unknown, not approved, no image, the image lacks the files its model asks for, a rival DHCP server, DHCP retries without TFTP (spanning tree), a wrong serial folder, where its last boot stalled.',
  })
  diagnose(@Args('mac') mac: string): Promise<DiagnosisResult> {
    return this.diagnosis.diagnose(mac);
  }
}
