// Types of scripts/token-args.mjs, for the test suite (tsc checks test/**/*.ts).
export declare const USAGE: string;
export declare class TokenArgsError extends Error {}
export interface TokenOptions {
  tenant: string | undefined;
  role: 'owner' | 'admin' | 'member' | 'viewer';
  sub: string | undefined;
  hours: number;
  scope: string | undefined;
  collectionIds: string[] | undefined;
  agentIds: string[] | undefined;
  platformAdmin: boolean;
}
export declare function parseTokenArgs(argv: readonly string[]): TokenOptions | { help: true };
