// GitLab's hook test API, as a Maintainer's "Test" button on Settings > Webhooks calls it. Sources
// (gitlabhq/gitlabhq): lib/api/hooks/trigger_test.rb (POST /projects/:id/hooks/:hook_id/test/:trigger,
// `trigger` one of ProjectHook.triggers, 201 or 422), app/services/test_hooks/project_service.rb (the data
// of the project's newest merge request), app/services/web_hook_service.rb (executed once, synchronously).
import type { Ctx, Reply, Route } from './http.js';
import { json, message } from './http.js';
import { deliver, eventBody, isDisabled, withProject, type FakeMergeRequest, type FakeProject } from './api-projects.js';

/** The hook test triggers GitLab accepts (ProjectHook.triggers); the fake sends the two our hooks subscribe to. */
const TEST_TRIGGERS = [
  'push_events', 'tag_push_events', 'issues_events', 'confidential_issues_events', 'note_events', 'confidential_note_events',
  'merge_requests_events', 'job_events', 'pipeline_events', 'wiki_page_events', 'releases_events', 'emoji_events', 'resource_access_token_events',
];

/** Merge request hook data as MergeRequest#to_hook_data builds it (Gitlab::HookData::MergeRequestBuilder), trimmed. */
function mergeRequestHookData(ctx: Ctx, project: FakeProject, mergeRequest: FakeMergeRequest, userId: number) {
  const user = ctx.fake.users.get(userId);
  return {
    event_type: 'merge_request',
    user: { id: userId, username: user?.username, name: user?.name },
    object_attributes: {
      iid: mergeRequest.iid, title: mergeRequest.title, state: 'opened', author_id: mergeRequest.authorId,
      source_branch: mergeRequest.sourceBranch, target_branch: mergeRequest.targetBranch,
      url: `${ctx.fake.issuer}/${project.pathWithNamespace}/-/merge_requests/${String(mergeRequest.iid)}`,
    },
  };
}

/**
 * POST /projects/:id/hooks/:hook_id/test/:trigger (Maintainer): TestHooks::ProjectService builds the
 * data from the project's newest record (422 "Ensure the project has merge requests." without one) and
 * WebHookService#execute delivers it once, synchronously ("Hook disabled" while disabled); 201
 * `{"message":"201 Created"}` (lib/api/helpers.rb created!) when the receiver answered 2xx, else 422 (GitLab's
 * message is the receiver's body or the connection error; the fake's names the status).
 * GitLab's web_hook_test rate limit (5 a minute, behind a feature flag) is not modelled.
 */
async function testHook(ctx: Ctx): Promise<Reply> {
  const found = withProject(ctx, 40);
  if (!found.ok) return found.reply;
  const hook = found.project.hooks.get(Number(ctx.match[2]));
  if (!hook) return message(404, '404 Not found');
  const trigger = ctx.match[3];
  if (!TEST_TRIGGERS.includes(trigger)) return json(400, { error: 'trigger does not have a valid value' });
  if (trigger === 'note_events') return message(422, 'Ensure the project has notes.');
  if (trigger !== 'merge_requests_events') return message(422, `The fake GitLab has no test data for ${trigger}`);
  const mergeRequest = found.project.mergeRequests.at(-1);
  if (!mergeRequest) return message(422, 'Ensure the project has merge requests.');
  if (isDisabled(ctx.fake, hook)) return message(422, 'Hook disabled');
  const data = mergeRequestHookData(ctx, found.project, mergeRequest, found.userId);
  const [delivery] = await deliver(ctx.fake, hook, (url) => url, 'merge_request', eventBody(found.project, 'merge_request', data), 0);
  if (typeof delivery.status === 'number' && delivery.status >= 200 && delivery.status < 300) return message(201, '201 Created');
  return message(422, delivery.status === 'network_error' ? 'Failed to open TCP connection' : `Hook executed with HTTP ${String(delivery.status)}`);
}

export const hookTestRoutes: Route[] = [
  { method: 'POST', pattern: /^\/api\/v4\/projects\/(\d+)\/hooks\/(\d+)\/test\/([a-z_]+)$/, handler: testHook },
];
