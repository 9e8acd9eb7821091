/** The detail view of one record (a MainAreaWidget): versions, schema, profile, metrics, lineage, diff, actions. */
import {
  Clipboard,
  Dialog,
  MainAreaWidget,
  showDialog
} from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { AltakitAPI, IDetail, IEdge } from './api';
import { MetricsFeed } from './chart';
import { errorBox, h, svgEl, table, text } from './dom';
import { altakitIcon } from './icon';
import { layout, parseRef } from './layout';
import { metricsSection, readsSection, rerunButtons } from './runs';

export interface IDetailContext {
  api: AltakitAPI;
  open: (kind: string, name: string, version: number | 'latest') => void;
  insert: (code: string) => void;
  /** Show Jupyter Scheduler's job list (when the scheduler is there). */
  showJobs?: () => void;
}

/** A main-area widget showing `kind:name@version`. */
export function detailWidget(
  ctx: IDetailContext,
  kind: string,
  name: string,
  version: number | 'latest'
): MainAreaWidget<RecordDetail> {
  const content = new RecordDetail(ctx, kind, name, version);
  const widget = new MainAreaWidget({ content });
  widget.id = `altakit-detail-${kind}-${name}-${version}`.replace(
    /[^A-Za-z0-9_-]/g,
    '_'
  );
  widget.title.label = `${kind}:${name}@${version}`;
  widget.title.icon = altakitIcon;
  widget.title.closable = true;
  return widget;
}

export class RecordDetail extends Widget {
  constructor(
    private ctx: IDetailContext,
    readonly kind: string,
    readonly name: string,
    readonly version: number | 'latest'
  ) {
    super();
    this.addClass('altakit-detail');
    void this.load();
  }

  private async load(): Promise<void> {
    const api = this.ctx.api;
    this.node.replaceChildren(h('div.altakit-status', {}, 'Loading…'));
    let d: IDetail;
    try {
      d = await api.detail(this.kind, this.name, this.version);
    } catch (error) {
      this.node.replaceChildren(errorBox(error));
      return;
    }
    const r = d.record;
    const run = r.kind === 'run' ? this.runSections(d) : [];
    const parts = [
      h('h2.altakit-ref', {}, r.ref),
      h('div.altakit-meta', {}, `created ${r.created} by ${r.writer}`),
      this.actions(d),
      h('pre.altakit-snippet', {}, d.snippet),
      section(
        'Versions',
        h(
          'ul.altakit-list.altakit-detail-versions',
          {},
          d.versions.map(v =>
            h(
              'li.altakit-version',
              {
                onclick: () => this.ctx.open(r.kind, r.name, v.version),
                class: v.version === r.version ? 'altakit-mod-current' : null
              },
              `@${v.version} · ${v.created.slice(0, 19)}`
            )
          )
        )
      ),
      d.schema &&
        section(
          'Schema',
          table(
            ['column', 'type'],
            d.schema.map(c => [c.name, c.type])
          )
        ),
      d.profile && section('Profile', keyValues(d.profile)),
      d.aliases && Object.keys(d.aliases).length
        ? section('Aliases', keyValues(d.aliases))
        : null,
      d.metrics && section('Metrics', keyValues(d.metrics)),
      d.params && section('Parameters', keyValues(d.params)),
      ...run,
      section('Lineage', this.lineage(r.kind, r.name, r.version)),
      d.versions.length > 1 ? section('Diff two versions', this.diff(d)) : null,
      section(
        'Record',
        h('pre.altakit-json', {}, JSON.stringify(r.doc, null, 2))
      )
    ];
    this.node.replaceChildren(...parts.filter((p): p is HTMLElement => !!p));
  }

  /** Stop polling a running run's metrics when the view closes. */
  dispose(): void {
    this.feed?.stop();
    this.feed = null;
    super.dispose();
  }

