import { URLExt } from '@jupyterlab/coreutils';

import { ServerConnection } from '@jupyterlab/services';

/**
 * Call the altakit server extension (`{base}altakit/api/...`).
 *
 * ServerConnection adds the token and the XSRF header, so POSTs pass
 * Jupyter's XSRF check.
 *
 * @param endPoint API REST end point, relative to `altakit/api`
 * @param serverSettings The server settings to use for the request
 * @param init Initial values for the request
 * @returns The response body interpreted as JSON
 */
export async function requestAPI<T>(
  endPoint: string,
  serverSettings: ServerConnection.ISettings,
  init: RequestInit = {}
): Promise<T> {
  const requestUrl = URLExt.join(
    serverSettings.baseUrl,
    'altakit',
    'api',
    endPoint
  );

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      requestUrl,
      init,
      serverSettings
    );
  } catch (error) {
    throw new ServerConnection.NetworkError(error as any);
  }

  let data: any = await response.text();

  if (data.length > 0) {
    try {
      data = JSON.parse(data);
    } catch {
      console.log('Not a JSON response body.', response);
    }
  }

  if (!response.ok) {
    const message = data.message
      ? data.hint
        ? `${data.message} (${data.hint})`
        : data.message
      : String(data);
    throw new ServerConnection.ResponseError(response, message);
  }

  return data;
}
