import { boolean, nullableString, type Static, string, stringList } from './schema.js';

/** Variables by name; reads leave sealed ones out (their values never leave the server). */
export const variableMapSchema = { type: 'object', additionalProperties: string } as const;
export type VariableMap = Static<typeof variableMapSchema>;

/** One variable of a `?detail=1` listing; sealed values are null. */
export const variableDetailSchema = {
  type: 'object',
  required: ['name', 'sealed', 'value'],
  additionalProperties: false,
  properties: { name: string, sealed: boolean, value: nullableString },
} as const;
export type VariableDetail = Static<typeof variableDetailSchema>;

/** A variables read: the map, or with `detail=1` the list of details. */
export const variablesReadSchema = {
  anyOf: [variableMapSchema, { type: 'array', items: variableDetailSchema }],
} as const;

export const variablesQuerySchema = { type: 'object', properties: { detail: string } } as const;
export type VariablesQuery = Static<typeof variablesQuerySchema>;

export const variablesPatchSchema = {
  type: 'object',
  properties: {
    set: variableMapSchema,
    delete: stringList,
    /** Seals every variable in `set`: its value can never be read back. */
    sealed: boolean,
    skipDeploys: boolean,
  },
} as const;
export type VariablesPatch = Static<typeof variablesPatchSchema>;

export const patchedVariablesSchema = {
  type: 'object',
  required: ['variables', 'deploymentId'],
  additionalProperties: false,
  properties: {
    variables: variableMapSchema,
    /** The redeployment the change started; null with skipDeploys or an inactive service. */
    deploymentId: nullableString,
  },
} as const;
export type PatchedVariables = Static<typeof patchedVariablesSchema>;

export const patchedSharedVariablesSchema = {
  type: 'object',
  required: ['variables', 'deploymentIds'],
  additionalProperties: false,
  properties: {
    variables: variableMapSchema,
    /** Services redeployed because their resolved variables changed, in reference order. */
    deploymentIds: stringList,
  },
} as const;
export type PatchedSharedVariables = Static<typeof patchedSharedVariablesSchema>;
