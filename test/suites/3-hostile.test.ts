// One test process for hostile callers and GitLab answers, HTTP errors, rate limits, database faults (see
// test/README.md, "Suites").
import '../integration/hostile-callers.test.js';
import '../integration/hostile-answers.test.js';
import '../integration/gitlab-malformed-answers.test.js';
import '../integration/gitlab-decompression-bomb.test.js';
import '../integration/gitlab-secret-echo.test.js';
import '../integration/gitlab-instance-cap.test.js';
import '../integration/http-errors.test.js';
import '../integration/errors.test.js';
import '../integration/client-rate-limit.test.js';
import '../integration/database-faults.test.js';
