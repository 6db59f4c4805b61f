// The undici agents that carry every GitLab call: the SSRF guard at connect time (resolved names and IP
// literals), one agent per private CA, and a response size cap.
import { createHash, X509Certificate } from 'node:crypto';
import type dns from 'node:dns';
import tls from 'node:tls';
import { Agent, buildConnector } from 'undici';
import { AppError } from '../errors.js';
import { AddressNotAllowedError, isIpLiteral, isPublicAddress } from './address-guard.js';

/** One agent per CA; callers choose the CA, so the cache is bounded (least recently used goes first). */
const MAX_CACHED_AGENTS = 64;

/** Refuses a caCertificate that is not a PEM certificate, before any connection is made with it. */
export function assertPemCertificate(pem: string): void {
  try {
    new X509Certificate(pem);
  } catch {
    throw new AppError('validation_failed', 'caCertificate is not a PEM certificate', { errors: [{ field: 'body.caCertificate', message: 'must be a PEM certificate' }] });
  }
}

export interface AgentPoolOptions {
  /** The guarded lookup: refuses names that resolve to non-public addresses. */
  lookup: typeof dns.lookup;
  allowPrivateNetworks: boolean;
  timeoutMs: number;
  maxResponseBytes: number;
}

export function createAgentPool(options: AgentPoolOptions) {
  const agents = new Map<string, Agent>();

  function agentFor(caCertificate: string | null | undefined): Agent {
    const key = caCertificate ? createHash('sha256').update(caCertificate).digest('hex') : '';
    const cached = agents.get(key);
    if (cached) {
      agents.delete(key);
      agents.set(key, cached);
      return cached;
    }
    if (caCertificate) assertPemCertificate(caCertificate);
    if (agents.size >= MAX_CACHED_AGENTS) {
      const [oldestKey, oldest] = agents.entries().next().value!;
      agents.delete(oldestKey);
      // close() lets requests in flight on it finish.
      void oldest.close();
    }
    const base = buildConnector({
      lookup: options.lookup,
      timeout: options.timeoutMs,
      ...(caCertificate ? { ca: [...tls.rootCertificates, caCertificate] } : {}),
    });
    // IP literals never reach `lookup`: judge them here, before any socket exists.
    const connect: buildConnector.connector = (connectOptions, callback) => {
      if (!options.allowPrivateNetworks && isIpLiteral(connectOptions.hostname) && !isPublicAddress(connectOptions.hostname)) {
        callback(new AddressNotAllowedError(connectOptions.hostname), null);
        return;
      }
      base(connectOptions, callback);
    };
    const agent = new Agent({ connect, maxResponseSize: options.maxResponseBytes });
    agents.set(key, agent);
    return agent;
  }

  return {
    agentFor,
    async close() {
      const all = [...agents.values()];
      agents.clear();
      await Promise.all(all.map((agent) => agent.close()));
    },
  };
}
