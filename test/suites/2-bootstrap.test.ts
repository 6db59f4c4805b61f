// One test process for the bootstrap: set-up, errors, diagnoses, the bot account, the OAuth application,
// markers, identity (see test/README.md, "Suites").
import '../integration/bootstrap.test.js';
import '../integration/bootstrap-errors.test.js';
import '../integration/bootstrap-diagnoses.test.js';
import '../integration/bootstrap-bot-account.test.js';
import '../integration/bootstrap-oauth-application.test.js';
import '../integration/bootstrap-markers.test.js';
import '../integration/bootstrap-identity.test.js';
