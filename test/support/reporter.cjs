// Spec output plus a stats file the runner reads (mocha's "N passing" is not a CI count).
const fs = require('node:fs');
const Mocha = require('mocha');
const { Spec } = Mocha.reporters;
const { EVENT_RUN_END } = Mocha.Runner.constants;

class StatsReporter extends Spec {
  constructor(runner, options) {
    super(runner, options);
    const file = options.reporterOptions && options.reporterOptions.stats;
    runner.once(EVENT_RUN_END, () => {
      if (file) fs.writeFileSync(file, JSON.stringify(runner.stats));
    });
  }
}
module.exports = StatsReporter;
