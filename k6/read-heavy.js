// k6 scenario "read-heavy" of load/scenarios.json: 80 % reads, 20 % writes (the original's read-heavy.js), optimized reads.
// k6 run k6/read-heavy.js   (environment: k6/README.md)
import { options as scenarioOptions, discover, iteration, summary } from './lib/exbuy.js';

const SCENARIO = 'read-heavy';

export const options = scenarioOptions(SCENARIO);

export function setup() {
  return discover(SCENARIO);
}

export default function (data) {
  iteration(data);
}

export function handleSummary(data) {
  return summary(SCENARIO, data);
}