  /** A run's pinned reads, re-run buttons and metric curves (live while it runs). */
  private runSections(d: IDetail): HTMLElement[] {
    const r = d.record;
    this.feed?.stop();
    const metrics = metricsSection(this.ctx.api, r.name, r.version);
    this.feed = metrics.feed;
    return [
      section('Pinned reads', readsSection(this.ctx, r)),
      section('Re-run', rerunButtons(this.ctx, r.name, r.version)),
      section('Metric curves', metrics.node)
    ];
  }

  private feed: MetricsFeed | null = null;

  private actions(d: IDetail): HTMLElement {
    const r = d.record;
    const bar = h(
      'div.altakit-actions',
      {},
      h(
        'button.jp-Button.altakit-insert',
        { onclick: () => this.ctx.insert(d.snippet) },
        'Insert snippet'
      ),
      d.url &&
        h(
          'button.jp-Button.altakit-copy',
          {
            onclick: () => Clipboard.copyToSystem(d.url as string),
            title: d.url
          },
          'Copy URL'
        ),
      d.dashboard &&
        h(
          'a.jp-Button.altakit-dashboard',
          { href: d.dashboard, target: '_blank', rel: 'noopener' },
          'Open dashboard'
        )
    );
    if (r.kind === 'model') {
      const alias = h('input.altakit-alias', {
        value: 'champion',
        size: 10
      }) as HTMLInputElement;
      const confirm = async (title: string, body: string) =>
        (
          await showDialog({
            title,
            body,
            buttons: [
              Dialog.cancelButton(),
              Dialog.okButton({ label: 'Confirm' })
            ]
          })
        ).button.accept;
      const run = async (
        action: () => Promise<any>,
        title: string,
        body: string
      ) => {
        if (await confirm(title, body)) {
          try {
            await action();
            status.textContent = `${title}: done.`;
          } catch (error) {
            status.textContent = `${title}: ${(error as Error).message}`;
          }
        }
      };
      const status = h('span.altakit-alias-status');
      bar.append(
        h(
          'div.altakit-alias-bar',
          {},
          'alias ',
          alias,
          h(
            'button.jp-Button.altakit-promote',
            {
              onclick: () =>
                run(
                  () => this.ctx.api.promote(r.name, alias.value, r.version),
                  'Promote',
                  `Point ${r.name}@${alias.value} at version ${r.version}?`
                )
            },
            `Promote @${r.version}`
          ),
          h(
            'button.jp-Button.altakit-rollback',
            {
              onclick: () =>
                run(
                  () => this.ctx.api.rollback(r.name, alias.value),
                  'Roll back',
                  `Move ${r.name}@${alias.value} back to its previous version?`
                )
            },
            'Roll back'
          ),
          status
        )
      );
    }
    return bar;
  }

  /** Upstream and downstream edges, laid out in layers, drawn as SVG; a click on a node opens it. */
  private lineage(kind: string, name: string, version: number): HTMLElement {
    const box = h('div.altakit-lineage', {}, 'Loading…');
    const api = this.ctx.api;
    Promise.all([
      api.lineage(kind, name, version, 'up'),
      api.lineage(kind, name, version, 'down')
    ])
      .then(([up, down]) => {
        const edges: IEdge[] = [...up.edges, ...down.edges];
        box.replaceChildren(
          edges.length ? this.graph(up.ref, edges) : 'No lineage recorded.'
        );
      })
      .catch(error => box.replaceChildren(errorBox(error)));
    return box;
  }

