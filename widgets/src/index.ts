/**
 * The altakit JupyterLab / Notebook 7 extension: a left sidebar (catalog, store browser,
 * schema inbox), record detail views, and actions. All data comes from the altakit
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

import { AltakitAPI } from './api';
import { altakitIcon } from './icon';
// eslint-disable-next-line jupyter/prefer-lazy-imports -- the sidebar is added at activation
import { AltakitSidebar } from './sidebar';

const OPEN_SIDEBAR = 'altakit:open-sidebar';
const OPEN_RECORD = 'altakit:open-record';
const INBOX_POLL_MS = 30000;

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
          { api, open, insert },
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

export default plugin;
