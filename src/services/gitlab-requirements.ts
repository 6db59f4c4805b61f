// What this service requires of a GitLab instance and of the admin token (see gitlab-facts.md §10).
export const MINIMUM_GITLAB_VERSION = '16.0';
export const ADMIN_TOKEN_SCOPES = ['api'] as const;
export const ADMIN_MODE_SCOPE = 'admin_mode';
