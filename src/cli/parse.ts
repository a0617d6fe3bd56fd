/**
 * Parsers for command-line values: each quotes the bad value and says what was expected.
 */
import { UsageError } from '../errors.js';

/** An integer flag within [min, max]. */
export function parseInteger(flag: string, min: number, max: number): (text: string) => number {
  return (text: string) => {
    const value = Number(text);
    if (!/^\s*-?\d+\s*$/.test(text) || !Number.isInteger(value) || value < min || value > max) {
      throw new UsageError(`${flag} must be an integer from ${min} to ${max} (got '${text}')`);
    }
    return value;
  };
}

/** A finite number flag within [min, max]. */
export function parseNumber(flag: string, min: number, max: number): (text: string) => number {
  return (text: string) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
      throw new UsageError(`${flag} must be a number from ${min} to ${max} (got '${text}')`);
    }
    return value;
  };
}

/** One of a fixed list of words. */
export function parseChoice<T extends string>(
  flag: string,
  choices: readonly T[],
): (text: string) => T {
  return (text: string) => {
    if (!(choices as readonly string[]).includes(text)) {
      throw new UsageError(`${flag} must be one of ${choices.join(', ')} (got '${text}')`);
    }
    return text as T;
  };
}

/** One of a fixed list of integers. */
export function parseChoiceNumber<T extends number>(
  flag: string,
  choices: readonly T[],
): (text: string) => T {
  return (text: string) => {
    const value = Number(text);
    if (!/^\s*\d+\s*$/.test(text) || !(choices as readonly number[]).includes(value)) {
      throw new UsageError(`${flag} must be one of ${choices.join(', ')} (got '${text}')`);
    }
    return value as T;
  };
}
