// One test process for onboarding around the bootstrap: resume, bounds, secrets, retention, SSRF,
// preflight, register (see test/README.md, "Suites").
import '../integration/bootstrap-resume.test.js';
import '../integration/bootstrap-bounds.test.js';
import '../integration/bootstrap-secrets.test.js';
import '../integration/bootstrap-retention.test.js';
import '../integration/bootstrap-ssrf.test.js';
import '../integration/preflight.test.js';
import '../integration/register.test.js';
