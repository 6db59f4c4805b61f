// One test process for the unit tests and the fake GitLab's own (see test/README.md, "Suites").
import '../unit/address-ranges.test.js';
import '../unit/auth-paths.test.js';
import '../unit/build-names.test.js';
import '../unit/coherent-cache.test.js';
import '../unit/config.test.js';
import '../unit/database-faults.test.js';
import '../unit/error-mapping.test.js';
import '../unit/gitlab-http.test.js';
import '../unit/instance-url.test.js';
import '../unit/migrations.test.js';
import '../unit/readiness-route.test.js';
import '../unit/sealer.test.js';
import '../unit/suggest.test.js';
import '../unit/suites.test.js';
import '../unit/time.test.js';
import '../unit/troubleshooting.test.js';
import '../fake-gitlab/fake-gitlab.test.js';
