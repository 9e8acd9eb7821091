// LiveChart's view (altakit_widgets/panels/chart.py): live training curves drawn as SVG.
// The kernel sends only new points ("append" messages, numbered); a view asks once for the whole
// history when it renders and then applies only the deltas numbered after that history.

const SVG = 'http://www.w3.org/2000/svg';
const HEIGHT = 320;
const MARGIN = { l: 56, r: 56, t: 34, b: 42 };
/** Curve → [axis, colour] (plotly's first four colours). */
const CURVES = {
  loss: ['y', '#636efa'],
  val_loss: ['y', '#ef553b'],
  val_mae: ['y', '#00cc96'],
  val_accuracy: ['y2', '#ab63fa']
};
/** Markers are drawn while a curve has at most this many points. */
const MARKERS = 300;

function node(name, attrs, parent, text) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) {
    el.setAttribute(key, String(value));
  }
  if (text !== undefined) {
    el.textContent = text;
  }
  parent.appendChild(el);
  return el;
}

/** Round ticks (1, 2, 5 × 10^k) covering [lo, hi]: {ticks, lo, hi, digits}. */
function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const raw = (hi - lo) / count;
  const scale = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map(k => k * scale).find(s => s >= raw);
  const first = Math.floor(lo / step) * step;
  const last = Math.ceil(hi / step) * step;
  const ticks = [];
  for (let v = first; v <= last + step / 2; v += step) {
    ticks.push(v);
  }
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  return { ticks, lo: first, hi: last, digits };
}

function draw(state, model, root) {
  const width = Math.max(320, Math.floor(root.clientWidth || 640));
  const accuracy = model.get('accuracy');
  const epochs = model.get('epochs');
  const dtick = Math.max(1, model.get('dtick'));
  const names = Object.keys(CURVES).filter(name => state.curves[name].length);
  let xmax = epochs;
  let [ylo, yhi] = [Infinity, -Infinity];
  for (const name of names) {
    for (const [x, y] of state.curves[name]) {
      xmax = Math.max(xmax, epochs ? 0 : x);
      if (CURVES[name][0] === 'y') {
        [ylo, yhi] = [Math.min(ylo, y), Math.max(yhi, y)];
      }
    }
  }
  xmax = Math.max(xmax, 1);
  const y = niceTicks(ylo === Infinity ? 0 : ylo, yhi === -Infinity ? 1 : yhi);
  const [left, right] = [MARGIN.l, width - MARGIN.r];
  const [top, bottom] = [MARGIN.t, HEIGHT - MARGIN.b];
  const sx = x => left + ((x - 0.5) / xmax) * (right - left);
  const sy = v => bottom - ((v - y.lo) / (y.hi - y.lo)) * (bottom - top);
  const sy2 = v => bottom - v * (bottom - top);
  const round = v => Math.round(v * 10) / 10;

  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'altakit-chart-svg');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(HEIGHT));
  const grid = node('g', { class: 'altakit-chart-grid' }, svg);
  const xticks = node('g', { class: 'altakit-chart-xticks' }, svg);
  for (let k = dtick; k <= xmax + 0.5; k += dtick) {
    node('line', { x1: round(sx(k)), x2: round(sx(k)), y1: top, y2: bottom }, grid);
    node(
      'text',
      { x: round(sx(k)), y: bottom + 16, 'text-anchor': 'middle' },
      xticks,
      String(k)
    );
  }
  const yticks = node('g', { class: 'altakit-chart-yticks' }, svg);
  for (const v of y.ticks) {
    node('line', { x1: left, x2: right, y1: round(sy(v)), y2: round(sy(v)) }, grid);
    node(
      'text',
      { x: left - 6, y: round(sy(v)) + 4, 'text-anchor': 'end' },
      yticks,
      v.toFixed(y.digits)
    );
  }
  if (accuracy) {
    const y2ticks = node('g', { class: 'altakit-chart-y2ticks' }, svg);
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      node(
        'text',
        { x: right + 6, y: round(sy2(v)) + 4, 'text-anchor': 'start' },
        y2ticks,
        `${Math.round(v * 100)}%`
      );
    }
  }
  node('rect', { class: 'altakit-chart-frame', x: left, y: top, width: right - left, height: bottom - top }, svg);
  const titles = node('g', { class: 'altakit-chart-titles' }, svg);
  node('text', { x: (left + right) / 2, y: HEIGHT - 6, 'text-anchor': 'middle' }, titles, 'epoch');
  const mid = (top + bottom) / 2;
  node('text', { transform: `translate(14 ${mid}) rotate(-90)`, 'text-anchor': 'middle' }, titles, 'loss · error');
  if (accuracy) {
    node('text', { transform: `translate(${width - 10} ${mid}) rotate(90)`, 'text-anchor': 'middle' }, titles, 'accuracy');
  }

  const traces = node('g', { class: 'altakit-chart-traces' }, svg);
  const legend = node('g', { class: 'altakit-chart-legend' }, svg);
  const labels = model.get('labels') || {};
  let lx = left;
  for (const name of names) {
    const [axis, colour] = CURVES[name];
    const scale = axis === 'y2' ? sy2 : sy;
    const pairs = state.curves[name];
    const points = pairs.map(([px, py]) => `${round(sx(px))},${round(scale(py))}`).join(' ');
    const trace = node('g', { class: 'altakit-chart-trace', 'data-name': name }, traces);
    node('polyline', { points, stroke: colour, fill: 'none', 'stroke-width': 2 }, trace);
    if (pairs.length <= MARKERS) {
      for (const [px, py] of pairs) {
        node('circle', { cx: round(sx(px)), cy: round(scale(py)), r: 3, fill: colour }, trace);
      }
    }
    const item = node('g', { class: 'altakit-chart-legend-item' }, legend);
    node('line', { x1: lx, x2: lx + 20, y1: 14, y2: 14, stroke: colour, 'stroke-width': 2 }, item);
    node('circle', { cx: lx + 10, cy: 14, r: 3, fill: colour }, item);
    const label = node('text', { x: lx + 26, y: 18 }, item, labels[name] || name);
    lx += 34 + 7 * label.textContent.length;
  }
  root.replaceChildren(svg);
  const counts = Object.fromEntries(Object.keys(CURVES).map(name => [name, state.curves[name].length]));
  root.dataset.counts = JSON.stringify(counts);
  root.dataset.appended = String(state.appended);
  root.dataset.history = String(state.history);
}

