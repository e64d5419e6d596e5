/**
 * The one error family of the data layer. A refused conditional write is not a failure of the
 * database but an answer: "someone else got there first". It carries what was there (the item as
 * DynamoDB returned it with ReturnValuesOnConditionCheckFailure, or as re-read when the local
 * DynamoDB does not return it), so the caller can decide without another guess.
 */

export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreError";
  }
}

/** A conditional write was refused. `existing` is the item that made it fail (undefined: no item). */
export class ConditionRefusedError<T = Record<string, unknown>> extends StoreError {
  readonly operation: string;
  readonly key: Record<string, string>;
  readonly existing: T | undefined;

  constructor(operation: string, key: Record<string, string>, existing: T | undefined, cause?: unknown) {
    super(`${operation} refused by its condition (${JSON.stringify(key)})`, { cause });
    this.name = "ConditionRefusedError";
    this.operation = operation;
    this.key = key;
    this.existing = existing;
  }
}

/** A workshop CONFIG item exists but does not hold a valid workshop (the deploy wrote something else). */
export class InvalidWorkshopItemError extends StoreError {
  readonly slug: string;

  constructor(slug: string, detail: string, cause?: unknown) {
    super(`the workshop item for ${slug} is not a valid workshop: ${detail}`, { cause });
    this.name = "InvalidWorkshopItemError";
    this.slug = slug;
  }
}
