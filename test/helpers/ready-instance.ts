// A ready instance without the bootstrap: the OAuth application made directly on the fake GitLab and
// the instances row written as the bootstrap leaves it. Also a cookie-carrying "browser" for app.inject.
import type { App } from '../../src/app.js';
import { instanceCallbackUrl } from '../../src/auth-paths.js';
import type { Instance } from '../../src/domain/types.js';
import type { FakeApplication, FakeGitlab } from '../fake-gitlab/index.js';
import { insertRows } from './rows.js';

export const LOGIN_SCOPES = 'api read_user openid email';

/**
 * `redirect`: 'shared' (default) registers the old shared callback, as applications created before
 * per-instance redirect URIs; 'own' the instance's own redirect URI, as the bootstrap does now.
 */
export async function createReadyInstance(app: App, fake: FakeGitlab, redirect: 'shared' | 'own' = 'shared'): Promise<{ instance: Instance; application: FakeApplication }> {
  const redirectUri = redirect === 'own' ? instanceCallbackUrl(app.deps.config.publicUrl, fake.url) : app.deps.config.callbackUrl;
  const application = fake.createApplication({ name: 'gitlab-connect', redirectUri, scopes: LOGIN_SCOPES.split(' '), confidential: true });
  const [instance] = await insertRows(app.deps.db, 'instances', {
    url: fake.url,
    status: 'ready',
    oauthApplicationId: application.id,
    oauthClientId: application.uid,
    oauthClientSecretSealed: app.deps.sealer.seal(application.secret, 'oauth_client_secret'),
    oauthScopes: LOGIN_SCOPES,
    oauthRedirectUri: redirectUri,
  });
  return { instance, application };
}

export interface SetCookie {
  name: string;
  value: string;
  path?: string;
  maxAge?: number;
  expires?: Date;
  httpOnly?: boolean;
  secure?: boolean;
  sameSite?: string;
}

/** A browser's cookie jar: remembers what the app set, sends it back (path ignored: tests choose routes). */
export class Browser {
  readonly cookies = new Map<string, string>();

  remember(setCookies: SetCookie[]): void {
    for (const cookie of setCookies) {
      const expired = cookie.maxAge === 0 || (cookie.expires !== undefined && cookie.expires.getTime() <= 0);
      if (expired || cookie.value === '') this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
  }

  get cookieObject(): Record<string, string> {
    return Object.fromEntries(this.cookies);
  }

  async get(app: App, url: string, headers: Record<string, string> = {}) {
    const response = await app.inject({ method: 'GET', url, cookies: this.cookieObject, headers });
    this.remember(response.cookies);
    return response;
  }
}

/** Follows GitLab's authorize redirect as the browser would (the fake answers with a 302 to the callback). */
export async function authorizeOnFake(location: string): Promise<Response> {
  return fetch(location, { redirect: 'manual' });
}

/** The app-relative path of an absolute callback URL. */
export function pathOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
}

/**
 * A complete login in `browser`: start on `app`, approve on the fake as `gitlabUserId`, callback on
 * `callbackApp` (default the same app). Returns the callback answer and the session token.
 */
export async function login(
  browser: Browser,
  app: App,
  fake: FakeGitlab,
  instanceId: string,
  options: { gitlabUserId: number; returnTo?: string; callbackApp?: App },
) {
  const query = new URLSearchParams({ instance: instanceId, ...(options.returnTo ? { returnTo: options.returnTo } : {}) });
  const start = await browser.get(app, `/auth/gitlab/start?${String(query)}`);
  if (start.statusCode !== 302) throw new Error(`start answered ${String(start.statusCode)}: ${start.body}`);
  fake.setBrowserUser(options.gitlabUserId);
  const authorized = await authorizeOnFake(start.headers.location as string);
  const callbackUrl = authorized.headers.get('location') as string;
  const callback = await browser.get(options.callbackApp ?? app, pathOf(callbackUrl));
  return { start, callbackUrl, callback, sessionToken: browser.cookies.get('gc_session') };
}
