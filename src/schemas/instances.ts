// Request and response models of the public instance routes.
import Type, { type Static } from 'typebox';

export const InstanceUrlQuery = Type.Object(
  { url: Type.String({ description: 'The GitLab instance URL as the user typed it, e.g. `git.example.com/gitlab`', examples: ['https://gitlab.example.com'] }) },
  { additionalProperties: false },
);

export const LookupResult = Type.Object(
  {
    url: Type.String({ description: 'The normalised instance URL' }),
    status: Type.Union([Type.Literal('unregistered'), Type.Literal('bootstrapping'), Type.Literal('failed'), Type.Literal('ready')], {
      description: 'Where the instance stands: not set up, being set up, set-up failed, ready for login',
    }),
    next: Type.Union([Type.Literal('bootstrap'), Type.Literal('wait'), Type.Literal('login')], {
      description: 'What the frontend does next: ask for an admin token and bootstrap, wait and look up again, or send the user to loginUrl',
    }),
    instanceId: Type.Optional(Type.String({ format: 'uuid', description: 'The instance id, once a bootstrap has started' })),
    loginUrl: Type.Optional(Type.String({ description: 'Absolute URL of GET /auth/gitlab/start for this instance (ready only)' })),
  },
  { $id: 'LookupResult', additionalProperties: false, description: 'What the service knows of an instance URL' },
);

export type LookupResultBody = Static<typeof LookupResult>;
