/**
 * JSON schemas written once, `as const`, and the TypeScript type of what each accepts (`Static<typeof S>`):
 * the contract's routes, the CLI and tests all read the same definition. Covers the keywords the contract uses.
 */

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type RequiredKeys<S> = S extends { readonly required: readonly (infer R)[] } ? R : never;

type PropertiesOf<P, R> = Simplify<
  { -readonly [K in keyof P as K extends R ? K : never]: Static<P[K]> } & {
    -readonly [K in keyof P as K extends R ? never : K]?: Static<P[K]>;
  }
>;

/**
 * An object schema's type: its properties (other keys are allowed by TypeScript anyway), or a map when only
 * additionalProperties has a schema. An open object without properties is `object`, so a model interface
 * without an index signature (ServiceConfig) fits it.
 */
type ObjectOf<S> = S extends { readonly properties: infer P }
  ? PropertiesOf<P, RequiredKeys<S>>
  : S extends { readonly additionalProperties: infer A }
    ? A extends boolean
      ? object
      : Record<string, Static<A>>
    : object;

type OfType<S, T> = T extends 'string'
  ? string
  : T extends 'number' | 'integer'
    ? number
    : T extends 'boolean'
      ? boolean
      : T extends 'null'
        ? null
        : T extends 'array'
          ? S extends { readonly items: infer I }
            ? Static<I>[]
            : unknown[]
          : T extends 'object'
            ? ObjectOf<S>
            : never;

/** The type of the values schema S accepts (an enum that allows null lists null among its values). */
export type Static<S> = S extends { readonly anyOf: readonly unknown[] }
  ? Static<S['anyOf'][number]>
  : S extends { readonly const: infer C }
    ? C
    : S extends { readonly enum: readonly (infer E)[] }
      ? E
      : S extends { readonly type: infer T }
        ? OfType<S, T extends readonly (infer U)[] ? U : T>
        : unknown;

export const string = { type: 'string' } as const;
export const nullableString = { type: ['string', 'null'] } as const;
export const integer = { type: 'integer' } as const;
export const nullableInteger = { type: ['integer', 'null'] } as const;
export const number = { type: 'number' } as const;
export const boolean = { type: 'boolean' } as const;
export const stringList = { type: 'array', items: string } as const;

/** Schema S that also accepts null (`type: [S's type, 'null']`, every other keyword kept). */
export type OrNull<S extends { readonly type: string }> = Omit<S, 'type'> & {
  readonly type: readonly [S['type'], 'null'];
};
export function orNull<const S extends { readonly type: string }>(schema: S): OrNull<S> {
  return { ...schema, type: [schema.type, 'null'] } as const;
}
/** Properties P, each also accepting null (a patch body where null clears a key). */
export function orNullEach<const P extends Record<string, { readonly type: string }>>(
  properties: P,
): { readonly [K in keyof P]: OrNull<P[K]> } {
  return Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, orNull(v)])) as {
    readonly [K in keyof P]: OrNull<P[K]>;
  };
}
/** An ISO 8601 time, as the server writes them (`new Date().toISOString()`). */
export const timestamp = { type: 'string', description: 'ISO 8601 time' } as const;
