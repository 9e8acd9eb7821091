/**
 * altakit's fields in Jupyter Scheduler's job views, through its advanced-options extension point
 * (`Scheduler.IAdvancedOptions`). The scheduler's own advanced options (idempotency token, tags)
 * are rendered first, unchanged; below them:
 *
 * - Create Job: the altakit store, and pinned data versions picked from the catalog, stored as
 *   `runtime_environment_parameters.altakit_pins` (JSON `{"table:sensors": 4}`; none = latest);
 * - job detail: the pins, the altakit run the job recorded (a link that opens it) and re-run
 *   buttons; job definition detail: the pins.
 */
import { JobsView, Scheduler } from '@jupyterlab/scheduler';
import React, { useEffect, useState } from 'react';

import { AltakitAPI, IJobRun } from './api';
import { parseRef } from './layout';
import {
  IPins,
  PINS_PARAMETER,
  PIN_KINDS,
  parsePins,
  pinRefs,
  withPin,
  withPinsParameter,
  withoutPin
} from './pins';

export interface IJobOptionsContext {
  api: AltakitAPI;
  open: (kind: string, name: string, version: number | 'latest') => void;
  /** Show Jupyter Scheduler's job list. */
  showJobs?: () => void;
}

/** Job states after which no run will be recorded any more. */
const ENDED = new Set(['COMPLETED', 'FAILED', 'STOPPED']);
const JOB_RUN_POLL_MS = 2000;

/**
 * The advanced-options component: `upstream` (the scheduler's default component), then altakit's
 * fields.
 */
export function advancedOptions(
  upstream: Scheduler.IAdvancedOptions | null,
  ctx: IJobOptionsContext
): Scheduler.IAdvancedOptions {
  const Upstream = upstream;
  const Options = (props: Scheduler.IAdvancedOptionsProps) => (
    <>
      {Upstream && <Upstream {...props} />}
      <AltakitJobFields ctx={ctx} {...props} />
    </>
  );
  return Options;
}

type FieldsProps = Scheduler.IAdvancedOptionsProps & {
  ctx: IJobOptionsContext;
};

function AltakitJobFields(props: FieldsProps): JSX.Element {
  const { ctx, model, jobsView } = props;
  const pins = parsePins(model.runtimeEnvironmentParameters?.[PINS_PARAMETER]);
  const create = jobsView === JobsView.CreateForm;
  return (
    <fieldset className="altakit-job-options">
      <legend>altakit</legend>
      <StoreLine api={ctx.api} />
      {create ? (
        <PinPicker {...props} pins={pins} />
      ) : (
        <PinList ctx={ctx} pins={pins} />
      )}
      {jobsView === JobsView.JobDetail && model.jobId && (
        <JobRun ctx={ctx} jobId={model.jobId} status={model.status} />
      )}
    </fieldset>
  );
}

function StoreLine(props: { api: AltakitAPI }): JSX.Element {
  const [store, setStore] = useState<string>('…');
  useEffect(() => {
    let live = true;
    props.api
      .info()
      .then(info => live && setStore(info.store))
      .catch(error => live && setStore(`unreachable: ${message(error)}`));
    return () => {
      live = false;
    };
  }, [props.api]);
  return (
    <div className="altakit-job-store">
      store: <code>{store}</code>
    </div>
  );
}

/** Pins as links (read-only views). */
function PinList(props: { ctx: IJobOptionsContext; pins: IPins }): JSX.Element {
  const refs = pinRefs(props.pins);
  return (
    <div className="altakit-job-pins">
      {refs.length ? 'pinned: ' : 'reads the latest data (no pins)'}
      {refs.map(ref => (
        <RefLink key={ref} refName={ref} open={props.ctx.open} />
      ))}
    </div>
  );
}

function RefLink(props: {
  refName: string;
  open: IJobOptionsContext['open'];
  className?: string;
}): JSX.Element {
  const r = parseRef(props.refName);
  return (
    <a
      href="#"
      className={props.className ?? 'altakit-ref-link'}
      data-ref={props.refName}
      title={`open ${props.refName} in altakit`}
      onClick={event => {
        event.preventDefault();
        props.open(r.kind, r.name, r.version ?? 'latest');
      }}
    >
      {props.refName}
    </a>
  );
}

