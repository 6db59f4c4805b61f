// One test process for lookup, the lookup cache, the notification listener, the migrations at start-up, the lookup's named statements, the internal instance routes, checks, health, metrics, the
// OpenAPI document (see test/README.md, "Suites").
import '../integration/lookup.test.js';
import '../integration/lookup-cache.test.js';
import '../integration/notifications.test.js';
import '../integration/migrator.test.js';
import '../integration/named-statements.test.js';
import '../integration/internal-instances.test.js';
import '../integration/instance-check.test.js';
import '../integration/health.test.js';
import '../integration/metrics.test.js';
import '../integration/openapi.test.js';
