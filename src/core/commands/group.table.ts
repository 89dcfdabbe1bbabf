/** The group aggregate's command table (stream `group-<name>`, gid numbers from `sequence-gid`). */
import { gidSequenceDecider, groupDecider } from '../domain/group/group.decider';
import { GID_SEQUENCE_STREAM, groupStream } from '../domain/group/group.events';
import { DomainError, ErrorCode } from '../domain/shared/domain-error';
import { validateNewUsername } from '../domain/user/user.decider';
import { aggregateTable, flow } from './command-table';
import { CreateGroupCommand, DeleteGroupCommand } from './user.commands';

export const GROUP_TABLE = aggregateTable({ name: 'group', decider: groupDecider, stream: (c) => groupStream(c.name) }, (on) => [
  flow(CreateGroupCommand, async (input, meta, d) => {
    const name = input.name.trim();
    // Before a gid number is allocated: a refused name must not use one up.
    validateNewUsername(name, 'name');
    // The store says whether the name is taken (the decider checks again on append).
    if ((await d.runner.load(groupStream(name), groupDecider)).state.status === 'active') {
      throw new DomainError(ErrorCode.GROUP_EXISTS, `group ${name} already exists`, 'name');
    }
    const allocated = await d.runner.run(GID_SEQUENCE_STREAM, gidSequenceDecider, { type: 'AllocateGid', name }, meta);
    return d.runner.run(
      groupStream(name),
      groupDecider,
      {
        type: 'CreateGroup',
        name,
        gidNumber: allocated.events[0].data.gidNumber,
      },
      meta,
    );
  }),
  on(DeleteGroupCommand, (i) => ({ type: 'DeleteGroup', name: i.name })),
]);