/** Pins of the job being created: the list (each removable) and a kind → name → version picker. */
function PinPicker(props: FieldsProps & { pins: IPins }): JSX.Element {
  const { ctx, pins } = props;
  const [kind, setKind] = useState(PIN_KINDS[0]);
  const [filter, setFilter] = useState('');
  const [names, setNames] = useState<string[]>([]);
  const [name, setName] = useState('');
  const [versions, setVersions] = useState<number[]>([]);
  const [version, setVersion] = useState('');
  const [error, setError] = useState('');

  useEffect(() => {
    let live = true;
    setNames([]);
    setName('');
    ctx.api
      .catalog(kind, filter, 0)
      .then(page => {
        if (live) {
          const found = page.items.map(r => r.name);
          setNames(found);
          setName(found[0] ?? '');
          setError('');
        }
      })
      .catch(e => live && setError(message(e)));
    return () => {
      live = false;
    };
  }, [kind, filter]);

  useEffect(() => {
    let live = true;
    setVersions([]);
    setVersion('');
    if (!name) {
      return;
    }
    ctx.api
      .detail(kind, name, 'latest')
      .then(d => {
        if (live) {
          const found = d.versions.map(v => v.version).sort((a, b) => b - a);
          setVersions(found);
          setVersion(found.length ? String(found[0]) : '');
          setError('');
        }
      })
      .catch(e => live && setError(message(e)));
    return () => {
      live = false;
    };
  }, [kind, name]);

  const change = (next: IPins) =>
    props.handleModelChange({
      ...props.model,
      runtimeEnvironmentParameters: withPinsParameter(
        props.model.runtimeEnvironmentParameters,
        next
      )
    });
  const refs = pinRefs(pins);
  return (
    <div className="altakit-pin-picker">
      <div className="altakit-job-hint">
        Pin data versions: the job reads exactly these (unpinned reads get the
        latest version).
      </div>
      <ul className="altakit-pins">
        {refs.map(ref => {
          const key = ref.slice(0, ref.lastIndexOf('@'));
          return (
            <li key={ref} className="altakit-pin" data-pin={ref}>
              <code>{ref}</code>{' '}
              <button
                type="button"
                className="jp-Button altakit-pin-remove"
                title={`unpin ${key}`}
                onClick={() => change(withoutPin(pins, key))}
              >
                ✕
              </button>
            </li>
          );
        })}
      </ul>
      <div className="altakit-pin-row">
        <select
          className="jp-mod-styled altakit-pin-kind"
          aria-label="kind"
          value={kind}
          onChange={e => setKind(e.target.value)}
        >
          {PIN_KINDS.map(k => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        <input
          className="jp-mod-styled altakit-pin-filter"
          type="search"
          placeholder="filter names…"
          aria-label="filter names"
          value={filter}
          onChange={e => setFilter(e.target.value)}
        />
        <select
          className="jp-mod-styled altakit-pin-name"
          aria-label="name"
          value={name}
          onChange={e => setName(e.target.value)}
        >
          {names.map(n => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
        <select
          className="jp-mod-styled altakit-pin-version"
          aria-label="version"
          value={version}
          onChange={e => setVersion(e.target.value)}
        >
          {versions.map(v => (
            <option key={v} value={String(v)}>
              @{v}
            </option>
          ))}
        </select>
        <button
          type="button"
          className="jp-Button altakit-pin-add"
          disabled={!name || !version}
          onClick={() => change(withPin(pins, kind, name, Number(version)))}
        >
          Pin
        </button>
      </div>
      {!names.length && !error && (
        <div className="altakit-empty">No {kind} records.</div>
      )}
      {error && <div className="altakit-error">{error}</div>}
    </div>
  );
}

/** The altakit run of a job (polled until the job has one or ends) and its re-run buttons. */
function JobRun(props: {
  ctx: IJobOptionsContext;
  jobId: string;
  status?: string;
}): JSX.Element {
  const { ctx, jobId, status } = props;
  const [found, setFound] = useState<IJobRun | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    let live = true;
    let timer: number | undefined;
    const ask = async () => {
      try {
        const answer = await ctx.api.jobRun(jobId);
        if (!live) {
          return;
        }
        setFound(answer);
        setError('');
        if (!answer.run && !ENDED.has(status ?? '')) {
          timer = window.setTimeout(ask, JOB_RUN_POLL_MS);
        }
      } catch (e) {
        if (live) {
          setError(message(e));
        }
      }
    };
    void ask();
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [jobId, status]);
  if (error) {
    return <div className="altakit-error altakit-job-run-error">{error}</div>;
  }
  if (!found) {
    return <div className="altakit-job-run">altakit run: …</div>;
  }
  if (!found.run) {
    return (
      <div className="altakit-job-run">
        altakit run:{' '}
        {ENDED.has(status ?? '') ? 'none recorded' : 'not recorded yet'}
      </div>
    );
  }
  const run = parseRef(found.run);
  return (
    <div className="altakit-job-run">
      altakit run:{' '}
      <RefLink
        refName={found.run}
        open={ctx.open}
        className="altakit-job-run-link"
      />
      {found.status ? ` (${found.status})` : ''}
      {run.version !== null && (
        <Rerun ctx={ctx} name={run.name} version={run.version} />
      )}
    </div>
  );
}

function Rerun(props: {
  ctx: IJobOptionsContext;
  name: string;
  version: number;
}): JSX.Element {
  const [busy, setBusy] = useState(false);
  const [said, setSaid] = useState('');
  const [made, setMade] = useState('');
  const rerun = async (sameData: boolean) => {
    setBusy(true);
    setMade('');
    try {
      const job = await props.ctx.api.rerun(
        props.name,
        props.version,
        sameData
      );
      const pins = pinRefs(job.pins || {});
      setMade(job.job_id);
      setSaid(
        `Job ${job.job_id} created` +
          (pins.length
            ? `, pinned to ${pins.join(', ')}`
            : ', on the latest data')
      );
    } catch (e) {
      setSaid(message(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="altakit-rerun">
      <button
        type="button"
        className="jp-Button altakit-rerun-same"
        disabled={busy}
        onClick={() => rerun(true)}
      >
        Re-run on the same snapshot
      </button>
      <button
        type="button"
        className="jp-Button altakit-rerun-latest"
        disabled={busy}
        onClick={() => rerun(false)}
      >
        Re-run on latest
      </button>
      {said && (
        <span className="altakit-rerun-status" data-job-id={made || undefined}>
          {said}
        </span>
      )}
      {said && props.ctx.showJobs && (
        <a
          href="#"
          className="altakit-show-jobs"
          onClick={event => {
            event.preventDefault();
            props.ctx.showJobs?.();
          }}
        >
          {' · show jobs'}
        </a>
      )}
    </div>
  );
}

function message(error: unknown): string {
  return String((error as Error)?.message || error);
}
