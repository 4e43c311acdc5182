import { ACTIONS, DEVICES, UserTag } from '@lib/domain';
import { assertType, AvroValue, SameShape } from './avro-schema.types';

/**
 * Avro schema of a user tag, version 1. Enum symbols come from the domain's constants, and the
 * assertion below fails to compile if the domain type and this schema disagree on any field.
 */
export const userTagSchemaV1 = {
  type: 'record',
  name: 'UserTag',
  namespace: 'analytics',
  doc: 'One VIEW or BUY event, exactly as the client sent it.',
  fields: [
    { name: 'time', type: 'string', doc: 'ISO-8601 UTC text, kept exactly as received (not normalised).' },
    { name: 'cookie', type: 'string' },
    { name: 'country', type: 'string' },
    { name: 'device', type: { type: 'enum', name: 'Device', symbols: DEVICES } },
    { name: 'action', type: { type: 'enum', name: 'Action', symbols: ACTIONS } },
    { name: 'origin', type: 'string' },
    {
      name: 'product_info',
      type: {
        type: 'record',
        name: 'ProductInfo',
        fields: [
          // A string stays a string and an integer stays a number (the union branch records which).
          { name: 'product_id', type: ['string', 'long'] },
          { name: 'brand_id', type: 'string' },
          { name: 'category_id', type: 'string' },
          { name: 'price', type: 'int' },
        ],
      },
    },
  ],
} as const;

export const USER_TAG_SCHEMA = 'analytics.UserTag';

assertType<SameShape<AvroValue<typeof userTagSchemaV1>, UserTag>>(true);
