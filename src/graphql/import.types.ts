import { Field, Int, ObjectType } from '@nestjs/graphql';

@ObjectType({ description: 'The outcome of one CSV row of an import; bad rows do not stop good ones.' })
export class ImportRowResult {
  @Field(() => Int, { description: '1-based line number in the CSV text.' }) line!: number;
  @Field(() => String, { nullable: true, description: 'The row key (MAC or username) when it could be read.' }) key!: string | null;
  @Field() ok!: boolean;
  @Field(() => String, { nullable: true, description: 'Stable error code (VALIDATION, USER_EXISTS...) when not ok.' }) code!: string | null;
  @Field(() => String, { nullable: true }) message!: string | null;
}
