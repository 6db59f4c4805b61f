// The purpose of every sealed column. A purpose is bound into the ciphertext, so a value opens only for
// the column it was sealed for. The strings are part of the stored data: never change one.

export const SEAL_BOT_TOKEN = 'bot_token';
export const SEAL_OAUTH_CLIENT_SECRET = 'oauth_client_secret';
export const SEAL_USER_ACCESS_TOKEN = 'user_access_token';
export const SEAL_USER_REFRESH_TOKEN = 'user_refresh_token';
export const SEAL_PKCE_VERIFIER = 'pkce_verifier';
