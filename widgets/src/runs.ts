/**
 * What the detail view adds for a run: the pinned reads (links), re-run buttons (on the same
 * snapshot, on the latest data) and the live metric curves (polled while the run is running).
 */
import { AltakitAPI, IRecord } from './api';
import { IPoint, ISeries, MetricsFeed, linePath, metricSeries } from './chart';
import { errorBox, h, svgEl } from './dom';
import { parseRef } from './layout';
import { pinRefs } from './pins';

const CHART_W = 260;
const CHART_H = 90;

export interface IRunContext {
  api: AltakitAPI;
  open: (kind: string, name: string, version: number | 'latest') => void;
  /** Show Jupyter Scheduler's job list (when the scheduler is there). */
  showJobs?: () => void;
}

/** The refs a run read (`doc.reads`, else its `read` links), sorted, unique. */
export function readsOf(record: IRecord): string[] {
  const reads: unknown = record.doc?.reads;
  const refs = Array.isArray(reads) ? reads : record.links?.read || [];
  return [...new Set(refs.map(String))].sort();
}

/** A link that opens the record `ref` (`kind:name@version`). */
export function refLink(
  ref: string,
  open: IRunContext['open'],
  className = 'altakit-ref-link'
): HTMLElement {
  const r = parseRef(ref);
  return h(
    `a.${className}`,
    {
      href: '#',
      'data-ref': ref,
      title: `open ${ref}`,
      onclick: (event: Event) => {
        event.preventDefault();
        open(r.kind, r.name, r.version ?? 'latest');
      }
    },
    ref
  );
}

/** The pinned reads: every version the run read, and what it was pinned to. */
export function readsSection(ctx: IRunContext, record: IRecord): HTMLElement {
  const reads = readsOf(record);
  const pins = record.doc?.pins;
  const pinned = pins && typeof pins === 'object' ? pinRefs(pins) : [];
  return h(
    'div.altakit-run-reads',
    {},
    reads.length
      ? h(
          'ul.altakit-list',
          {},
          reads.map(ref => h('li', {}, refLink(ref, ctx.open)))
        )
      : h('div.altakit-empty', {}, 'No altakit reads recorded.'),
    h(
      'div.altakit-meta.altakit-run-pins',
      {},
      pinned.length
        ? `pinned to ${pinned.join(', ')}`
        : reads.length
          ? 'not pinned: these were the latest versions'
          : ''
    )
  );
}

/**
 * "Re-run on the same snapshot" / "Re-run on latest": each creates a Jupyter Scheduler job and
 * says which (with a link to the job list).
 */
export function rerunButtons(
  ctx: IRunContext,
  name: string,
  version: number
): HTMLElement {
  const status = h('div.altakit-rerun-status', { role: 'status' });
  const buttons: HTMLButtonElement[] = [];
  const rerun = async (sameData: boolean) => {
    buttons.forEach(b => (b.disabled = true));
    status.replaceChildren('Creating a job…');
    try {
      const made = await ctx.api.rerun(name, version, sameData);
      const pins = pinRefs(made.pins || {});
      status.replaceChildren(
        h(
          'span.altakit-rerun-job',
          { 'data-job-id': made.job_id },
          `Job ${made.job_id} created`,
          pins.length
            ? `, pinned to ${pins.join(', ')}`
            : ', on the latest data'
        ),
        ctx.showJobs
          ? h(
              'a.altakit-show-jobs',
              {
                href: '#',
                onclick: (event: Event) => {
                  event.preventDefault();
                  ctx.showJobs?.();
                }
              },
              ' · show jobs'
            )
          : null
      );
    } catch (error) {
      status.replaceChildren(errorBox(error));
    } finally {
      buttons.forEach(b => (b.disabled = false));
    }
  };
  buttons.push(
    h(
      'button.jp-Button.altakit-rerun-same',
      {
        onclick: () => rerun(true),
        title: 'A new job, every read pinned to the versions this run read'
      },
      'Re-run on the same snapshot'
    ),
    h(
      'button.jp-Button.altakit-rerun-latest',
      {
        onclick: () => rerun(false),
        title: 'A new job with the same parameters, reading the latest data'
      },
      'Re-run on latest'
    )
  );
  return h(
    'div.altakit-rerun',
    {},
    h('div.altakit-actions', {}, buttons),
    status
  );
}

/**
 * The run's metric curves: one small SVG chart per metric, fed by a {@link MetricsFeed} (the
 * history first, then new points while the run is running). Stop the feed when the view closes.
 */
export function metricsSection(
  api: AltakitAPI,
  name: string,
  version: number
): { node: HTMLElement; feed: MetricsFeed } {
  const charts = h('div.altakit-charts');
  const state = h('div.altakit-meta.altakit-metrics-status', {}, 'Loading…');
  const node = h('div.altakit-metrics', {}, state, charts);
  const feed = new MetricsFeed(
    after => api.metrics(name, version, after),
    (f, added) => {
      node.dataset.points = String(f.points.length);
      node.dataset.status = f.status ?? '';
      node.dataset.live = String(f.active);
      state.textContent =
        f.status !== 'running'
          ? `${f.status} · ${f.points.length} points`
          : f.alive === false
            ? `running, but its process is gone · ${f.points.length} points`
            : `running · ${f.points.length} points · live`;
      if (added.length || !charts.children.length) {
        charts.replaceChildren(...drawCharts(f.points));
      }
    },
    error => {
      state.replaceChildren(errorBox(error));
    }
  );
  feed.start();
  return { node, feed };
}

function drawCharts(points: IPoint[]): Element[] {
  const series = metricSeries(points);
  if (!series.length) {
    return [h('div.altakit-empty', {}, 'No metrics recorded.')];
  }
  return series.map(chart);
}

function chart(s: ISeries): Element {
  const last = s.ys[s.ys.length - 1];
  const svg = svgEl(
    'svg',
    {
      width: CHART_W,
      height: CHART_H,
      class: 'altakit-chart-svg',
      viewBox: `0 0 ${CHART_W} ${CHART_H}`
    },
    svgEl('rect', {
      width: CHART_W,
      height: CHART_H,
      class: 'altakit-chart-frame'
    }),
    svgEl('path', {
      d: linePath(s, CHART_W, CHART_H, 6),
      class: 'altakit-chart-line'
    })
  );
  return h(
    'figure.altakit-chart',
    { 'data-metric': s.name, 'data-count': s.ys.length },
    h(
      'figcaption',
      {},
      `${s.name} `,
      h('b', {}, formatValue(last)),
      ` (${s.xs[0]} … ${s.xs[s.xs.length - 1]})`
    ),
    svg
  );
}

function formatValue(v: number): string {
  return Math.abs(v) >= 1000 || Number.isInteger(v)
    ? String(v)
    : v.toPrecision(4);
}
