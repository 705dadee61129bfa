// k6 scenario "mixed" of load/scenarios.json: 60 % reads, 40 % writes (the original's mixed.js).
// k6 run k6/mixed.js   (environment: k6/README.md)
import { options as scenarioOptions, discover, iteration, summary } from './lib/exbuy.js';

const SCENARIO = 'mixed';

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
