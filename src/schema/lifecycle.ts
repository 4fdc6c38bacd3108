/** Tenant lifecycle (issue 15): per-person erasure. */
import { eraseUser, type ErasureResult } from '../lifecycle/erasure';
import { allow } from './access';
import { builder } from './builder';

const UserErasure = builder.objectRef<ErasureResult>('UserErasure').implement({
  description: 'What eraseUser removed in this tenant. All zeros for a user with nothing here (unknown, or of another tenant).',
  fields: (t) => ({
    userId: t.exposeID('userId'),
    conversations: t.exposeInt('conversations', { description: 'Conversations owned by the user, removed.' }),
    messages: t.exposeInt('messages', { description: 'Messages in those conversations, removed.' }),
    membership: t.exposeBoolean('membership', { description: 'Whether a membership row was removed (the next request with a token re-creates it: erasure is not a ban).' }),
  }),
});

builder.mutationFields((t) => ({
  eraseUser: t.field({
    type: UserErasure,
    description:
      "Erases one person's chat history in this tenant (owner/admin): their conversations, messages and membership. " +
      'Usage aggregates are kept; an audit row records the counts, never the content.',
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_r, { userId }, ctx) => eraseUser(allow(ctx, 'admin', 'admin'), String(userId)),
  }),
}));
