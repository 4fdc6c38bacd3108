// The bare baseline of `npm run bench:pipeline`: graphql-yoga (the version edgerag uses,
// from the same node_modules) on the same workerd, one trivial field shaped like edgerag's
// `{ viewer { role } }`, no auth, no database, no Durable Object.
import { createSchema, createYoga } from 'graphql-yoga';

const yoga = createYoga({
  schema: createSchema({
    typeDefs: 'type Viewer { role: String! } type Query { viewer: Viewer! }',
    resolvers: { Query: { viewer: () => ({ role: 'ADMIN' }) } },
  }),
  graphqlEndpoint: '/graphql',
  graphiql: false,
  landingPage: false,
  logging: false,
});

export default {
  fetch(request) {
    return yoga.fetch(request);
  },
};
