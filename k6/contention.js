// k6 scenario "contention" of load/scenarios.json: reservation and order storms on 5 hot products, one lock_type per run (LOCK_TYPE, default optimistic).
// k6 run k6/contention.js;  LOCK_TYPE=pessimistic k6 run k6/contention.js   (environment: k6/README.md)
import { options as scenarioOptions, discover, iteration, summary } from './lib/exbuy.js';

const SCENARIO = 'contention';

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
