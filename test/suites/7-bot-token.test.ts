// One test process for the bot token route, its rotation and lifetime (see test/README.md, "Suites").
import '../integration/bot-token.test.js';
import '../integration/bot-token-rotate.test.js';
import '../integration/bot-token-lifetime.test.js';
