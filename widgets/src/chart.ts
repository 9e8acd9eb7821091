/**
 * Live metric curves of a run: the series in a run's history, their SVG paths, and the feed that
 * polls `runs/{name}/{version}/metrics?after=N` while the run is running.
 * Pure, no imports, no DOM (unit-tested).
 */

/** One history entry: `{"epoch", "step", "time", <metric>: value}`. */
export interface IPoint {
  [key: string]: any;
}

/** One answer of the metrics route. */
export interface IMetricsPage {
  status: string;
  points: IPoint[];
  /** False when a `running` run's process is gone (killed); null/absent when unknown. */
  alive?: boolean | null;
}

export interface ISeries {
  name: string;
  xs: number[];
  ys: number[];
}

/** Keys of a history entry that are axes or bookkeeping, not metrics. */
const NOT_METRICS = new Set(['epoch', 'step', 'time', 'batch']);

/**
 * One series per numeric metric in `points`, in first-seen order; x is the entry's `epoch`
 * (else `step`, else its index).
 */
export function metricSeries(points: IPoint[]): ISeries[] {
  const byName = new Map<string, ISeries>();
  points.forEach((point, index) => {
    const x = finite(point.epoch) ?? finite(point.step) ?? index;
    for (const [name, value] of Object.entries(point)) {
      const y = finite(value);
      if (NOT_METRICS.has(name) || y === null) {
        continue;
      }
      let series = byName.get(name);
      if (!series) {
        series = { name, xs: [], ys: [] };
        byName.set(name, series);
      }
      series.xs.push(x);
      series.ys.push(y);
    }
  });
  return [...byName.values()];
}

/**
 * The SVG path (`M x y L x y …`) of a series scaled into a `width` × `height` box with `pad` on
 * each side (y grows downwards, as in SVG). A flat or single-point series sits mid-height.
 */
export function linePath(
  series: ISeries,
  width: number,
  height: number,
  pad = 4
): string {
  const { xs, ys } = series;
  if (!xs.length) {
    return '';
  }
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x: number) =>
    x1 === x0 ? width / 2 : pad + ((x - x0) / (x1 - x0)) * (width - 2 * pad);
  const sy = (y: number) =>
    y1 === y0
      ? height / 2
      : height - pad - ((y - y0) / (y1 - y0)) * (height - 2 * pad);
  return xs
    .map((x, i) => `${i ? 'L' : 'M'}${round(sx(x))} ${round(sy(ys[i]))}`)
    .join(' ');
}

export interface IFeedOptions {
  /** Milliseconds between the end of one request and the next (at least 1000). */
  intervalMs?: number;
  /** Consecutive failed requests after which the feed gives up. */
  maxErrors?: number;
  setTimer?: (fn: () => void, ms: number) => any;
  clearTimer?: (handle: any) => void;
}

/**
 * Polls the metrics of one run: asks for the points after those it holds, appends only the new
 * ones, and polls again (one request at a time, at most one per `intervalMs`) while the run's
 * status is `running`; stops when the run ends, when its process is gone (`alive: false`), after
 * `maxErrors` failures in a row, or on `stop()`.
 */
export class MetricsFeed {
  constructor(
    private fetch: (after: number) => Promise<IMetricsPage>,
    private onUpdate: (feed: MetricsFeed, added: IPoint[]) => void,
    private onError: (error: unknown) => void = () => undefined,
    options: IFeedOptions = {}
  ) {
    this.intervalMs = Math.max(1000, options.intervalMs ?? 1000);
    this.maxErrors = options.maxErrors ?? 5;
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = options.clearTimer ?? (handle => clearTimeout(handle));
  }

  /** Every point received so far, in order. */
  readonly points: IPoint[] = [];
  /** The run's status in the last answer (`null` before the first). */
  status: string | null = null;
  /** Whether the run's process runs, per the last answer (`null`: unknown). */
  alive: boolean | null = null;
  /** How many requests were sent. */
  requests = 0;

  /** Whether the feed still polls. */
  get active(): boolean {
    return !this.stopped;
  }

  /** Send the first request. */
  start(): void {
    if (!this.started) {
      this.started = true;
      void this.tick();
    }
  }

  /** Stop polling (an answer in flight is dropped). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) {
      this.clearTimer(this.timer);
      this.timer = null;
    }
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (this.stopped) {
      return;
    }
    this.requests++;
    let page: IMetricsPage;
    try {
      page = await this.fetch(this.points.length);
    } catch (error) {
      if (this.stopped) {
        return;
      }
      this.errors++;
      this.onError(error);
      if (this.errors >= this.maxErrors) {
        this.stop();
      } else {
        this.timer = this.setTimer(() => void this.tick(), this.intervalMs);
      }
      return;
    }
    if (this.stopped) {
      return;
    }
    this.errors = 0;
    const added = Array.isArray(page.points) ? page.points : [];
    this.points.push(...added);
    this.status = page.status;
    this.alive = typeof page.alive === 'boolean' ? page.alive : null;
    if (page.status !== 'running' || this.alive === false) {
      this.stopped = true;
    }
    this.onUpdate(this, added);
    if (!this.stopped) {
      this.timer = this.setTimer(() => void this.tick(), this.intervalMs);
    }
  }

  private intervalMs: number;
  private maxErrors: number;
  private setTimer: (fn: () => void, ms: number) => any;
  private clearTimer: (handle: any) => void;
  private started = false;
  private stopped = false;
  private errors = 0;
  private timer: any = null;
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}
