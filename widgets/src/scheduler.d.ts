/**
 * The part of `@jupyterlab/scheduler` (Jupyter Scheduler's JupyterLab extension, 2.x) that altakit
 * uses: the advanced-options token, the views it is shown in, and the plugins (to wrap the
 * default advanced options). The module is not bundled: it is consumed at run time from the
 * scheduler's own prebuilt extension (package.json `sharedPackages`), so the token is the one the
 * scheduler's plugin requires. Declared here from upstream `src/tokens.ts`, `src/model.ts` and
 * `src/index.tsx` (the npm tarball of 2.11.0 ships no `lib/`).
 */
declare module '@jupyterlab/scheduler' {
  import type { JupyterFrontEndPlugin } from '@jupyterlab/application';
  import type { Token } from '@lumino/coreutils';
  import type { FC } from 'react';

  export enum JobsView {
    CreateForm = 1,
    CreateFromJobDescriptionForm,
    ListJobs,
    ListJobDefinitions,
    JobDetail,
    JobDefinitionDetail,
    EditJobDefinition
  }

  export namespace Scheduler {
    type EnvironmentParameterValue = string | number | boolean;
    type ErrorsType = { [key: string]: string };

    /** The fields of the create / job / job definition models altakit reads or writes. */
    interface IAdvancedOptionsModel {
      runtimeEnvironmentParameters?: {
        [key: string]: EnvironmentParameterValue;
      };
      /** Job detail only. */
      jobId?: string;
      /** Job detail only: `IN_PROGRESS`, `COMPLETED`, `FAILED`, … */
      status?: string;
      /** Job definition detail only. */
      definitionId?: string;
      [key: string]: any;
    }

    interface IAdvancedOptionsProps {
      jobsView: JobsView;
      model: IAdvancedOptionsModel;
      handleModelChange: (model: any) => void;
      errors: ErrorsType;
      handleErrorsChange: (errors: ErrorsType) => void;
    }

    type IAdvancedOptions = FC<IAdvancedOptionsProps>;
    const IAdvancedOptions: Token<IAdvancedOptions>;
  }

  const plugins: JupyterFrontEndPlugin<any>[];
  export default plugins;
}
