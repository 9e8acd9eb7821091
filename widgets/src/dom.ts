/** Tiny DOM helpers: the extension renders plain elements, no framework. */

const SVG = 'http://www.w3.org/2000/svg';

type Child = Node | string | null | undefined | false;

/**
 * `h('div.a.b', {title: 'x', class: 'c'}, child, ...)`: an element with classes, attributes and
 * children; `on*` functions become listeners, `class` adds classes, null/undefined/false are skipped.
 */
export function h<T extends HTMLElement = any>(
  tagAndClasses: string,
  attrs: { [name: string]: any } = {},
  ...children: (Child | Child[])[]
): T {
  const [tag, ...classes] = tagAndClasses.split('.');
  const el = document.createElement(tag) as unknown as T;
  el.classList.add(...classes);
  for (const [name, value] of Object.entries(attrs)) {
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      // extra classes join those of `tagAndClasses` (setAttribute would drop them)
      el.classList.add(
        ...String(value || '')
          .split(/\s+/)
          .filter(c => c)
      );
    } else if (value !== undefined && value !== null && value !== false) {
      el.setAttribute(name, String(value));
    }
  }
  for (const child of ([] as Child[]).concat(...children)) {
    if (child) {
      el.append(child);
    }
  }
  return el;
}

/** A table with a header row (cells are rendered as text). */
export function table(
  columns: string[],
  rows: any[][],
  rowClass: (row: any[]) => string = () => ''
): HTMLTableElement {
  return h(
    'table.altakit-table',
    {},
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map(c => h('th', {}, c))
      )
    ),
    h(
      'tbody',
      {},
      rows.map(r =>
        h(
          'tr',
          { class: rowClass(r) || null },
          r.map(v => h('td', {}, text(v)))
        )
      )
    )
  );
}

/** A value as display text. */
export function text(value: any): string {
  if (value === null || value === undefined) {
    return '';
  }
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** A human size: 1234 -> "1.2 kB". */
export function size(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (bytes >= 1000 && i < units.length - 1) {
    bytes /= 1000;
    i++;
  }
  return `${i ? bytes.toFixed(1) : bytes} ${units[i]}`;
}

/** An error message element (server errors carry message + hint). */
export function errorBox(error: any): HTMLElement {
  return h('div.altakit-error', {}, String(error?.message || error));
}

/** An SVG element with attributes and children. */
export function svgEl(
  tag: string,
  attrs: { [k: string]: any },
  ...children: (Node | string)[]
): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    el.setAttribute(k, String(v));
  }
  el.append(...children);
  return el;
}
