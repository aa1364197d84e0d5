/**
 * `shoal admin …`: talks to a node's HTTP API.
 */

/** How long an admin command waits for the node. */
export const ADMIN_REQUEST_MS_MAX = 5000;

export async function runAdminStatus(options: { node: string }): Promise<void> {
  const base = parseNodeUrl(options.node);
  if (base === undefined) return;
  await printJson(new URL('/admin/status', base));
}

function parseNodeUrl(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return usageError(`--node must be a URL like http://127.0.0.1:8080, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return usageError(`--node must be an http:// or https:// URL, got ${JSON.stringify(text)}`);
  }
  return url;
}

async function printJson(url: URL): Promise<void> {
  let response: Response;
  let body: string;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(ADMIN_REQUEST_MS_MAX) });
    body = await response.text();
  } catch (error) {
    process.stderr.write(`cannot reach ${url.origin}: ${describe(error)}\n`);
    process.exitCode = 1;
    return;
  }
  const pretty = prettyJson(body);
  if (response.ok) {
    process.stdout.write(`${pretty}\n`);
    return;
  }
  process.stderr.write(`${url.origin} answered ${response.status}: ${pretty}\n`);
  process.exitCode = 1;
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}

function usageError(message: string): undefined {
  process.stderr.write(`error: ${message}\n`);
  process.exitCode = 2;
  return undefined;
}