  private graph(root: string, edges: IEdge[]): SVGSVGElement {
    const W = 190;
    const H = 34;
    const g = layout(root, edges, W + 50, H + 22);
    const svg = svgEl('svg', {
      width: g.width,
      height: g.height + 10,
      class: 'altakit-graph'
    }) as SVGSVGElement;
    svg.append(
      svgEl(
        'defs',
        {},
        svgEl(
          'marker',
          {
            id: 'altakit-arrow',
            viewBox: '0 0 10 10',
            refX: 10,
            refY: 5,
            markerWidth: 6,
            markerHeight: 6,
            orient: 'auto-start-reverse'
          },
          svgEl('path', { d: 'M0,0 L10,5 L0,10 z', class: 'altakit-arrowhead' })
        )
      )
    );
    for (const e of g.edges) {
      const line = svgEl('line', {
        x1: e.x1 + W,
        y1: e.y1 + H / 2 + 5,
        x2: e.x2,
        y2: e.y2 + H / 2 + 5,
        class: 'altakit-edge',
        'data-from': e.from,
        'data-to': e.to,
        'marker-end': 'url(#altakit-arrow)'
      });
      line.append(svgEl('title', {}, e.relation));
      svg.append(line);
    }
    for (const n of g.nodes) {
      const ref = parseRef(n.id);
      const node = svgEl(
        'g',
        {
          class: `altakit-node altakit-node-${ref.kind}${n.id === root ? ' altakit-node-root' : ''}`,
          transform: `translate(${n.x},${n.y + 5})`,
          'data-ref': n.id
        },
        svgEl('rect', { width: W, height: H, rx: 6 }),
        svgEl(
          'text',
          { x: 8, y: H / 2 + 4 },
          n.id.length > 28 ? `${n.id.slice(0, 27)}…` : n.id
        ),
        svgEl('title', {}, n.id)
      );
      if (ref.kind !== 'file') {
        // source files are not records: shown, not opened
        node.addEventListener('click', () =>
          this.ctx.open(ref.kind, ref.name, ref.version ?? 'latest')
        );
      }
      svg.append(node);
    }
    return svg;
  }

  private diff(d: IDetail): HTMLElement {
    const r = d.record;
    const choice = (selected: number) =>
      h(
        'select.altakit-diff-version',
        {},
        d.versions.map(v =>
          h(
            'option',
            { value: v.version, selected: v.version === selected || null },
            `@${v.version}`
          )
        )
      ) as HTMLSelectElement;
    const others = d.versions.filter(v => v.version !== r.version);
    const a = choice(
      others.length ? others[others.length - 1].version : r.version
    );
    const b = choice(r.version);
    const out = h('div.altakit-diff-result');
    const run = async () => {
      try {
        const res = await this.ctx.api.diff(
          r.kind,
          r.name,
          Number(a.value),
          Number(b.value)
        );
        out.replaceChildren(...renderDiff(res, a.value, b.value));
      } catch (error) {
        out.replaceChildren(errorBox(error));
      }
    };
    return h(
      'div',
      {},
      a,
      ' → ',
      b,
      h('button.jp-Button.altakit-diff', { onclick: run }, 'Diff'),
      out
    );
  }
}

function renderDiff(res: any, a: string, b: string): HTMLElement[] {
  const out: HTMLElement[] = [];
  if (res.schema) {
    out.push(
      h('h4', {}, 'Schema'),
      table(
        ['column', 'change', 'before', 'after'],
        res.schema.map((c: any) => [c.column, c.change, c.before, c.after]),
        row => `altakit-diff-${row[1]}`
      )
    );
  }
  if (res.rows) {
    out.push(h('div', {}, `rows: @${a} ${res.rows.a} → @${b} ${res.rows.b}`));
  }
  if (res.drift) {
    out.push(
      h('h4', {}, 'Drift'),
      table(
        ['column', 'PSI', 'KS'],
        res.drift.map((c: any) => [c.column, c.psi, c.ks])
      )
    );
  }
  for (const part of ['metrics', 'params', 'doc']) {
    if (res[part]) {
      out.push(
        h('h4', {}, part),
        table(
          ['name', `@${a}`, `@${b}`],
          res[part].map((m: any) => [m.name, m.a, m.b]),
          row => (text(row[1]) !== text(row[2]) ? 'altakit-diff-changed' : '')
        )
      );
    }
  }
  return out;
}

function section(title: string, body: Node): HTMLElement {
  return h(
    'section.altakit-detail-section',
    { 'data-section': title },
    h('h3', {}, title),
    body
  );
}

function keyValues(values: { [key: string]: any }): HTMLElement {
  return table(
    ['name', 'value'],
    Object.keys(values).map(k => [k, values[k]])
  );
}
