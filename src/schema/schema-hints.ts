/**
 * What GraphQL's own error messages tell about the schema, hidden where introspection is
 * off (production unless INTROSPECTION=true). graphql-armor's block-field-suggestions
 * only knows the field form ("Did you mean "x"?") and only in validation; graphql-js also
 * suggests enum values ("Did you mean the enum value "HYBRID"?"), and variable coercion
 * errors (execution, not validation) carry both kinds. Type names ("on type
 * "SearchHit"", "in "SearchMode" enum", "Query.search") map the schema just as well, so
 * they go too. What the message says about the client's own query stays: which field,
 * argument or value was wrong and where (`locations`).
 */

/** Scalars every GraphQL schema has: naming them reveals nothing. */
const BUILT_IN = new Set(['Int', 'Float', 'String', 'Boolean', 'ID']);
const HIDDEN = '[hidden]';

/** A quoted type reference ("SearchInput!", "[String!]") unless it is built from a built-in scalar. */
const typeRef = (quoted: string) => (BUILT_IN.has(quoted.replace(/[[\]!]/g, '')) ? `"${quoted}"` : HIDDEN);

/**
 * `message` without suggestions and schema type names. Only for messages GraphQL itself
 * wrote (validation, variable coercion, parsing): the patterns are graphql-js 16's.
 */
export function hideSchemaHints(message: string): string {
  return (
    message
      // Every suggestion form: fields, arguments, types, enum values, "search { ... }".
      .replace(/\s*Did you mean [^?]*\?/g, '')
      // armor's own mask, should it have run first.
      .replace(/\s*\[Suggestion hidden\]/g, '')
      // "on type "X"", "by type "X"", "of required type "X!"", "expecting type "X"", "objects of type "X"".
      .replace(/\btype "([^"]*)"/g, (_, t: string) => `type ${typeRef(t)}`)
      // "Value "V" does not exist in "Mode" enum.", "Enum "Mode" cannot represent …", "OneOf Input Object "X" …".
      .replace(/\bin "[^"]*" enum\b/g, `in ${HIDDEN} enum`)
      .replace(/\b(Enum|Input Object) "[^"]*"/g, `$1 ${HIDDEN}`)
      // Schema coordinates: 'field "Query.search"', 'Field "SearchInput.query"' keep only the field's own name.
      .replace(/\b([Ff]ield) "[A-Za-z_][A-Za-z0-9_]*\.([A-Za-z_][A-Za-z0-9_]*)"/g, '$1 "$2"')
  );
}
