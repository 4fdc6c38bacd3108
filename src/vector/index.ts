/** Picks the VectorStore the configuration names (DESIGN §8 VECTOR_BACKEND). */
import type { AppEnv, Config } from '../env';
import { LocalVectorStore } from './local-store';
import type { VectorStore } from './types';
import { VectorizeStore, type VectorizeBinding } from './vectorize-store';

export type { VectorStore } from './types';

/** Composition-root helper: the only place that maps bindings to a vector store. */
export function vectorStoreFor(config: Config, env: AppEnv): VectorStore {
  if (config.vectorBackend === 'vectorize') {
    // loadConfig already refused VECTOR_BACKEND=vectorize without the binding.
    return new VectorizeStore(env.VECTORIZE as unknown as VectorizeBinding);
  }
  return new LocalVectorStore(env.LOCAL_VECTORS);
}
