// k6 scenario "optimize" of load/scenarios.json: the same reads with the optimize flag off and on, drawn at random per request: results per operation and flag.
// k6 run k6/optimize.js   (environment: k6/README.md)
import { options as scenarioOptions, discover, iteration, summary } from './lib/exbuy.js';

const SCENARIO = 'optimize';

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
