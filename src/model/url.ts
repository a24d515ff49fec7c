/**
 * What a source URL in a config or lock must look like, checked once at the edge so that
 * git and undici only ever see URLs they parse the same way we do. Returns the problem in
 * words, or undefined when the URL is fine.
 */
export function urlProblem(u: string): string | undefined {
  if (/[\u0000-\u001f\u007f]/.test(u)) return 'contains a control character (NUL, newline, tab, …)';
  if (/\s/.test(u)) return 'contains a space (write it as %20)';
  if (/%(?![0-9A-Fa-f]{2})/.test(u)) return 'has a "%" that is not followed by two hex digits';
  // scp-like git syntax: [user@]host:path.
  const scp = /^[^/\s@:]+@([^/\s:@[\]]+):(?!\/\/)/.exec(u);
  if (scp && !/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) return undefined;
  const m = /^(https?|file|git|ssh):\/\/([^/?#]*)/i.exec(u);
  if (!m) return 'expected a URL (https://, http://, file://, git://, ssh://, or user@host:path)';
  const scheme = m[1]!.toLowerCase();
  const hostPort = m[2]!.replace(/^.*@/, '');
  if (/\[[^\]]*%/.test(hostPort))
    return 'has an IPv6 zone id ("%…" inside [ ]), which git and HTTP clients do not agree on';
  if (hostPort.startsWith('[') && !/^\[[0-9A-Fa-f:.]+\](:\d*)?$/.test(hostPort))
    return 'has an invalid IPv6 address (expected [address] and an optional :port)';
  const port = /:(\d*)$/.exec(hostPort.startsWith('[') ? hostPort.slice(hostPort.indexOf(']')) : hostPort)?.[1];
  const host = port === undefined ? hostPort : hostPort.slice(0, hostPort.length - port.length - 1);
  if (scheme !== 'file' && host === '') return 'has no host';
  if (port !== undefined && port !== '' && (Number(port) < 1 || Number(port) > 65535))
    return `has port ${port}, outside 1-65535`;
  if (!hostPort.startsWith('[') && /:[^:]*:/.test(hostPort))
    return 'has more than one ":" in its host (an IPv6 address goes in [ ])';
  try {
    new URL(u);
  } catch {
    return `is not a valid URL (host "${host}")`;
  }
  return undefined;
}
