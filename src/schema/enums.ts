/** Public enums (DESIGN §7). GraphQL values are upper case; storage is lower case. */
import { builder } from './builder';

export const PlanEnum = builder.enumType('Plan', { values: ['FREE', 'STARTER', 'PRO', 'ENTERPRISE'] as const });
export const TenantStatusEnum = builder.enumType('TenantStatus', {
  values: ['TRIAL', 'ACTIVE', 'SUSPENDED', 'CANCELLED'] as const,
});
export const RoleEnum = builder.enumType('Role', { values: ['OWNER', 'ADMIN', 'MEMBER', 'VIEWER'] as const });
export const ApiKeyScopeEnum = builder.enumType('ApiKeyScope', { values: ['SEARCH', 'CHAT', 'INGEST', 'ADMIN'] as const });
/** Retrieval modes (DESIGN §6): search input, and the tenant's default for ask. */
export const SearchModeEnum = builder.enumType('SearchMode', { values: ['VECTOR', 'KEYWORD', 'HYBRID'] as const });
export const DocumentStatusEnum = builder.enumType('DocumentStatus', {
  values: ['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED'] as const,
});

export const upper = <T extends string>(v: T) => v.toUpperCase() as Uppercase<T>;
export const lower = <T extends string>(v: T) => v.toLowerCase() as Lowercase<T>;
