// k6 scenario "write-heavy" of load/scenarios.json: 30 % reads, 70 % writes (the original's write-heavy.js): orders, bulk orders, reservations, their lifecycle, reviews, uploads.
// k6 run k6/write-heavy.js   (environment: k6/README.md)
import { options as scenarioOptions, discover, iteration, summary } from './lib/exbuy.js';

const SCENARIO = 'write-heavy';

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
