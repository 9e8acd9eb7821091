/** The sidebar's Store browser: folders, keys (paged with "more"), versions, a preview pane. */
import { Clipboard } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { AltakitAPI, IPreview } from './api';
import { errorBox, h, size, table } from './dom';

export class StoreSection extends Widget {
  constructor(
    private api: AltakitAPI,
    private insert: (code: string) => void
  ) {
    super();
    this.addClass('altakit-store');
    this.crumbs = h('div.altakit-crumbs');
    this.list = h('ul.altakit-list.altakit-keys');
    this.more = h(
      'button.altakit-more.jp-Button',
      { onclick: () => this.page() },
      'more'
    );
    this.versions = h('div.altakit-key-versions');
    this.preview = h('div.altakit-preview');
    this.node.append(
      this.crumbs,
      this.list,
      this.more,
      this.versions,
      this.preview
    );
  }

  /** Show the folder `prefix` ("" is the root), first page. */
  openFolder(prefix: string): void {
    this.prefix = prefix;
    this.cursor = null;
    this.started = false;
    this.list.replaceChildren();
    const parts = prefix.split('/').filter(p => p);
    this.crumbs.replaceChildren(
      h('a.altakit-crumb', { onclick: () => this.openFolder('') }, 'store'),
      ...parts.map((p, i) =>
        h(
          'a.altakit-crumb',
          {
            onclick: () =>
              this.openFolder(parts.slice(0, i + 1).join('/') + '/')
          },
          ` / ${p}`
        )
      )
    );
    void this.page();
  }

  private async page(): Promise<void> {
    if (this.started && this.cursor === null) {
      return;
    }
    this.started = true;
    this.more.hidden = true;
    try {
      const listing = await this.api.storeList(this.prefix, this.cursor);
      this.list.append(
        ...listing.folders.map(f =>
          h(
            'li.altakit-folder',
            { onclick: () => this.openFolder(f), 'data-prefix': f },
            `📁 ${f.slice(this.prefix.length)}`
          )
        ),
        ...listing.keys.map(k =>
          h(
            'li.altakit-key',
            {
              onclick: () => this.openKey(k.key),
              'data-key': k.key,
              title: `${k.version} · ${k.time} · ${k.writer}`
            },
            h('span.altakit-name', {}, k.key.slice(this.prefix.length)),
            h('span.altakit-size', {}, size(k.size))
          )
        )
      );
      this.cursor = listing.next;
      if (!this.list.children.length) {
        this.list.append(h('li.altakit-empty', {}, 'Empty folder.'));
      }
    } catch (error) {
      this.list.append(errorBox(error));
      this.cursor = null;
    }
    this.more.hidden = this.cursor === null;
  }

  /** Show the versions of `key` and a preview of its latest version. */
  async openKey(key: string): Promise<void> {
    this.versions.replaceChildren(h('h4', {}, key));
    void this.showPreview(key);
    try {
      const found = await this.api.storeVersions(key);
      this.versions.append(
        h(
          'ul.altakit-list',
          {},
          found.versions.map(v =>
            h(
              'li.altakit-key-version',
              {
                onclick: () => this.showPreview(key, v.id),
                'data-version': v.id,
                class: v.deleted ? 'altakit-deleted' : null
              },
              `${v.id.slice(0, 12)} · ${v.time.slice(0, 19)} · ${size(v.size)} · ${v.writer}`
            )
          )
        )
      );
    } catch (error) {
      this.versions.append(errorBox(error));
    }
  }

  private async showPreview(key: string, version?: string): Promise<void> {
    this.preview.replaceChildren(h('div.altakit-status', {}, 'Loading…'));
    try {
      const p = await this.api.preview(key, version);
      this.preview.replaceChildren(...this.render(p));
    } catch (error) {
      this.preview.replaceChildren(errorBox(error));
    }
  }

  private render(p: IPreview): HTMLElement[] {
    const head = h(
      'div.altakit-preview-head',
      {},
      `${p.key} @ ${p.version} · ${size(p.size)}${p.truncated ? ' · truncated' : ''}`
    );
    const actions = h(
      'div.altakit-actions',
      {},
      p.snippet &&
        h(
          'button.jp-Button.altakit-insert',
          {
            onclick: () => this.insert(p.snippet as string)
          },
          'Insert snippet'
        ),
      p.url &&
        h(
          'button.jp-Button.altakit-copy',
          {
            onclick: () => Clipboard.copyToSystem(p.url as string)
          },
          'Copy URL'
        )
    );
    let body: HTMLElement;
    if (p.kind === 'text') {
      body = h('pre.altakit-preview-text', {}, p.text || '');
    } else if (p.kind === 'table') {
      body = table(p.columns || [], p.rows || []);
    } else if (p.kind === 'image') {
      body = h('img.altakit-preview-image', { src: p.image, alt: p.key });
    } else {
      body = h('div.altakit-status', {}, 'Binary data: no preview.');
    }
    return [head, actions, body];
  }

  private prefix = '';
  private cursor: string | null = null;
  private started = false;
  private crumbs: HTMLElement;
  private list: HTMLUListElement;
  private more: HTMLButtonElement;
  private versions: HTMLElement;
  private preview: HTMLElement;
}
