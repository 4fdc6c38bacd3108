import type { Database } from '../../src/db/client';

/** One database engine the repositories must work on, opened like the tenant session does. */
export interface Backend {
  name: string;
  /** `db` holds tenant data; `catalogue` the tenant rows, API keys, memberships (the same handle for shared). */
  open(): Promise<{ db: Database; catalogue: Database }>;
}
