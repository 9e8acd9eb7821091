/**
 * Typed calls to the altakit REST API (the contract of issue 18).
 * Every piece of data the extension shows comes from here, never from a kernel.
 */
import { ServerConnection } from '@jupyterlab/services';

import type { IMetricsPage } from './chart';
import { requestAPI } from './request';

export interface IRecord {
  ref: string;
  kind: string;
  name: string;
  version: number;
  created: string;
  writer: string;
  links: { [relation: string]: string[] };
  doc: { [key: string]: any };
}

export interface IInfo {
  version: string;
  store: string;
  kinds: { [plural: string]: string };
}

export interface IPage<T> {
  items: T[];
  next: number | null;
}

export interface IEdge {
  from: string;
  relation: string;
  to: string;
}

export interface ILineage {
  ref: string;
  direction: string;
  edges: IEdge[];
}

export interface IDetail {
  record: IRecord;
  versions: { version: number; created: string }[];
  schema: { name: string; type: string }[] | null;
  profile: { [key: string]: any } | null;
  metrics: { [key: string]: any } | null;
  params: { [key: string]: any } | null;
  snippet: string;
  url: string | null;
  aliases?: { [alias: string]: number };
  dashboard?: string | null;
}

export interface IStoreKey {
  key: string;
  version: string;
  size: number;
  time: string;
  writer: string;
}

export interface IStoreListing {
  prefix: string;
  folders: string[];
  keys: IStoreKey[];
  next: string | null;
}

export interface IKeyVersion {
  id: string;
  time: string;
  size: number;
  writer: string;
  deleted: boolean;
}

export interface IPreview {
  key: string;
  version: string;
  size: number;
  kind: 'text' | 'table' | 'image' | 'binary';
  text?: string;
  columns?: string[];
  rows?: any[][];
  image?: string;
  truncated: boolean;
  url?: string;
  snippet?: string;
}

export interface IColumnChange {
  column: string;
  change: string;
  before: any;
  after: any;
  samples?: any[];
}

export interface IPending {
  table: string;
  change: string;
  created: string;
  by: string;
  diff: IColumnChange[];
  /** The `store:` sources that proposed the change. */
  sources?: string[];
  /** The Voila schema review page of the change (null: this server serves no Voila). */
  dashboard?: string | null;
}

export interface IDecision {
  change: string;
  decision: string;
  by: string;
  comment: string;
  time: string;
}

/** A re-run started: the Jupyter Scheduler job that runs it (issue 19's contract). */
export interface IRerun {
  job_id: string;
  run: string | null;
  pins: { [kindAndName: string]: number };
}

/** The altakit run a Jupyter Scheduler job recorded (`null` until it has one). */
export interface IJobRun {
  run: string | null;
  status?: string;
}

/** Query string from the defined values of `params`. */
function query(params: { [key: string]: string | number | null | undefined }) {
  const parts = Object.keys(params)
    .filter(k => params[k] !== undefined && params[k] !== null)
    .map(k => `${k}=${encodeURIComponent(String(params[k]))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

/** Path of one record: `{kind}/{name}/{version|latest}`. */
function recordPath(kind: string, name: string, version: number | 'latest') {
  return `${kind}/${encodeURIComponent(name)}/${version}`;
}

/** The client of one Jupyter server's altakit API. */
export class AltakitAPI {
  constructor(readonly settings: ServerConnection.ISettings) {}

  private get<T>(path: string): Promise<T> {
    return requestAPI<T>(path, this.settings);
  }

  private post<T>(path: string, body: any): Promise<T> {
    return requestAPI<T>(path, this.settings, {
      method: 'POST',
      body: JSON.stringify(body)
    });
  }

  info(): Promise<IInfo> {
    return this.get('');
  }

  catalog(kind: string, q: string, offset: number): Promise<IPage<IRecord>> {
    return this.get(`catalog${query({ kind, q: q || null, offset })}`);
  }

  versions(plural: string, name: string): Promise<{ versions: IRecord[] }> {
    return this.get(`${plural}/${encodeURIComponent(name)}`);
  }

  detail(kind: string, name: string, version: number | 'latest') {
    return this.get<IDetail>(`detail/${recordPath(kind, name, version)}`);
  }

  lineage(
    kind: string,
    name: string,
    version: number | 'latest',
    direction: 'up' | 'down'
  ): Promise<ILineage> {
    const path = `lineage/${recordPath(kind, name, version)}`;
    return this.get(`${path}${query({ direction, depth: 6 })}`);
  }

  diff(kind: string, name: string, a: number, b: number): Promise<any> {
    return this.get(
      `diff/${kind}/${encodeURIComponent(name)}${query({ a, b })}`
    );
  }

  storeList(prefix: string, cursor: string | null): Promise<IStoreListing> {
    return this.get(`store/list${query({ prefix, cursor })}`);
  }

  storeVersions(key: string): Promise<{ versions: IKeyVersion[] }> {
    return this.get(`store/versions${query({ key })}`);
  }

  preview(key: string, version?: string): Promise<IPreview> {
    return this.get(`store/preview${query({ key, version })}`);
  }

  inbox(): Promise<{ count: number; pending: IPending[] }> {
    return this.get('schema/inbox');
  }

  decide(change: string, decision: string, comment: string): Promise<any> {
    return this.post('schema/decide', { change, decision, comment });
  }

  history(table: string): Promise<{ decisions: IDecision[] }> {
    return this.get(`schema/history${query({ table })}`);
  }

  promote(model: string, alias: string, version: number): Promise<any> {
    return this.post('aliases', { model, alias, version });
  }

  rollback(model: string, alias: string): Promise<any> {
    return this.post('aliases/rollback', { model, alias });
  }

  /** Re-run a recorded run as a Jupyter Scheduler job: on the data it read, or on the latest. */
  rerun(name: string, version: number, sameData: boolean): Promise<IRerun> {
    return this.post(`runs/${encodeURIComponent(name)}/${version}/rerun`, {
      same_data: sameData
    });
  }

  /** The altakit run of a Jupyter Scheduler job. */
  jobRun(jobId: string): Promise<IJobRun> {
    return this.get(`jobs/${encodeURIComponent(jobId)}/run`);
  }

  /** A run's history entries after the first `after` ones, and its status. */
  metrics(name: string, version: number, after: number): Promise<IMetricsPage> {
    return this.get(
      `runs/${encodeURIComponent(name)}/${version}/metrics${query({ after })}`
    );
  }
}
