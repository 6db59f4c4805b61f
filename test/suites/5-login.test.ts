// One test process for login, sessions, user tokens, the user cache and credential verification (see
// test/README.md, "Suites").
import '../integration/login.test.js';
import '../integration/login-hardening.test.js';
import '../integration/login-diagnoses.test.js';
import '../integration/sessions.test.js';
import '../integration/user-tokens.test.js';
import '../integration/user-cache.test.js';
import '../integration/credential-verification.test.js';
import '../integration/credential-leases.test.js';
