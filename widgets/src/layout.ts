/**
 * A small layered layout for lineage graphs; pure, no DOM (unit-tested).
 *
 * Every edge `from -> to` puts `to` one layer right of `from`; the root sits
 * where its edges put it, layers are shifted to start at 0, nodes in a layer
 * are stacked in name order.
 */

export interface ILayoutEdge {
  from: string;
  relation: string;
  to: string;
}

export interface INode {
  id: string;
  layer: number;
  row: number;
  x: number;
  y: number;
}

export interface ILayout {
  nodes: INode[];
  edges: (ILayoutEdge & { x1: number; y1: number; x2: number; y2: number })[];
  width: number;
  height: number;
}

export interface IRef {
  kind: string;
  name: string;
  version: number | null;
}

/** Parse `kind:name@version` (version optional). */
export function parseRef(ref: string): IRef {
  const colon = ref.indexOf(':');
  const kind = ref.slice(0, colon);
  const rest = ref.slice(colon + 1);
  const at = rest.lastIndexOf('@');
  if (at < 0 || !/^[0-9]+$/.test(rest.slice(at + 1))) {
    return { kind, name: rest, version: null };
  }
  return { kind, name: rest.slice(0, at), version: Number(rest.slice(at + 1)) };
}

/**
 * Layer of every node reachable from `root` along edges in either direction: the root at 0,
 * downstream nodes right of every node that points at them, upstream nodes left.
 */
export function layers(
  root: string,
  edges: ILayoutEdge[]
): Map<string, number> {
  const layer = new Map<string, number>([[root, 0]]);
  const queue = [root];
  while (queue.length) {
    const node = queue.shift() as string;
    const here = layer.get(node) as number;
    for (const e of edges) {
      const [other, step] =
        e.from === node ? [e.to, 1] : e.to === node ? [e.from, -1] : [null, 0];
      if (other !== null && !layer.has(other)) {
        layer.set(other, here + step);
        queue.push(other);
      }
    }
  }
  // A shortcut edge (model -> table beside model -> run -> table) would join two nodes of one
  // layer: push downstream nodes right of their sources and upstream nodes left of their
  // targets (longest path; bounded passes, so a cycle cannot loop forever).
  for (let pass = 0; pass < layer.size; pass++) {
    let moved = false;
    for (const e of edges) {
      const a = layer.get(e.from);
      const b = layer.get(e.to);
      if (a === undefined || b === undefined || b > a) {
        continue;
      }
      if (b > 0 || (b === 0 && e.to !== root)) {
        layer.set(e.to, a + 1);
        moved = true;
      } else if (a < 0 || (a === 0 && e.from !== root)) {
        layer.set(e.from, b - 1);
        moved = true;
      }
    }
    if (!moved) {
      break;
    }
  }
  return layer;
}

/** Positions of nodes and edges; `colWidth`/`rowHeight` in pixels. */
export function layout(
  root: string,
  edges: ILayoutEdge[],
  colWidth = 220,
  rowHeight = 56
): ILayout {
  const layer = layers(root, edges);
  const min = Math.min(...layer.values());
  const byLayer = new Map<number, string[]>();
  for (const [id, l] of layer) {
    const ids = byLayer.get(l - min) || [];
    ids.push(id);
    byLayer.set(l - min, ids);
  }
  const nodes: INode[] = [];
  const at = new Map<string, INode>();
  for (const [l, ids] of byLayer) {
    ids.sort();
    ids.forEach((id, row) => {
      const node = { id, layer: l, row, x: l * colWidth, y: row * rowHeight };
      nodes.push(node);
      at.set(id, node);
    });
  }
  const seen = new Set<string>();
  const placed = [];
  for (const e of edges) {
    const a = at.get(e.from);
    const b = at.get(e.to);
    const key = `${e.from}|${e.relation}|${e.to}`;
    if (a && b && !seen.has(key)) {
      seen.add(key);
      placed.push({ ...e, x1: a.x, y1: a.y, x2: b.x, y2: b.y });
    }
  }
  const rows = Math.max(...[...byLayer.values()].map(ids => ids.length));
  return {
    nodes,
    edges: placed,
    width: byLayer.size * colWidth,
    height: rows * rowHeight
  };
}
