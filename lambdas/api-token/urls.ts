import { isIP } from 'node:net';

/** Hosts that never leave the machine: plain http is allowed to them (local tests only). */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}

/**
 * Why a URL may not be called, or undefined when it may: only https, except http to a
 * loopback host. The answer names the scheme and host, never the path or query (a template
 * may put a token there).
 */
export function urlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a valid absolute URL';
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && isLoopback(url.hostname)) return undefined;
  if (url.protocol === 'http:') {
    return `must use https (http is allowed only for loopback hosts), got http for host ${url.hostname}`;
  }
  return `must use https, got scheme '${url.protocol.replace(/:$/, '').slice(0, 20)}'`;
}

/** `host` or `host:port` as written in an allowedHosts list. */
export function hostKey(url: URL): string {
  return url.port ? `${url.hostname}:${url.port}` : url.hostname;
}

/**
 * Whether a URL's host is in an allow list. An entry matches the host exactly (with or without
 * its port), and an entry starting with `*.` matches any subdomain. Loopback is always allowed.
 */
export function hostAllowed(url: URL, allowed: readonly string[]): boolean {
  if (isLoopback(url.hostname)) return true;
  const host = url.hostname.toLowerCase();
  const withPort = hostKey(url).toLowerCase();
  return allowed.some((entry) => {
    const e = entry.toLowerCase();
    if (e.startsWith('*.')) return host.endsWith(e.slice(1));
    return e === host || e === withPort;
  });
}

/** The part of a URL that may appear in a message: scheme, host and path, no query. */
export function describeUrl(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
