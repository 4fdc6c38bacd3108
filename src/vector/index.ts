/** Picks the VectorStore the configuration names (DESIGN §8 VECTOR_BACKEND). */
import type { AppEnv, Config } from '../env';
import { LocalVectorStore } from './local-store';
import type { VectorReader, VectorStore } from './types';
import { VectorizeStore, type VectorizeBinding } from './vectorize-store';

export type { VectorStore } from './types';

/** A store and the identity of the index behind it (two stores with one identity share vectors). */
export interface PlacedVectorStore {
  store: VectorStore & VectorReader;
  index: string;
}

/**
 * Composition-root helper: the only place that maps bindings to a vector store. `placement`
 * names the tenant's placement and `binding` its Vectorize binding (src/placement/config.ts);
 * without them, the shared index.
 */
export function vectorStoreFor(config: Config, env: AppEnv, placement = 'shared', binding = 'VECTORIZE'): VectorStore & VectorReader {
  return placedVectorStore(config, env, placement, binding).store;
}

export function placedVectorStore(config: Config, env: AppEnv, placement = 'shared', binding = 'VECTORIZE'): PlacedVectorStore {
  if (config.vectorBackend === 'vectorize') {
    // loadConfig already refused VECTOR_BACKEND=vectorize (or a placement) without the binding.
    const index = (env as unknown as Record<string, unknown>)[binding] as VectorizeBinding;
    return { store: new VectorizeStore(index), index: `vectorize:${binding}` };
  }
  const local = placement === 'shared' ? '' : placement;
  return { store: new LocalVectorStore(env.LOCAL_VECTORS, local), index: `local:${local}` };
}
