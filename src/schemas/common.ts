// Field types shared by several models.
import Type from 'typebox';

/**
 * A UUID as PostgreSQL's uuid type accepts it. Not `format: 'uuid'`: ajv-formats also accepts a
 * `urn:uuid:` prefix, which the database then rejects.
 */
export const Uuid = (description: string) => Type.String({ pattern: '^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$', description });

/** A GitLab token as it can travel in a header: printable ASCII, no spaces. */
export const GitlabTokenField = (description: string) => Type.String({ minLength: 1, maxLength: 1024, pattern: '^[\\x21-\\x7e]+$', writeOnly: true, description });
