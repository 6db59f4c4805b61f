// The login routes' paths, in one place: the routes, the login URL handed out, the OAuth callback URL
// registered on GitLab and the login binding cookie's scope all derive from them.

export const AUTH_PATHS = {
  /** Everything under it sees the login binding cookie. */
  loginScope: '/auth/gitlab',
  start: '/auth/gitlab/start',
  callback: '/auth/gitlab/callback',
  logout: '/auth/logout',
} as const;