function render({ model, el }) {
  const root = document.createElement('div');
  root.className = 'altakit-chart';
  el.appendChild(root);
  const view = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
  // seq: the number of the last message applied (null until the history arrived)
  const state = { curves: {}, seq: null, appended: 0, history: 0, frame: null };
  for (const name of Object.keys(CURVES)) {
    state.curves[name] = [];
  }
  const redraw = () => {
    if (state.frame === null) {
      state.frame = requestAnimationFrame(() => {
        state.frame = null;
        draw(state, model, root);
      });
    }
  };
  const received = msg => {
    if (!msg || typeof msg !== 'object') {
      return;
    }
    if (msg.type === 'history') {
      if (msg.to !== view || state.seq !== null) {
        return; // another view's history
      }
      for (const name of Object.keys(CURVES)) {
        state.curves[name] = (msg.curves[name] || []).slice();
        state.history += state.curves[name].length;
      }
      state.seq = msg.seq;
    } else if (state.seq === null || msg.seq <= state.seq) {
      return; // before the history (which holds it) or already in it
    } else if (msg.type === 'append') {
      for (const [name, pairs] of Object.entries(msg.curves)) {
        if (state.curves[name]) {
          state.curves[name].push(...pairs);
          state.appended += pairs.length;
        }
      }
      state.seq = msg.seq;
    } else if (msg.type === 'clear') {
      for (const name of Object.keys(CURVES)) {
        state.curves[name] = [];
      }
      state.seq = msg.seq;
    }
    redraw();
  };
  const changed = () => redraw();
  model.on('msg:custom', received);
  model.on('change:epochs change:dtick change:accuracy', changed);
  const resized = new ResizeObserver(() => redraw());
  resized.observe(root);
  draw(state, model, root);
  try {
    model.send({ type: 'history', view });
  } catch (error) {
    // no kernel behind the widget (a saved notebook reopened): nothing to ask, nothing to draw
    console.warn('altakit chart: no history', error);
  }
  return () => {
    model.off('msg:custom', received);
    model.off('change:epochs change:dtick change:accuracy', changed);
    resized.disconnect();
    if (state.frame !== null) {
      cancelAnimationFrame(state.frame);
    }
  };
}

export default { render };
