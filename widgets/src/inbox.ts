/**
 * The sidebar's Schema inbox: pending changes, colour-coded diffs, approve/reject, audit history,
 * and a link to each change's Voila review dashboard (where the server serves Voila).
 */
import { Widget } from '@lumino/widgets';

import { AltakitAPI, IPending } from './api';
import { errorBox, h, table, text } from './dom';

export class InboxSection extends Widget {
  constructor(
    private api: AltakitAPI,
    private onCount: (count: number) => void
  ) {
    super();
    this.addClass('altakit-inbox');
    this.pending = h('div.altakit-pending');
    this.table = h('input.altakit-history-table', {
      placeholder: 'table name',
      onchange: () => this.showHistory(this.table.value)
    });
    this.history = h('div.altakit-history');
    this.node.append(
      this.pending,
      h('h4', {}, 'Audit history'),
      this.table,
      this.history
    );
  }

  /**
   * Reload the pending changes (and report their count for the badge). A change still pending
   * keeps its element, so a refresh (the poll, a second click) never wipes a comment being typed.
   */
  async refresh(): Promise<void> {
    try {
      const inbox = await this.api.inbox();
      this.onCount(inbox.count);
      const items = new Map<string, HTMLElement>();
      for (const p of inbox.pending) {
        items.set(p.change, this.items.get(p.change) || this.item(p));
      }
      this.items = items;
      this.pending.replaceChildren(
        ...(items.size
          ? items.values()
          : [h('div.altakit-empty', {}, 'No pending schema changes.')])
      );
    } catch (error) {
      this.pending.replaceChildren(errorBox(error));
    }
  }

  private item(p: IPending): HTMLElement {
    const comment = h('textarea.altakit-comment', {
      placeholder: 'Comment…',
      rows: 2
    });
    const decide = async (decision: string) => {
      try {
        await this.api.decide(p.change, decision, comment.value);
        this.table.value = p.table;
        await Promise.all([this.refresh(), this.showHistory(p.table)]);
      } catch (error) {
        box.append(errorBox(error));
      }
    };
    const rows = p.diff.map(d => [
      d.column,
      d.change,
      d.before,
      d.after,
      (d.samples || []).map(text).join(', ')
    ]);
    const box = h(
      'div.altakit-change',
      { 'data-change': p.change },
      h(
        'div.altakit-change-head',
        {},
        h('b', {}, p.table),
        ` · ${p.change} · ${p.by} · ${p.created.slice(0, 19)}`
      ),
      table(
        ['column', 'change', 'before', 'after', 'samples'],
        rows,
        r => `altakit-diff-${r[1]}`
      ),
      comment,
      h(
        'div.altakit-actions',
        {},
        h(
          'button.jp-Button.altakit-approve',
          { onclick: () => decide('approve') },
          'Approve'
        ),
        h(
          'button.jp-Button.altakit-reject',
          { onclick: () => decide('reject') },
          'Reject'
        ),
        h(
          'button.jp-Button.altakit-show-history',
          {
            onclick: () => {
              this.table.value = p.table;
              void this.showHistory(p.table);
            }
          },
          'History'
        ),
        p.dashboard &&
          h(
            'a.jp-Button.altakit-review-dashboard',
            { href: p.dashboard, target: '_blank', rel: 'noopener' },
            'Open review dashboard'
          )
      )
    );
    return box;
  }

  /** The decisions recorded for `tableName`. */
  async showHistory(tableName: string): Promise<void> {
    if (!tableName) {
      this.history.replaceChildren();
      return;
    }
    try {
      const found = await this.api.history(tableName);
      this.history.replaceChildren(
        table(
          ['time', 'decision', 'by', 'comment', 'change'],
          found.decisions.map(d => [
            d.time.slice(0, 19),
            d.decision,
            d.by,
            d.comment,
            d.change
          ])
        )
      );
    } catch (error) {
      this.history.replaceChildren(errorBox(error));
    }
  }

  private pending: HTMLElement;
  private items = new Map<string, HTMLElement>();
  private table: HTMLInputElement;
  private history: HTMLElement;
}
