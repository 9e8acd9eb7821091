// Unit tests of src/pins.ts (a job's pinned data versions, the `altakit_pins` parameter).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { load } from './load.mjs';

const { parsePins, pinsValue, withPin, withoutPin, pinRefs, withPinsParameter, PINS_PARAMETER } =
  load('pins');

test('the parameter is the JSON object of the contract, keys sorted, absent when empty', () => {
  let pins = withPin({}, 'table', 'sensors', 4);
  pins = withPin(pins, 'dataset', 'digits', 2);
  assert.equal(pinsValue(pins), '{"dataset:digits":2,"table:sensors":4}');
  assert.deepEqual(parsePins(pinsValue(pins)), { 'table:sensors': 4, 'dataset:digits': 2 });
  assert.equal(pinsValue({}), undefined);
  assert.equal(PINS_PARAMETER, 'altakit_pins');
});

test('a new pick of the same name replaces its pin; unpin removes only that one', () => {
  let pins = withPin(withPin({}, 'table', 'sensors', 4), 'table', 'sensors', 2);
  pins = withPin(pins, 'model', 'digits', 3);
  assert.deepEqual(pinRefs(pins), ['model:digits@3', 'table:sensors@2']);
  assert.deepEqual(pinRefs(withoutPin(pins, 'table:sensors')), ['model:digits@3']);
});

test('names with slashes and @ stay whole in refs', () => {
  assert.deepEqual(pinRefs(withPin({}, 'dataset', 'team/digits', 7)), ['dataset:team/digits@7']);
});

test('bad pins are refused, bad parameter values read as no pins', () => {
  assert.throws(() => withPin({}, 'table', 'sensors', 0), /cannot pin/);
  assert.throws(() => withPin({}, 'table', 'sensors', 1.5), /cannot pin/);
  assert.throws(() => withPin({}, 'run', 'nightly', 1), /cannot pin/);
  assert.throws(() => withPin({}, 'table', '', 1), /cannot pin/);
  for (const bad of [undefined, 3, '', 'not json', '[1]', 'null']) {
    assert.deepEqual(parsePins(bad), {}, String(bad));
  }
  assert.deepEqual(parsePins('{"table:a": 2, "table:b": "3", "run:c": 1, "x": 1, "table:d": 0}'), {
    'table:a': 2
  });
});

test('the environment parameters keep their other entries', () => {
  const params = { gpu: true, [PINS_PARAMETER]: '{"table:old":1}' };
  const set = withPinsParameter(params, { 'table:sensors': 4 });
  assert.deepEqual(set, { gpu: true, altakit_pins: '{"table:sensors":4}' });
  assert.deepEqual(withPinsParameter(set, {}), { gpu: true });
  assert.deepEqual(withPinsParameter(undefined, {}), {});
  assert.equal(params[PINS_PARAMETER], '{"table:old":1}', 'the given object is not changed');
});
