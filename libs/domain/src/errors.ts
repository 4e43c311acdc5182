/**
 * Stable codes of domain errors. Clients and the gateway's error mapping depend on them:
 * rename one only with a migration note.
 */
export const DomainErrorCode = {
  TimeFormat: 'TIME_FORMAT',
  TimeInFuture: 'TIME_IN_FUTURE',
  TimeRangeFormat: 'TIME_RANGE_FORMAT',
  TimeRangeOrder: 'TIME_RANGE_ORDER',
  TimeRangeNotWholeMinutes: 'TIME_RANGE_NOT_WHOLE_MINUTES',
  TimeRangeTooLong: 'TIME_RANGE_TOO_LONG',
  InvalidUserTag: 'INVALID_USER_TAG',
  TagTooLarge: 'TAG_TOO_LARGE',
  InvalidQuery: 'INVALID_QUERY',
} as const;

export type DomainErrorCode = (typeof DomainErrorCode)[keyof typeof DomainErrorCode];

/** A rule of the domain was broken by input; `message` says what to change. */
export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    /** Name of the input field at fault, when there is one (`time_range`, `product_info.price`). */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
