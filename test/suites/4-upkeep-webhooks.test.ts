// One test process for the upkeep, repositories and webhooks (see test/README.md, "Suites").
import '../integration/upkeep.test.js';
import '../integration/upkeep-shutdown.test.js';
import '../integration/repositories.test.js';
import '../integration/webhook-feed.test.js';
