// The undici agents that carry every GitLab call: the SSRF guard at connect time (resolved names and IP
// literals), one agent per private CA, and the one response size cap.
import { createHash, X509Certificate } from 'node:crypto';
import type dns from 'node:dns';
import tls from 'node:tls';
import type { Agent, buildConnector } from 'undici';
import { AppError } from '../errors.js';
import { AddressNotAllowedError, isIpLiteral, isPublicAddress } from './address-guard.js';
import { loadUndici } from './undici.js';

/** One agent per CA; callers choose the CA, so the cache is bounded (least recently used goes first). */
const MAX_CACHED_AGENTS = 64;

/**
 * A CA certificate that is not a PEM certificate. A 400 `validation_failed` on its own; the route
 * that took the certificate names its request field (the GitLab client knows no HTTP fields).
 */
export class InvalidCaCertificateError extends AppError {
  constructor() {
    super('validation_failed', 'The CA certificate must be one or more PEM certificates (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----) and nothing else: no private key, no other text');
    this.name = 'InvalidCaCertificateError';
  }
}

/**
 * One PEM block (RFC 7468 §2, strict: base64 and white space between the lines): its label, and the block
 * whole. The body cannot cross a dash, so a run of BEGIN lines without an END costs one pass, not one scan
 * to the end of the text per BEGIN (a 64 KiB body held the event loop ~200 ms with `[\s\S]*?`). A block
 * with anything else inside stays outside text, and is refused as before.
 */
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]{1,40})-----[A-Za-z0-9+/=\s]*-----END \1-----/g;

/**
 * Refuses (InvalidCaCertificateError) a CA certificate text that is anything but PEM CERTIFICATE blocks
 * (RFC 7468) each holding a certificate Node can parse, with only white space around them, before any
 * connection uses it or it is stored: a pasted private key or stray text is never kept.
 */
export function assertPemCertificate(pem: string): void {
  const blocks = [...pem.matchAll(PEM_BLOCK)];
  const outside = pem.replace(PEM_BLOCK, '').trim();
  if (blocks.length === 0 || outside !== '' || blocks.some((block) => block[1] !== 'CERTIFICATE')) throw new InvalidCaCertificateError();
  for (const [block] of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      throw new InvalidCaCertificateError();
    }
  }
}

export interface AgentPoolOptions {
  /** The guarded lookup: refuses names that resolve to non-public addresses. */
  lookup: typeof dns.lookup;
  allowPrivateNetworks: boolean;
  timeoutMs: number;
  /** The one response size cap: bytes of a body, on the wire (and decoded, since only identity is accepted). */
  maxResponseBytes: number;
}

export interface AgentPool {
  /** The agent that trusts Node's roots plus the given CA; rejects with InvalidCaCertificateError for a non-PEM CA. */
  agentFor(caCertificate: string | null | undefined): Promise<Agent>;
  close(): Promise<void>;
}

/** Agents built on demand per CA, at most MAX_CACHED_AGENTS kept. */
export function createAgentPool(options: AgentPoolOptions): AgentPool {
  const agents = new Map<string, Agent>();

  async function agentFor(caCertificate: string | null | undefined): Promise<Agent> {
    // Before the lookup: nothing awaits between it and the insert, so concurrent first calls share one agent.
    const undici = await loadUndici();
    const key = caCertificate ? createHash('sha256').update(caCertificate).digest('hex') : '';
    const cached = agents.get(key);
    if (cached) {
      agents.delete(key);
      agents.set(key, cached);
      return cached;
    }
    if (caCertificate) assertPemCertificate(caCertificate);
    if (agents.size >= MAX_CACHED_AGENTS) {
      const eldest = agents.entries().next();
      if (eldest.done) throw new Error('agent pool: a full cache has no oldest entry');
      const [oldestKey, oldest] = eldest.value;
      agents.delete(oldestKey);
      // close() lets requests in flight on it finish.
      void oldest.close();
    }
    const base = undici.buildConnector({
      lookup: options.lookup,
      timeout: options.timeoutMs,
      // One TLS context per agent: given `ca` instead, every connection would parse Node's ~140 root
      // certificates again (~5 ms of CPU). allowPartialTrustChain (OpenSSL's X509_V_FLAG_PARTIAL_CHAIN,
      // Node >= 20.18): a pasted intermediate is a trust anchor, as it is for curl, so a GitLab sending
      // only its leaf works with it.
      ...(caCertificate ? { secureContext: tls.createSecureContext({ ca: [...tls.rootCertificates, caCertificate], allowPartialTrustChain: true }) } : {}),
    });
    // IP literals never reach `lookup`: judge them here, before any socket exists.
    const connect: buildConnector.connector = (connectOptions, callback) => {
      if (!options.allowPrivateNetworks && isIpLiteral(connectOptions.hostname) && !isPublicAddress(connectOptions.hostname)) {
        callback(new AddressNotAllowedError(connectOptions.hostname), null);
        return;
      }
      base(connectOptions, callback);
    };
    const agent = new undici.Agent({ connect, maxResponseSize: options.maxResponseBytes });
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
