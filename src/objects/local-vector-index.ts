/** LocalVectorIndex: PLACEHOLDER for the Vectorize-compatible local store (src/vector). */
import { DurableObject } from 'cloudflare:workers';

export class LocalVectorIndex extends DurableObject<Env> {}
