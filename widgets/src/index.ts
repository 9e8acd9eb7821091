/**
 * The altakit JupyterLab / Notebook 7 extension: a left sidebar (catalog, store browser,
 * schema inbox), record detail views, and actions; altakit's fields in Jupyter Scheduler's
 * job views (pinned data versions, the job's altakit run). All data comes from the altakit
 * REST API of the server extension; no code ever runs in a kernel.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, showErrorMessage } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import schedulerPlugins, { Scheduler } from '@jupyterlab/scheduler';

import { AltakitAPI } from './api';
import { altakitIcon } from './icon';
// eslint-disable-next-line jupyter/prefer-lazy-imports -- the sidebar is added at activation
import { AltakitSidebar } from './sidebar';

const OPEN_SIDEBAR = 'altakit:open-sidebar';
const OPEN_RECORD = 'altakit:open-record';
const INBOX_POLL_MS = 30000;
/** Jupyter Scheduler's command that shows its job list. */
const SHOW_JOBS = 'scheduling:list-jobs-from-launcher';
/** The scheduler's default advanced options: package.json's `disabledExtensions` turns it off. */
const SCHEDULER_OPTIONS = '@jupyterlab/scheduler:IAdvancedOptions';

/** Run Jupyter Scheduler's job list command, when the scheduler is there. */
function showJobs(app: JupyterFrontEnd): () => void {
  return () => {
    if (app.commands.hasCommand(SHOW_JOBS)) {
      void app.commands.execute(SHOW_JOBS);
    }
  };
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'altakit:plugin',
  description: 'altakit: catalog, store browser, lineage and schema inbox.',
  autoStart: true,
  optional: [ILayoutRestorer, INotebookTracker, ICommandPalette, ILauncher],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null,
    palette: ICommandPalette | null,
    launcher: ILauncher | null
  ) => {
    const api = new AltakitAPI(app.serviceManager.serverSettings);

    const insert = (code: string) => {
      const panel = notebooks?.currentWidget;
      if (!panel) {
        void showErrorMessage(
          'altakit',
          'Open a notebook first: the snippet goes into the active notebook.'
        );
        return;
      }
      const notebook = panel.content;
      NotebookActions.insertBelow(notebook);
      notebook.activeCell?.model.sharedModel.setSource(code);
      app.shell.activateById(panel.id);
    };
    const open = (kind: string, name: string, version: number | 'latest') =>
      app.commands.execute(OPEN_RECORD, { kind, name, version });

    const sidebar = new AltakitSidebar(api, open, insert);
    app.shell.add(sidebar, 'left', { rank: 600 });
    restorer?.add(sidebar, sidebar.id);
    void sidebar.refreshCount();
    window.setInterval(() => {
      if (!document.hidden) {
        void sidebar.refreshCount();
      }
    }, INBOX_POLL_MS);

    app.commands.addCommand(OPEN_SIDEBAR, {
      label: args => (args.isLauncher ? 'altakit' : 'altakit: Open sidebar'),
      caption: 'Catalog, store browser and schema inbox',
      icon: altakitIcon,
      execute: () => app.shell.activateById(sidebar.id)
    });
    app.commands.addCommand(OPEN_RECORD, {
      label: 'altakit: Open record',
      execute: async args => {
        const { detailWidget } = await import('./detail');
        const { kind, name, version } = args as {
          kind: string;
          name: string;
          version: number | 'latest';
        };
        const widget = detailWidget(
          { api, open, insert, showJobs: showJobs(app) },
          kind,
          name,
          version ?? 'latest'
        );
        const existing = [...app.shell.widgets('main')].find(
          w => w.id === widget.id
        );
        if (existing) {
          widget.dispose();
          app.shell.activateById(existing.id);
        } else {
          app.shell.add(widget, 'main');
          app.shell.activateById(widget.id);
        }
      }
    });
    palette?.addItem({ command: OPEN_SIDEBAR, category: 'altakit' });
    launcher?.add({ command: OPEN_SIDEBAR, category: 'Other', rank: 1 });
    console.log('altakit extension activated');
  }
};

/**
 * Jupyter Scheduler's advanced options with altakit's fields (Create Job: the store and pinned
 * data versions; job detail: the altakit run). Wraps the scheduler's default component, whose
 * own plugin is disabled by this extension's `disabledExtensions`.
 */
const schedulerOptions: JupyterFrontEndPlugin<Scheduler.IAdvancedOptions> = {
  id: 'altakit:scheduler-options',
  description: 'altakit fields in Jupyter Scheduler job views.',
  autoStart: true,
  provides: Scheduler.IAdvancedOptions,
  activate: async (app: JupyterFrontEnd) => {
    const { advancedOptions } = await import('./jobs');
    const upstream = schedulerPlugins.find(p => p.id === SCHEDULER_OPTIONS);
    if (!upstream) {
      console.error(
        `altakit: ${SCHEDULER_OPTIONS} not found; the scheduler's own advanced options are not shown`
      );
    }
    const api = new AltakitAPI(app.serviceManager.serverSettings);
    const open = (kind: string, name: string, version: number | 'latest') =>
      app.commands.execute(OPEN_RECORD, { kind, name, version });
    return advancedOptions(upstream ? upstream.activate(app) : null, {
      api,
      open,
      showJobs: showJobs(app)
    });
  }
};

export default [plugin, schedulerOptions];
