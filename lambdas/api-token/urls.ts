import { isIP } from 'node:net';
import { ALLOW_LOOPBACK_FOR_TESTS } from '../contract/testing.js';

/**
 * What the function's environment permits besides https to a public host: with the test opt-in
 * (ROTOR_ALLOW_LOOPBACK_FOR_TESTS=1, never set by a construct), plain http and loopback hosts.
 * Either way a credential-carrying request must still match the allowed hosts.
 */
export interface UrlPolicy {
  readonly allowLoopback: boolean;
}

/** The production policy: https only, no loopback. */
export const productionUrlPolicy: UrlPolicy = { allowLoopback: false };

/** Hosts that never leave the machine (and that a test emulator listens on). */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.') || host === '0.0.0.0';
  if (isIP(host) === 6) {
    if (host === '::1' || host === '::') return true;
    // IPv4-mapped (the URL parser writes ::ffff:127.0.0.1 as ::ffff:7f00:1).
    const mapped = /^::ffff:([0-9a-f]{1,4}):[0-9a-f]{1,4}$/.exec(host);
    if (mapped) return parseInt(mapped[1]!, 16) >> 8 === 127 || parseInt(mapped[1]!, 16) === 0;
    return /^::ffff:(127\.|0\.0\.0\.0$)/.test(host);
  }
  return false;
}

/**
 * Why a URL may not be called under a policy, or undefined when it may: https only (with the
 * test opt-in, http to a loopback host too), no user info, no loopback host without the opt-in.
 * The answer names the scheme and host, never the path or query (a template may put a token there).
 */
export function urlProblem(raw: string, policy: UrlPolicy): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a valid absolute URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return `must use https, got scheme '${url.protocol.replace(/:$/, '').slice(0, 20)}'`;
  }
  if (url.username || url.password) return `may not hold user info (host ${url.hostname})`;
  const loopback = isLoopback(url.hostname);
  if (loopback && !policy.allowLoopback) {
    return (
      `may not name loopback host ${url.hostname}: loopback and plain http are allowed only when the function's ` +
      `environment sets ${ALLOW_LOOPBACK_FOR_TESTS}=1 (local tests and the sandbox, never a deployed function)`
    );
  }
  if (url.protocol === 'https:') return undefined;
  if (loopback) return undefined;
  return policy.allowLoopback
    ? `must use https (http is allowed only for loopback hosts), got http for host ${url.hostname}`
    : `must use https, got http for host ${url.hostname}`;
}

/** `host` or `host:port` as written in an allowedHosts list. */
export function hostKey(url: URL): string {
  return url.port ? `${url.hostname}:${url.port}` : url.hostname;
}

/**
 * Whether a URL's host is in an allow list. An entry matches the host exactly (with or without
 * its port), and an entry starting with `*.` matches any subdomain. Nothing is allowed that the
 * list does not name (loopback included: a test lists its emulator's host).
 */
export function hostAllowed(url: URL, allowed: readonly string[]): boolean {
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  const withPort = url.port ? `${host}:${url.port}` : host;
  return allowed.some((entry) => {
    const e = entry.trim().toLowerCase();
    if (e.startsWith('*.')) return host.endsWith(e.slice(1)) && host.length > e.length - 1;
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
