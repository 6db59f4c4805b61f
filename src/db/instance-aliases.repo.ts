// Other URLs of a registered GitLab: which instance an alias URL stands for, which instance is the
// GitLab behind an OpenID issuer, and turning a fresh claim into an alias.
import type { Executor } from './types.js';

export interface RegisteredInstance {
  instanceId: string;
  /** The registered instance's URL. */
  canonicalUrl: string;
}

/** The instance `url` (normalised) is an alias of, or undefined. */
export async function findAliasedInstance(db: Executor, url: string): Promise<RegisteredInstance | undefined> {
  const row = await db
    .selectFrom('instance_aliases')
    .innerJoin('instances', 'instances.id', 'instance_aliases.instance_id')
    .select(['instances.id', 'instances.url'])
    .where('instance_aliases.url', '=', url)
    .where('instances.status', '!=', 'removed')
    .executeTakeFirst();
  return row && { instanceId: row.id, canonicalUrl: row.url };
}

/**
 * The ready instance registered at the issuer's own URL (`issuerUrl`, normalised) with that OpenID
 * `issuer`, other than `exceptId`; undefined when none. Only an instance reached at its issuer's URL
 * counts: anyone can make a URL they control claim any issuer, but not answer at the issuer's address.
 */
export async function findInstanceAtIssuer(db: Executor, issuer: string, issuerUrl: string, exceptId: string): Promise<RegisteredInstance | undefined> {
  const row = await db
    .selectFrom('instances')
    .select(['id', 'url'])
    .where('url', '=', issuerUrl)
    .where('openid_issuer', '=', issuer)
    .where('status', '=', 'ready')
    .where('id', '!=', exceptId)
    .executeTakeFirst();
  return row && { instanceId: row.id, canonicalUrl: row.url };
}

/**
 * Replaces the claimed, never-ready instance `claimedId` (still leased by `holder`, holding nothing on
 * GitLab) by an alias of `instanceId` at its URL. One statement. False when the claim holds resources
 * or is no longer ours: then nothing changed.
 */
export async function replaceClaimWithAlias(db: Executor, claim: { claimedId: string; holder: string; instanceId: string }): Promise<boolean> {
  const inserted = await db
    .with('claim', (qb) =>
      qb
        .deleteFrom('instances')
        .where('id', '=', claim.claimedId)
        .where('bootstrap_lease_holder', '=', claim.holder)
        .where('status', '!=', 'ready')
        .where('bot_user_id', 'is', null)
        .where('oauth_application_id', 'is', null)
        .returning('url'),
    )
    .insertInto('instance_aliases')
    .columns(['url', 'instance_id'])
    .expression((eb) => eb.selectFrom('claim').select((inner) => ['claim.url', inner.cast<string>(inner.val(claim.instanceId), 'uuid').as('instance_id')]))
    // An alias written meanwhile by a racing bootstrap of the same URL: it says the same.
    .onConflict((conflict) => conflict.column('url').doUpdateSet((eb) => ({ instance_id: eb.ref('excluded.instance_id') })))
    .returning('url')
    .executeTakeFirst();
  return inserted !== undefined;
}
