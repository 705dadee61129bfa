// k6 scenario "read-only" of load/scenarios.json: reads only, optimize on or off at random per request (the original's read-only.js).
// k6 run k6/read-only.js   (environment: k6/README.md)
import { options as scenarioOptions, discover, iteration, summary } from './lib/exbuy.js';

const SCENARIO = 'read-only';

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
