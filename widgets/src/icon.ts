import { LabIcon } from '@jupyterlab/ui-components';

import iconSvg from '../style/icon.svg';

/** The altakit icon (sidebar tab, launcher, detail tabs). */
export const altakitIcon = new LabIcon({
  name: 'altakit:icon',
  svgstr: iconSvg
});
