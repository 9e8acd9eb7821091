// Unit tests of src/chart.ts: metric series, their SVG paths, and the live metrics feed.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { load } from './load.mjs';

const { metricSeries, linePath, MetricsFeed } = load('chart');

test('one series per numeric metric; epoch, else step, else index is x', () => {
  const series = metricSeries([
    { epoch: 1, step: 10, time: 5.5, loss: 0.9, acc: 0.5, note: 'x' },
    { epoch: 2, step: 20, time: 6.1, loss: 0.5, acc: 0.7 },
    { step: 30, loss: 0.25 },
    { loss: 0.1, acc: null }
  ]);
  assert.deepEqual(series, [
    { name: 'loss', xs: [1, 2, 30, 3], ys: [0.9, 0.5, 0.25, 0.1] },
    { name: 'acc', xs: [1, 2], ys: [0.5, 0.7] }
  ]);
  assert.deepEqual(metricSeries([]), []);
});

test('paths span the box; y grows downwards; flat and single points sit mid-height', () => {
  const d = linePath({ name: 'loss', xs: [0, 1, 2], ys: [1, 0.5, 0] }, 100, 50, 0);
  assert.equal(d, 'M0 0 L50 25 L100 50');
  assert.equal(linePath({ name: 'a', xs: [0, 1], ys: [2, 2] }, 100, 50, 4), 'M4 25 L96 25');
  assert.equal(linePath({ name: 'a', xs: [3], ys: [7] }, 100, 50), 'M50 25');
  assert.equal(linePath({ name: 'a', xs: [], ys: [] }, 100, 50), '');
});

/** A feed over scripted answers with a manual clock: `timers` holds the scheduled ticks. */
function scripted(answers, options = {}) {
  const asked = [];
  const updates = [];
  const errors = [];
  const timers = [];
  const feed = new MetricsFeed(
    async after => {
      asked.push(after);
      const next = answers.shift();
      if (next instanceof Error) {
        throw next;
      }
      return next;
    },
    (f, added) => updates.push({ added: added.length, total: f.points.length, status: f.status }),
    error => errors.push(String(error.message)),
    {
      ...options,
      setTimer: (fn, ms) => {
        timers.push({ fn, ms });
        return timers.length;
      },
      clearTimer: handle => {
        timers[handle - 1].cleared = true;
      }
    }
  );
  const step = async () => {
    const timer = timers.at(-1);
    assert.ok(timer && !timer.cleared, 'a tick is scheduled');
    timer.done = true;
    timer.fn();
    await flush();
  };
  return { feed, asked, updates, errors, timers, step };
}

const flush = () => new Promise(resolve => setImmediate(resolve));

test('while running: asks after the points it holds, appends only new ones, at most once a second', async () => {
  const s = scripted(
    [
      { status: 'running', points: [{ epoch: 1, loss: 1 }] },
      { status: 'running', points: [] },
      { status: 'running', points: [{ epoch: 2, loss: 0.5 }, { epoch: 3, loss: 0.2 }] },
      { status: 'finished', points: [{ epoch: 4, loss: 0.1 }] }
    ],
    { intervalMs: 200 }
  );
  s.feed.start();
  await flush();
  assert.equal(s.timers.length, 1, 'one request at a time: the next is scheduled after the answer');
  assert.equal(s.timers[0].ms, 1000, 'never faster than once a second');
  await s.step();
  await s.step();
  await s.step();
  assert.deepEqual(s.asked, [0, 1, 1, 3]);
  assert.deepEqual(
    s.updates.map(u => [u.added, u.total, u.status]),
    [
      [1, 1, 'running'],
      [0, 1, 'running'],
      [2, 3, 'running'],
      [1, 4, 'finished']
    ]
  );
  assert.equal(s.feed.active, false, 'stops when the run ends');
  assert.equal(s.timers.length, 3, 'no request after the end');
  assert.deepEqual(s.feed.points.map(p => p.epoch), [1, 2, 3, 4]);
});

test('an ended run is asked once', async () => {
  const s = scripted([{ status: 'failed', points: [{ epoch: 1, loss: 1 }] }]);
  s.feed.start();
  s.feed.start();
  await flush();
  assert.equal(s.feed.requests, 1);
  assert.equal(s.timers.length, 0);
  assert.equal(s.feed.status, 'failed');
});

test('stop() cancels the next request and drops an answer in flight', async () => {
  const s = scripted([{ status: 'running', points: [{ loss: 1 }] }]);
  s.feed.start();
  await flush();
  s.feed.stop();
  assert.equal(s.timers[0].cleared, true);
  const t = scripted([{ status: 'running', points: [{ loss: 1 }] }]);
  t.feed.start();
  t.feed.stop(); // before the answer arrives
  await flush();
  assert.deepEqual(t.updates, []);
  assert.equal(t.timers.length, 0);
});

test('errors are reported and retried; the feed gives up after maxErrors in a row', async () => {
  const s = scripted(
    [
      new Error('503 store unreachable'),
      { status: 'running', points: [{ loss: 1 }] },
      new Error('a'),
      new Error('b')
    ],
    { maxErrors: 2 }
  );
  s.feed.start();
  await flush();
  await s.step();
  await s.step();
  await s.step();
  assert.deepEqual(s.errors, ['503 store unreachable', 'a', 'b']);
  assert.equal(s.feed.active, false);
  assert.equal(s.feed.points.length, 1);
  assert.equal(s.timers.length, 3, 'no retry after giving up');
});

test('a running run whose process is gone is not polled again', async () => {
  const s = scripted([{ status: 'running', alive: false, points: [{ loss: 1 }] }]);
  s.feed.start();
  await flush();
  assert.equal(s.feed.alive, false);
  assert.equal(s.feed.active, false);
  assert.equal(s.timers.length, 0);
  assert.equal(s.updates.length, 1);
});
