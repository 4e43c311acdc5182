/**
 * The subset of Avro schema syntax our schemas use, written `as const` so that the TypeScript type
 * of a value can be derived from its schema ({@link AvroValue}). The schema files check that the
 * derived type and the domain type are the same, so the two cannot drift apart.
 */

export interface AvroPrimitives {
  null: null;
  boolean: boolean;
  int: number;
  /** avsc decodes longs as numbers and refuses values beyond Number.MAX_SAFE_INTEGER. */
  long: number;
  float: number;
  double: number;
  string: string;
  bytes: Buffer;
}

export type AvroPrimitiveName = keyof AvroPrimitives;

export interface AvroField {
  readonly name: string;
  readonly type: AvroSchema;
  readonly doc?: string;
  readonly default?: unknown;
}

export interface AvroRecordSchema {
  readonly type: 'record';
  readonly name: string;
  readonly namespace?: string;
  readonly doc?: string;
  readonly fields: readonly AvroField[];
}

export interface AvroEnumSchema {
  readonly type: 'enum';
  readonly name: string;
  readonly namespace?: string;
  readonly symbols: readonly string[];
}

/** A primitive with attributes, e.g. `{ type: 'long', logicalType: 'timestamp-millis' }`. */
export interface AvroAnnotatedPrimitive {
  readonly type: AvroPrimitiveName;
  readonly logicalType?: string;
}

export type AvroSchema =
  AvroPrimitiveName | AvroAnnotatedPrimitive | AvroRecordSchema | AvroEnumSchema | readonly AvroSchema[];

type Flatten<T> = { [K in keyof T]: T[K] };

type RecordValue<F extends readonly AvroField[]> = Flatten<
  { [K in F[number] as K extends { default: unknown } ? never : K['name']]: AvroValue<K['type']> } & {
    [K in F[number] as K extends { default: unknown } ? K['name'] : never]?: AvroValue<K['type']>;
  }
>;

/**
 * The JavaScript value avsc reads and writes for schema `S`. A field with a default is optional:
 * avsc writes the default when the field is undefined.
 */
export type AvroValue<S> = S extends AvroPrimitiveName
  ? AvroPrimitives[S]
  : S extends readonly (infer U)[]
    ? AvroValue<U>
    : S extends { readonly type: 'enum'; readonly symbols: readonly (infer E)[] }
      ? E
      : S extends { readonly type: 'record'; readonly fields: infer F extends readonly AvroField[] }
        ? RecordValue<F>
        : S extends { readonly type: infer P extends AvroPrimitiveName }
          ? AvroPrimitives[P]
          : never;

/** `true` when each type is assignable to the other (same fields, same optionality, same value types). */
export type SameShape<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** Compile-time assertion: `assertType<SameShape<X, Y>>(true)` fails to compile when they differ. */
export function assertType<T extends true>(_proof: T): void {}
