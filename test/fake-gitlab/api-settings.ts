// REST route for the instance's application settings (admin only): GET /application/settings.
import { requireAdmin } from './auth.js';
import type { Ctx, Reply, Route } from './http.js';
import { json } from './http.js';

const API = '/api/v4';

/**
 * GET /application/settings (lib/api/settings.rb: `authenticated_as_admin!`, so 403 for anyone else;
 * entity lib/api/entities/application_setting.rb exposes every visible attribute, EE adds its own in
 * ee/lib/ee/api/entities/application_setting.rb). Only the settings the fake models are answered, under
 * GitLab's names: `enforce_terms`, `require_admin_approval_after_user_signup`, `new_user_signups_cap`
 * (EE, null: none) and `max_personal_access_token_lifetime` (EE, days, null: none set).
 */
function getSettings(ctx: Ctx): Reply {
  const result = requireAdmin(ctx);
  if (!result.ok) return result.reply;
  const { fake } = ctx;
  return json(200, {
    id: 1,
    signup_enabled: true,
    enforce_terms: fake.termsEnforced,
    require_admin_approval_after_user_signup: fake.requireAdminApproval,
    new_user_signups_cap: fake.userCap,
    max_personal_access_token_lifetime: fake.maxTokenLifetimeSet ? fake.maxTokenLifetimeDays : null,
  });
}

export const settingsRoutes: Route[] = [{ method: 'GET', pattern: new RegExp(`^${API}/application/settings$`), handler: getSettings }];
