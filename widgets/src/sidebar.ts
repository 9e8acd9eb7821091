/** The left sidebar "altakit": three sections behind tab buttons, the inbox count on the icon. */
import { Panel, Widget } from '@lumino/widgets';

import { AltakitAPI } from './api';
import { CatalogSection } from './catalog';
import { h } from './dom';
import { altakitIcon } from './icon';
import { InboxSection } from './inbox';
import { StoreSection } from './store';

const SECTIONS = ['Catalog', 'Store', 'Schema inbox'];

export class AltakitSidebar extends Panel {
  constructor(
    api: AltakitAPI,
    open: (kind: string, name: string, version: number) => void,
    insert: (code: string) => void
  ) {
    super();
    this.id = 'altakit-sidebar';
    this.addClass('altakit-sidebar');
    this.title.icon = altakitIcon;
    this.title.caption = 'altakit';
    this.catalog = new CatalogSection(api, open);
    this.store = new StoreSection(api, insert);
    this.inbox = new InboxSection(api, n => this.setCount(n));
    this.tabs = SECTIONS.map((name, i) =>
      h(
        'button.altakit-tab',
        { onclick: () => this.showSection(i), 'data-section': name },
        name
      )
    );
    const header = new Widget({
      node: h(
        'div.altakit-tabs',
        {},
        h('span.altakit-title', {}, 'altakit'),
        this.tabs
      )
    });
    this.addWidget(header);
    for (const section of this.sections) {
      section.addClass('altakit-section');
      this.addWidget(section);
    }
    this.showSection(0);
  }

  /** Show section `index` (0 catalog, 1 store, 2 inbox); its first load happens here. */
  showSection(index: number): void {
    this.sections.forEach((s, i) => s.setHidden(i !== index));
    this.tabs.forEach((t, i) =>
      t.classList.toggle('altakit-mod-current', i === index)
    );
    if (!this.loaded.has(index)) {
      this.loaded.add(index);
      [
        () => this.catalog.reload(),
        () => this.store.openFolder(''),
        () => this.inbox.refresh()
      ][index]();
    } else if (index === 2) {
      void this.inbox.refresh();
    }
  }

  /** Re-read the inbox count (the badge); called on a timer and on demand. */
  refreshCount(): Promise<void> {
    return this.inbox.refresh();
  }

  private setCount(count: number): void {
    // JupyterLab keeps the tab's `data-id` in the same dataset: keep every other entry.
    const dataset = { ...this.title.dataset };
    delete dataset['altakit-count'];
    if (count) {
      dataset['altakit-count'] = String(count);
    }
    this.title.dataset = dataset;
    this.tabs[2].textContent = count
      ? `Schema inbox (${count})`
      : 'Schema inbox';
  }

  private get sections(): Widget[] {
    return [this.catalog, this.store, this.inbox];
  }

  private catalog: CatalogSection;
  private store: StoreSection;
  private inbox: InboxSection;
  private tabs: HTMLButtonElement[];
  private loaded = new Set<number>();
}
