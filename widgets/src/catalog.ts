/** The sidebar's Catalog section: kind filter, search, paged list, versions of each name. */
import { Widget } from '@lumino/widgets';

import { AltakitAPI, IRecord } from './api';
import { errorBox, h } from './dom';

export const KINDS = ['dataset', 'table', 'model', 'run', 'schema'];

export class CatalogSection extends Widget {
  constructor(
    private api: AltakitAPI,
    private open: (kind: string, name: string, version: number) => void
  ) {
    super();
    this.addClass('altakit-catalog');
    this.kind = h(
      'select.altakit-kind',
      { onchange: () => this.reload() },
      KINDS.map(k => h('option', { value: k }, k))
    );
    this.search = h('input.altakit-search', {
      type: 'search',
      placeholder: 'Search names…',
      onchange: () => this.reload()
    });
    this.list = h('ul.altakit-list');
    this.more = h(
      'button.altakit-more.jp-Button',
      { onclick: () => this.page() },
      'more'
    );
    this.node.append(
      h('div.altakit-toolbar', {}, this.kind, this.search),
      this.list,
      this.more
    );
  }

  /** Start over at the first page of the current kind and search text. */
  reload(): void {
    this.list.replaceChildren();
    this.next = 0;
    void this.page();
  }

  private async page(): Promise<void> {
    if (this.next === null) {
      return;
    }
    this.more.hidden = true;
    try {
      const kind = this.kind.value;
      const page = await this.api.catalog(kind, this.search.value, this.next);
      this.list.append(...page.items.map(r => this.item(r)));
      this.next = page.next;
      if (!this.list.children.length) {
        this.list.append(h('li.altakit-empty', {}, `No ${kind} records.`));
      }
    } catch (error) {
      this.list.append(errorBox(error));
      this.next = null;
    }
    this.more.hidden = this.next === null;
  }

  private item(record: IRecord): HTMLElement {
    const versions = h('ul.altakit-versions');
    const toggle = async () => {
      if (versions.children.length) {
        versions.replaceChildren();
        return;
      }
      try {
        const plural = await this.plural(record.kind);
        const found = await this.api.versions(plural, record.name);
        versions.append(
          ...found.versions.map(v =>
            h(
              'li.altakit-version',
              {
                onclick: () => this.open(v.kind, v.name, v.version),
                title: `${v.created} by ${v.writer}`
              },
              `@${v.version} · ${v.created.slice(0, 19)}`
            )
          )
        );
      } catch (error) {
        versions.append(errorBox(error));
      }
    };
    return h(
      'li.altakit-item',
      { 'data-ref': record.ref },
      h('span.altakit-caret', { onclick: toggle, title: 'versions' }, '▸'),
      h(
        'span.altakit-name',
        {
          onclick: () => this.open(record.kind, record.name, record.version),
          title: 'open'
        },
        record.name
      ),
      h('span.altakit-badge', {}, `@${record.version}`),
      versions
    );
  }

  /** The plural route name of `kind` (from the API's info). */
  private async plural(kind: string): Promise<string> {
    if (!this.kinds) {
      this.kinds = this.api.info().then(info => info.kinds);
    }
    const kinds = await this.kinds;
    return Object.keys(kinds).find(p => kinds[p] === kind) || `${kind}s`;
  }

  private kind: HTMLSelectElement;
  private search: HTMLInputElement;
  private list: HTMLUListElement;
  private more: HTMLButtonElement;
  private next: number | null = 0;
  private kinds: Promise<{ [plural: string]: string }> | null = null;
}
