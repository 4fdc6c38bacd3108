/** Imports every type module (for its side effects on the builder) and prints the schema once. */
import { builder } from './builder';
import './scalars';
import './enums';
import './api-keys';
import './tenant';
import './documents';
import './admin';
import './search-types';
import './search';
import './ingest';
import './agents';
import './model-provider';
import './reembedding';
import './chat';
import './usage';
import './lifecycle';
import './webhooks';
import './members';
import './domains';
import './tenant-lifecycle';

export const schema = builder.toSchema({ sortSchema: false });
