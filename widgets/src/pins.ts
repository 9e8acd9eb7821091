/**
 * Pinned inputs of a job: `{"table:sensors": 4, "dataset:digits": 2}`, kept in the job's
 * `runtime_environment_parameters.altakit_pins` as a JSON string (the contract of issue 19).
 * Pure, no imports (unit-tested).
 */

/** The job parameter that carries the pins. */
export const PINS_PARAMETER = 'altakit_pins';

/** The record kinds a job can pin. */
export const PIN_KINDS = ['table', 'dataset', 'model'];

export interface IPins {
  [kindAndName: string]: number;
}

/**
 * The pins in `value` (the parameter's JSON string; anything else reads as no pins).
 *
 * Entries that are not `kind:name` → whole number ≥ 1 are dropped.
 */
export function parsePins(value: unknown): IPins {
  if (typeof value !== 'string' || !value.trim()) {
    return {};
  }
  let data: unknown;
  try {
    data = JSON.parse(value);
  } catch {
    return {};
  }
  const pins: IPins = {};
  if (data && typeof data === 'object' && !Array.isArray(data)) {
    for (const [key, version] of Object.entries(data as object)) {
      if (isPinKey(key) && Number.isInteger(version) && version >= 1) {
        pins[key] = version;
      }
    }
  }
  return pins;
}

/** `pins` as the parameter's value, keys sorted; `undefined` when there are none (= latest). */
export function pinsValue(pins: IPins): string | undefined {
  const keys = Object.keys(pins).sort();
  if (!keys.length) {
    return undefined;
  }
  const sorted: IPins = {};
  for (const key of keys) {
    sorted[key] = pins[key];
  }
  return JSON.stringify(sorted);
}

/** `pins` with `kind:name` pinned to `version` (one version per name: a new pick replaces the old). */
export function withPin(
  pins: IPins,
  kind: string,
  name: string,
  version: number
): IPins {
  const key = `${kind}:${name}`;
  if (!isPinKey(key) || !Number.isInteger(version) || version < 1) {
    throw new Error(`cannot pin ${key}@${version}`);
  }
  return { ...pins, [key]: version };
}

/** `pins` without `key` (`kind:name`). */
export function withoutPin(pins: IPins, key: string): IPins {
  const rest = { ...pins };
  delete rest[key];
  return rest;
}

/** The pinned refs, `kind:name@version`, sorted. */
export function pinRefs(pins: IPins): string[] {
  return Object.keys(pins)
    .sort()
    .map(key => `${key}@${pins[key]}`);
}

/**
 * The job's environment parameters with `pins` set (or removed when empty); other entries kept.
 */
export function withPinsParameter<T>(
  parameters: { [key: string]: T } | undefined,
  pins: IPins
): { [key: string]: T | string } {
  const next: { [key: string]: T | string } = { ...(parameters || {}) };
  const value = pinsValue(pins);
  if (value === undefined) {
    delete next[PINS_PARAMETER];
  } else {
    next[PINS_PARAMETER] = value;
  }
  return next;
}

function isPinKey(key: string): boolean {
  const at = key.indexOf(':');
  return at > 0 && PIN_KINDS.includes(key.slice(0, at)) && at < key.length - 1;
}
