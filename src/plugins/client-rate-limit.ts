// Per-client request limits on the public routes, counted in the database (so they hold across
// processes), with one key per IPv4 address or per IPv6 /64: a single end site gets a whole /64
// (RFC 6177), so counting exact IPv6 addresses would let one client rotate without limit.
import type { RateLimitPluginOptions } from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import ipaddr from 'ipaddr.js';
import { AppError } from '../errors.js';
import type { ServiceDeps } from '../services/deps.js';
import { databaseRateLimitStore } from './rate-limit-store.js';

/** The rate-limit key of a client address: IPv4 (IPv4-mapped IPv6 included) as is, IPv6 as its /64 (`2001:db8:1:2::/64`). */
export function clientKeyOf(ip: string): string {
  if (!ipaddr.isValid(ip)) return ip;
  const address = ipaddr.process(ip);
  if (address.kind() === 'ipv4') return address.toString();
  const prefix = (address as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16));
  return `${prefix.join(':')}::/64`;
}

/**
 * @fastify/rate-limit options for a route plugin: opt-in per route (`config.rateLimit`), counted per
 * route and client key in the database, refused with `429 rate_limited` and `Retry-After`.
 */
export function clientRateLimitOptions(deps: ServiceDeps): RateLimitPluginOptions {
  return {
    global: false,
    store: databaseRateLimitStore(deps),
    keyGenerator: (request) => `${request.routeOptions.url ?? request.url}:${clientKeyOf(request.ip)}`,
    errorResponseBuilder: (request, context) => {
      const retryAfter = Math.max(1, Math.ceil(context.ttl / 1000));
      return new AppError('rate_limited', `At most ${String(context.max)} calls per minute${isOnboarding(request) ? ' to bootstrap, preflight and register together' : ' to this route'} from one client (one IPv4 address or IPv6 /64); retry in ${String(retryAfter)} s`, { retryAfter });
    },
  };
}

/** One key for the three onboarding routes, so that they share one count. */
const onboardingKey = (request: FastifyRequest) => `onboarding:${clientKeyOf(request.ip)}`;

const isOnboarding = (request: FastifyRequest) => (request.routeOptions.config as { rateLimit?: { keyGenerator?: unknown } }).rateLimit?.keyGenerator === onboardingKey;

/**
 * The per-route rate limit of the onboarding routes (bootstrap, preflight, register): `max` calls a
 * minute per client across the three together (contract: BOOTSTRAP_RATE_LIMIT_PER_MINUTE counts
 * "bootstrap, preflight and register calls"), not `max` each.
 */
export function onboardingRateLimit(max: number) {
  return { max, timeWindow: 60_000, keyGenerator: onboardingKey };
}
