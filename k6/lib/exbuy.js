// ExBuy k6 library: every scenario script (k6/*.js) is a few lines over this module.
//
// The one definition of operations, weights and thresholds is load/scenarios.json (its $comment says what each
// operation, parameter and field means); this module turns it into k6 options, a set-up that discovers ids through
// the API, an iteration that sends one weighted operation, and an end-of-test summary. k6/README.md lists the
// environment variables.
import http from 'k6/http';
import { check, fail, sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';

// open() at the top level of a module resolves relative to that module (k6/lib/), in every k6 version.
export const def = JSON.parse(open('../../load/scenarios.json'));

function env(name, fallback) {
  const value = __ENV[name];
  return value === undefined || value === null || value === '' ? fallback : String(value);
}

export const BASE_URL = env('BASE_URL', 'http://localhost:8000').replace(/\/+$/, '');

const DURATION_RE = /^(\d+(\.\d+)?(ms|s|m|h))+$/;

function durationEnv(name, fallback) {
  const value = env(name, fallback);
  if (!DURATION_RE.test(value)) {
    throw new Error(`${name}=${value}: not a k6 duration (e.g. 30s, 1m, 1m30s, 500ms)`);
  }
  return value;
}

function intEnv(name, fallback, min) {
  const raw = env(name, undefined);
  if (raw === undefined) {
    return fallback;
  }
  if (!/^\d+$/.test(raw) || Number(raw) < min) {
    throw new Error(`${name}=${raw}: an integer >= ${min} is expected`);
  }
  return Number(raw);
}

function numberEnv(name, fallback) {
  const raw = env(name, undefined);
  if (raw === undefined) {
    return fallback;
  }
  const n = Number(raw);
  if (!isFinite(n) || n < 0) {
    throw new Error(`${name}=${raw}: a number >= 0 is expected`);
  }
  return n;
}

const FLAGS = ['true', 'false', 'random'];
const LOCK_TYPES = ['optimistic', 'pessimistic', 'versioned'];
const ORDERINGS = ['id', 'name', 'price', 'stock', 'created_at'];
const PARAMETERS = ['product', 'page', 'review_page', 'order', 'own_order', 'optimize', 'ordering', 'term',
  'lock_type', 'user', 'quantity', 'rating', 'text', 'items', 'orders'];
const TOKEN_RE = /\{([a-z_]+)\}/g;
const PAGE_SIZE = 20; // the contract's default page_size: {page} and {review_page} are pages of that size
const OWN_ORDERS_KEPT = 50;
const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'];

// ---------------------------------------------------------------------------------------------------------------
// The definition, checked once at init: a typo in scenarios.json fails here, not as odd traffic.

function tokensOf(value, into) {
  if (typeof value === 'string') {
    let m;
    TOKEN_RE.lastIndex = 0;
    while ((m = TOKEN_RE.exec(value)) !== null) {
      into[m[1]] = true;
    }
  } else if (Array.isArray(value)) {
    value.forEach((v) => tokensOf(v, into));
  } else if (value !== null && typeof value === 'object') {
    Object.keys(value).forEach((k) => tokensOf(value[k], into));
  }
  return into;
}

function compileOperation(name, op) {
  const needs = Object.keys(tokensOf([op.path, op.body || null], {}));
  needs.forEach((p) => {
    if (PARAMETERS.indexOf(p) < 0) {
      throw new Error(`load/scenarios.json: operation ${name} uses an unknown parameter {${p}}`);
    }
  });
  if (!Array.isArray(op.expect) || op.expect.length === 0) {
    throw new Error(`load/scenarios.json: operation ${name} has no expect list`);
  }
  return {
    name: name,
    method: op.method,
    path: op.path,
    template: op.path.split('?')[0],
    body: op.body,
    multipart: op.multipart,
    expect: op.expect,
    effect: op.effect,
    needs: needs,
    // 409 and the other expected statuses are not failures for http_req_failed: the contract answers them by design.
    callback: http.expectedStatuses(...op.expect),
  };
}

const OPERATIONS = {};
Object.keys(def.operations).forEach((name) => {
  OPERATIONS[name] = compileOperation(name, def.operations[name]);
});

export function scenario(name) {
  const sc = def.scenarios[name];
  if (!sc) {
    throw new Error(`load/scenarios.json has no scenario ${name} (it has: ${Object.keys(def.scenarios).join(', ')})`);
  }
  Object.keys(sc.weights).forEach((op) => {
    if (!OPERATIONS[op]) {
      throw new Error(`load/scenarios.json: scenario ${name} weights an unknown operation ${op}`);
    }
  });
  return sc;
}

function optimizeOf(sc) {
  const value = env('OPTIMIZE', sc.optimize || 'false');
  if (FLAGS.indexOf(value) < 0) {
    throw new Error(`OPTIMIZE=${value}: one of ${FLAGS.join(', ')}`);
  }
  return value;
}

function lockTypeOf(sc) {
  const value = env('LOCK_TYPE', sc.lock_type || 'optimistic');
  if (LOCK_TYPES.indexOf(value) < 0 && value !== 'random') {
    throw new Error(`LOCK_TYPE=${value}: one of ${LOCK_TYPES.join(', ')}, random`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------------
// Options.

/** The run's shape from the environment (k6/README.md): RATE set → open model (arrival rate), else ramping VUs. */
export function load() {
  const rateRaw = env('RATE', undefined);
  return {
    rate: rateRaw === undefined ? null : intEnv('RATE', 0, 1),
    maxVu: intEnv('MAX_VU', 50, 1),
    preVu: intEnv('PRE_VU', 0, 1),
    rampUp: durationEnv('RAMP_UP', '30s'),
    duration: durationEnv('DURATION', '1m'),
    rampDown: durationEnv('RAMP_DOWN', '30s'),
    thinkTime: numberEnv('THINK_TIME', 0),
  };
}

function isZero(duration) {
  return /^(0+(\.0+)?(ms|s|m|h))+$/.test(duration);
}

/** k6 options for one scenario of load/scenarios.json. */
export function options(name) {
  const sc = scenario(name);
  const run = load();
  optimizeOf(sc);
  lockTypeOf(sc);
  const thresholds = {};
  Object.keys(sc.thresholds || {}).forEach((metric) => {
    thresholds[metric] = sc.thresholds[metric].slice();
  });
  // Always-true thresholds on per-operation sub-metrics: k6 reports a sub-metric (here: latency per operation, and
  // per optimize flag where the scenario draws it) in the summary only when a threshold names it.
  const optimize = optimizeOf(sc);
  Object.keys(sc.weights).forEach((op) => {
    thresholds[`http_req_duration{op:${op}}`] = ['max>=0'];
    if (optimize === 'random' && OPERATIONS[op].needs.indexOf('optimize') >= 0) {
      thresholds[`http_req_duration{op:${op},optimize:true}`] = ['max>=0'];
      thresholds[`http_req_duration{op:${op},optimize:false}`] = ['max>=0'];
    }
  });
  const o = {
    thresholds: thresholds,
    summaryTrendStats: SUMMARY_TREND_STATS,
    setupTimeout: '120s',
  };
  if (run.rate !== null) {
    // Open model: iterations start at RATE per second whatever the latency; k6 reports dropped_iterations when
    // MAX_VU VUs are not enough to keep up.
    const pre = Math.min(run.preVu || run.maxVu, run.maxVu);
    o.scenarios = {};
    o.scenarios[name] = isZero(run.rampUp) && isZero(run.rampDown)
      ? {
        executor: 'constant-arrival-rate',
        rate: run.rate,
        timeUnit: '1s',
        duration: run.duration,
        preAllocatedVUs: pre,
        maxVUs: run.maxVu,
      }
      : {
        executor: 'ramping-arrival-rate',
        startRate: 0,
        timeUnit: '1s',
        preAllocatedVUs: pre,
        maxVUs: run.maxVu,
        stages: [
          { duration: run.rampUp, target: run.rate },
          { duration: run.duration, target: run.rate },
          { duration: run.rampDown, target: 0 },
        ],
      };
  } else {
    // Closed model. k6's --vus/--duration (or --stage) on the command line replace these stages.
    o.stages = [
      { duration: run.rampUp, target: run.maxVu },
      { duration: run.duration, target: run.maxVu },
      { duration: run.rampDown, target: 0 },
    ];
  }
  return o;
}

// ---------------------------------------------------------------------------------------------------------------
// Requests.

function randomHex(length) {
  let s = '';
  while (s.length < length) {
    s += Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  }
  return s.slice(0, length);
}

/** A fresh W3C trace context: version 00, random trace and parent ids (never all zero), sampled. */
export function traceparent() {
  let trace = randomHex(32);
  let span = randomHex(16);
  if (/^0+$/.test(trace)) {
    trace = '1' + trace.slice(1);
  }
  if (/^0+$/.test(span)) {
    span = '1' + span.slice(1);
  }
  return `00-${trace}-${span}-01`;
}

function headerOf(res, name) {
  const wanted = name.toLowerCase();
  const keys = Object.keys(res.headers || {});
  for (let i = 0; i < keys.length; i++) {
    if (keys[i].toLowerCase() === wanted) {
      return res.headers[keys[i]];
    }
  }
  return undefined;
}

function jsonOf(res) {
  const type = headerOf(res, 'Content-Type') || '';
  if (type.indexOf('json') < 0 || !res.body) {
    return null;
  }
  try {
    return res.json();
  } catch (e) {
    return null;
  }
}

/** Server-Timing: app;dur=1.234, db;dur=0.456;desc="2 queries" → { app: 1.234, db: 0.456 }. */
export function serverTiming(value) {
  const result = {};
  if (!value) {
    return result;
  }
  String(value).split(',').forEach((entry) => {
    const parts = entry.trim().split(';');
    const metric = parts[0].trim();
    for (let i = 1; i < parts.length; i++) {
      const kv = parts[i].trim().split('=');
      if (kv[0] === 'dur' && kv.length === 2 && isFinite(Number(kv[1]))) {
        result[metric] = Number(kv[1]);
      }
    }
  });
  return result;
}

function send(method, path, body, tags, callback) {
  const params = {
    headers: { traceparent: traceparent(), Accept: 'application/json' },
    tags: tags,
    responseCallback: callback,
  };
  let payload = null;
  if (body !== null && body !== undefined) {
    if (typeof body === 'string') {
      payload = body;
      params.headers['Content-Type'] = 'application/json';
    } else {
      payload = body; // an object with an http.file: k6 sends it as multipart/form-data
    }
  }
  return http.request(method, BASE_URL + path, payload, params);
}

// ---------------------------------------------------------------------------------------------------------------
// Set-up: everything an operation draws is discovered through the API, never assumed.

const SETUP_EXPECT = http.expectedStatuses(200);
const PROBE_EXPECT = http.expectedStatuses(200, 404);
const PRODUCT_PAGES = 5; // pages of 100 read to learn product ids, spread over the whole list
const IN_STOCK_PAGES = 3;
const ORDERS_WANTED = 32;
const ORDER_PROBES = 120;

function setupGet(path, what, callback) {
  const res = send('GET', path, null, { op: 'setup', name: `setup ${what}` }, callback || SETUP_EXPECT);
  return res;
}

function setupList(path, what) {
  const res = setupGet(path, what);
  const body = jsonOf(res);
  const ok = check(res, {
    [`setup: ${what} answers 200 with a page`]: (r) => r.status === 200 && body !== null
      && Array.isArray(body.results) && typeof body.count === 'number',
  });
  return ok ? body : null;
}

function pagesOf(count) {
  return Math.max(1, Math.ceil(count / PAGE_SIZE));
}

function discoverOrders() {
  const found = [];
  const seen = {};
  let probes = 0;
  const probe = (id) => {
    probes++;
    const res = setupGet(`/api/orders/${id}?optimize=true`, 'order probe', PROBE_EXPECT);
    const body = res.status === 200 ? jsonOf(res) : null;
    if (body !== null && body.id === id && !seen[id]) {
      seen[id] = true;
      found.push(id);
    }
    return res.status === 200;
  };
  // Exponential search for an upper bound (ids 1, 2, 4, …), then random ids below it, each verified.
  let hi = 1;
  while (probes < 24 && probe(hi)) {
    hi *= 2;
  }
  while (found.length < ORDERS_WANTED && probes < ORDER_PROBES && hi > 1) {
    probe(1 + Math.floor(Math.random() * (hi - 1)));
  }
  return found;
}

/** setup(): discovers products, pages and orders through the API; the result goes to every VU (as JSON). */
export function discover(name) {
  const sc = scenario(name);
  let info = null;
  const infoRes = setupGet('/api/info', 'info', PROBE_EXPECT);
  if (infoRes.status === 200) {
    info = jsonOf(infoRes);
  }

  const first = setupList('/api/products?page_size=100&optimize=true', 'products');
  if (first === null) {
    fail(`set-up: GET ${BASE_URL}/api/products did not answer a page: is ExBuy running there (BASE_URL)?`);
  }
  const productCount = first.count;
  const lastPage100 = Math.max(1, Math.ceil(productCount / 100));
  const products = [];
  const stockOf = {};
  const take = (page) => page.results.forEach((p) => {
    if (stockOf[p.id] === undefined) {
      products.push(p.id);
    }
    stockOf[p.id] = p.stock;
  });
  take(first);
  const pageNumbers = [];
  for (let i = 1; i < PRODUCT_PAGES && i < lastPage100; i++) {
    const page = 1 + Math.round((i * (lastPage100 - 1)) / (PRODUCT_PAGES - 1));
    if (page > 1 && pageNumbers.indexOf(page) < 0) {
      pageNumbers.push(page);
    }
  }
  pageNumbers.forEach((page) => {
    const body = setupList(`/api/products?page=${page}&page_size=100&optimize=true`, 'products');
    if (body !== null) {
      take(body);
    }
  });

  const inStock = [];
  for (let page = 1; page <= IN_STOCK_PAGES; page++) {
    const body = setupList(`/api/search/products?in_stock=true&page=${page}&page_size=100&optimize=true`, 'in-stock search');
    if (body === null) {
      break;
    }
    body.results.forEach((p) => {
      inStock.push(p.id);
      stockOf[p.id] = p.stock;
    });
    if (!body.next) {
      break;
    }
  }

  const reviews = setupList('/api/reviews?page_size=1&optimize=true', 'reviews');
  const reviewCount = reviews === null ? 0 : reviews.count;
  const orders = discoverOrders();

  let hot = null;
  if (sc.hot_products) {
    // The hot set: the in-stock products with the most stock among those discovered, so the storm lasts.
    hot = inStock.slice().sort((a, b) => (stockOf[b] - stockOf[a]) || (a - b)).slice(0, sc.hot_products);
  }
  if (products.length === 0 || (hot !== null && hot.length === 0)) {
    fail(`set-up: no ${hot !== null ? 'in-stock ' : ''}product discovered at ${BASE_URL}: seed the database first`);
  }
  return {
    scenario: name,
    base_url: BASE_URL,
    info: info,
    product_count: productCount,
    products: products,
    in_stock: inStock,
    hot_products: hot,
    product_pages: pagesOf(productCount),
    review_count: reviewCount,
    review_pages: pagesOf(reviewCount),
    orders: orders,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Iteration: one weighted operation.

const conflicts = new Counter('exbuy_conflicts');
const unexpected = new Counter('exbuy_unexpected_status');
const serverApp = new Trend('exbuy_server_app', true);
const serverDb = new Trend('exbuy_server_db', true);
const queryCount = new Trend('exbuy_query_count');

// Orders this VU placed (a k6 VU has its own copy of this module): {id, status}.
const ownOrders = [];

function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

function between(lo, hi) {
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

function productPool(data) {
  return data.hot_products || data.products;
}

const NEXT_STATUS = { pay: 'paid', ship: 'shipped', cancel: 'cancelled' };
const ALLOWED_FROM = { paid: ['pending'], shipped: ['paid'], cancelled: ['pending', 'paid'], delivered: ['shipped'] };

function canRun(op, data) {
  for (let i = 0; i < op.needs.length; i++) {
    const need = op.needs[i];
    if (need === 'order' && data.orders.length === 0) {
      return false;
    }
    if (need === 'own_order' && ownOrders.length === 0) {
      return false;
    }
    if ((need === 'product' || need === 'items' || need === 'orders') && productPool(data).length === 0) {
      return false;
    }
  }
  return true;
}

/** Weighted draw among the operations that can run now (an operation that cannot gives its weight to the others). */
export function pickOperation(sc, data) {
  const names = Object.keys(sc.weights);
  let total = 0;
  const runnable = [];
  names.forEach((name) => {
    const w = sc.weights[name];
    if (w > 0 && canRun(OPERATIONS[name], data)) {
      runnable.push(name);
      total += w;
    }
  });
  if (total === 0) {
    return null;
  }
  let r = Math.random() * total;
  for (let i = 0; i < runnable.length; i++) {
    r -= sc.weights[runnable[i]];
    if (r < 0) {
      return OPERATIONS[runnable[i]];
    }
  }
  return OPERATIONS[runnable[runnable.length - 1]];
}

function items(data) {
  const pool = productPool(data);
  const n = Math.min(between(1, 3), pool.length);
  const chosen = [];
  while (chosen.length < n) {
    const id = pick(pool);
    if (chosen.indexOf(id) < 0) {
      chosen.push(id);
    }
  }
  return chosen.map((id) => ({ product_id: id, quantity: between(1, 3) }));
}

function ownOrderFor(op) {
  const target = NEXT_STATUS[op.name] || (op.body && op.body.status);
  const from = ALLOWED_FROM[target] || [];
  const fitting = ownOrders.filter((o) => from.indexOf(o.status) >= 0);
  // Prefer an order the transition applies to; otherwise any own order (the contract answers 409, an expected status).
  return fitting.length > 0 ? pick(fitting) : pick(ownOrders);
}

function drawParameters(op, sc, data) {
  const p = {};
  op.needs.forEach((need) => {
    switch (need) {
      case 'product': p.product = pick(productPool(data)); break;
      case 'page': p.page = between(1, data.product_pages); break;
      case 'review_page': p.review_page = between(1, data.review_pages); break;
      case 'order': p.order = pick(data.orders); break;
      case 'own_order': p.own_order = ownOrderFor(op).id; break;
      case 'optimize': {
        const flag = optimizeOf(sc);
        p.optimize = flag === 'random' ? pick(['true', 'false']) : flag;
        break;
      }
      case 'ordering': p.ordering = (Math.random() < 0.5 ? '-' : '') + pick(ORDERINGS); break;
      case 'term': p.term = pick(def.search_terms); break;
      case 'lock_type': {
        const lock = lockTypeOf(sc);
        p.lock_type = lock === 'random' ? pick(LOCK_TYPES) : lock;
        break;
      }
      case 'user': p.user = between(1, 100000); break;
      case 'quantity': p.quantity = between(1, 3); break;
      case 'rating': p.rating = between(1, 5); break;
      case 'text': p.text = `k6 load review ${between(1, 1000000)}: ${pick(['great', 'fine', 'meh', 'solid', 'would buy again'])}`; break;
      case 'items': p.items = items(data); break;
      case 'orders': {
        const n = between(2, 5);
        p.orders = [];
        for (let i = 0; i < n; i++) {
          p.orders.push({ user_id: between(1, 100000), items: items(data) });
        }
        break;
      }
      default: throw new Error(`unknown parameter {${need}}`);
    }
  });
  return p;
}

function fillPath(path, p) {
  return path.replace(TOKEN_RE, (whole, name) => encodeURIComponent(String(p[name])));
}

function fillBody(value, p) {
  if (typeof value === 'string') {
    const whole = /^\{([a-z_]+)\}$/.exec(value);
    if (whole) {
      return p[whole[1]];
    }
    return value.replace(TOKEN_RE, (m, name) => String(p[name]));
  }
  if (Array.isArray(value)) {
    return value.map((v) => fillBody(v, p));
  }
  if (value !== null && typeof value === 'object') {
    const out = {};
    Object.keys(value).forEach((k) => {
      out[k] = fillBody(value[k], p);
    });
    return out;
  }
  return value;
}

function uploadBody(op) {
  const n = op.multipart.bytes;
  let text = '';
  const line = `exbuy k6 upload ${randomHex(16)}\n`;
  while (text.length < n) {
    text += line;
  }
  const body = {};
  body[op.multipart.field] = http.file(text.slice(0, n), 'k6-load.txt', 'text/plain');
  return body;
}

/** Whether a 2xx JSON body has the shape the contract gives that route. */
function shapeOk(op, p, sent, body) {
  if (body === null || typeof body !== 'object') {
    return false;
  }
  if (op.template === '/api/inventory/reserve') {
    return body.product_id === p.product && body.quantity === p.quantity && body.remaining_stock >= 0;
  }
  if (op.template === '/api/orders/bulk') {
    return body.created === sent.orders.length && Array.isArray(body.orders) && body.orders.length === sent.orders.length;
  }
  if (op.template === '/api/stats/top-products') {
    return Array.isArray(body.results);
  }
  if (op.method === 'GET' && (op.template.indexOf('{') < 0 || /\/reviews$/.test(op.template))) {
    return Array.isArray(body.results) && typeof body.count === 'number';
  }
  if (op.method === 'POST' && op.template === '/api/reviews') {
    return typeof body.id === 'number' && body.product === p.product && body.rating === p.rating;
  }
  if (op.method === 'PATCH' && sent && sent.status) {
    return body.status === sent.status;
  }
  if (op.multipart) {
    return typeof body.id === 'string' && body.size === op.multipart.bytes;
  }
  if (p.product !== undefined && op.method === 'GET') {
    return body.id === p.product;
  }
  if (p.order !== undefined) {
    return body.id === p.order && Array.isArray(body.items);
  }
  if (sent && Array.isArray(sent.items)) {
    return typeof body.id === 'number' && Array.isArray(body.items) && body.items.length === sent.items.length;
  }
  return body.id !== undefined;
}

function remember(op, p, sent, res, body) {
  if (res.status < 200 || res.status >= 300 || body === null) {
    return;
  }
  const add = (order) => {
    if (order && typeof order.id === 'number') {
      ownOrders.push({ id: order.id, status: order.status || 'pending' });
      if (ownOrders.length > OWN_ORDERS_KEPT) {
        ownOrders.shift();
      }
    }
  };
  if (op.template === '/api/orders' && op.method === 'POST') {
    add(body);
  } else if (op.template === '/api/orders/bulk') {
    (body.orders || []).forEach(add);
  } else if (p.own_order !== undefined) {
    ownOrders.forEach((o) => {
      if (o.id === p.own_order && typeof body.status === 'string') {
        o.status = body.status;
      }
    });
  }
}

/** Sends one operation of the scenario and checks its answer; returns the response (null when nothing could run). */
export function runOperation(op, sc, data) {
  const p = drawParameters(op, sc, data);
  const path = fillPath(op.path, p);
  let sent = null;
  let payload = null;
  if (op.multipart) {
    payload = uploadBody(op);
  } else if (op.body) {
    sent = fillBody(op.body, p);
    payload = JSON.stringify(sent);
  }
  const tags = { op: op.name, name: op.template };
  if (p.optimize !== undefined) {
    tags.optimize = p.optimize;
  }
  if (p.lock_type !== undefined) {
    tags.lock_type = p.lock_type;
  }
  const res = send(op.method, path, payload, tags, op.callback);
  const body = jsonOf(res);
  const success = res.status >= 200 && res.status < 300;
  const checks = {};
  checks[`${op.name}: status in [${op.expect.join(',')}]`] = (r) => op.expect.indexOf(r.status) >= 0;
  if (success) {
    checks[`${op.name}: body shape`] = () => shapeOk(op, p, sent, body);
  }
  check(res, checks, { op: op.name });

  const metricTags = { op: op.name };
  if (p.optimize !== undefined) {
    metricTags.optimize = p.optimize;
  }
  if (res.status === 409) {
    conflicts.add(1, metricTags);
  }
  if (op.expect.indexOf(res.status) < 0) {
    unexpected.add(1, { op: op.name, status: String(res.status) });
  }
  const timing = serverTiming(headerOf(res, 'Server-Timing'));
  if (timing.app !== undefined) {
    serverApp.add(timing.app, metricTags);
  }
  if (timing.db !== undefined) {
    serverDb.add(timing.db, metricTags);
  }
  const queries = Number(headerOf(res, 'X-Query-Count'));
  if (headerOf(res, 'X-Query-Count') !== undefined && isFinite(queries)) {
    queryCount.add(queries, metricTags);
  }
  remember(op, p, sent, res, body);
  return res;
}

/** The default function of a scenario script: one weighted operation per iteration. */
export function iteration(data) {
  const sc = scenario(data.scenario);
  const op = pickOperation(sc, data);
  if (op === null) {
    fail(`scenario ${data.scenario}: no operation can run (nothing discovered at set-up)`);
  }
  const res = runOperation(op, sc, data);
  const run = load();
  if (run.thinkTime > 0 && run.rate === null) {
    sleep(run.thinkTime);
  }
  return res;
}

// ---------------------------------------------------------------------------------------------------------------
// End-of-test summary (k6-summary's jslib is remote: a short text of our own).

function fmt(value, isTime) {
  if (typeof value !== 'number' || !isFinite(value)) {
    return '-';
  }
  if (isTime) {
    return value >= 1000 ? `${(value / 1000).toFixed(2)}s` : `${value.toFixed(2)}ms`;
  }
  return Number.isInteger(value) ? String(value) : value.toFixed(4);
}

function metricLine(name, m) {
  const v = m.values || {};
  const time = m.contains === 'time';
  switch (m.type) {
    case 'trend':
      return `${name}: avg=${fmt(v.avg, time)} med=${fmt(v.med, time)} p(95)=${fmt(v['p(95)'], time)} `
        + `p(99)=${fmt(v['p(99)'], time)} max=${fmt(v.max, time)}${v.count !== undefined ? ` n=${v.count}` : ''}`;
    case 'rate':
      return `${name}: ${fmt((v.rate || 0) * 100, false)}% (${v.passes || 0} of ${(v.passes || 0) + (v.fails || 0)})`;
    case 'counter':
      return `${name}: ${fmt(v.count, false)} (${fmt(v.rate, false)}/s)`;
    default:
      return `${name}: ${fmt(v.value, false)}`;
  }
}

function allChecks(group, into) {
  (group && group.checks ? group.checks : []).forEach((c) => into.push(c));
  (group && group.groups ? group.groups : []).forEach((g) => allChecks(g, into));
  return into;
}

/** A short text summary: thresholds, checks, the main metrics, then latency per operation. */
export function textSummary(name, data, jsonPath) {
  const metrics = (data && data.metrics) || {};
  const lines = [];
  lines.push(`ExBuy k6 scenario ${name} against ${BASE_URL}`);
  const sc = def.scenarios[name];
  if (sc && sc.description) {
    lines.push(`  ${sc.description}`);
  }
  const thresholdLines = [];
  Object.keys(metrics).sort().forEach((metric) => {
    const t = metrics[metric].thresholds || {};
    Object.keys(t).forEach((expr) => {
      if (expr !== 'max>=0') {
        thresholdLines.push(`  ${t[expr].ok ? 'ok  ' : 'FAIL'} ${metric} ${expr}`);
      }
    });
  });
  if (thresholdLines.length > 0) {
    lines.push('thresholds:');
    thresholdLines.forEach((l) => lines.push(l));
  }
  const checks = allChecks(data && data.root_group, []);
  const failing = checks.filter((c) => c.fails > 0);
  const passes = checks.reduce((s, c) => s + c.passes, 0);
  const fails = checks.reduce((s, c) => s + c.fails, 0);
  lines.push(`checks: ${passes} passed, ${fails} failed`);
  failing.forEach((c) => lines.push(`  FAIL ${c.name}: ${c.fails} of ${c.passes + c.fails}`));
  ['http_reqs', 'iterations', 'http_req_failed', 'http_req_duration', 'exbuy_server_app', 'exbuy_server_db',
    'exbuy_query_count', 'exbuy_conflicts', 'exbuy_unexpected_status', 'dropped_iterations', 'vus_max'].forEach((metric) => {
    if (metrics[metric]) {
      lines.push(metricLine(metric, metrics[metric]));
    }
  });
  const perOp = Object.keys(metrics).filter((m) => m.indexOf('http_req_duration{op:') === 0).sort();
  if (perOp.length > 0) {
    lines.push('per operation (http_req_duration):');
    perOp.forEach((m) => lines.push(`  ${metricLine(m.slice('http_req_duration'.length), metrics[m])}`));
  }
  lines.push(`result: ${jsonPath}`);
  return lines.join('\n') + '\n';
}

/** handleSummary(): the short text on stdout and the whole summary as JSON (SUMMARY_JSON, default results/). */
export function summary(name, data) {
  const path = env('SUMMARY_JSON', `results/k6-${name}-summary.json`);
  const run = load();
  const result = {
    exbuy: {
      scenario: name,
      base_url: BASE_URL,
      model: run.rate !== null ? 'arrival-rate' : 'vus',
      rate: run.rate,
      max_vu: run.maxVu,
      ramp_up: run.rampUp,
      duration: run.duration,
      ramp_down: run.rampDown,
      optimize: optimizeOf(scenario(name)),
      lock_type: lockTypeOf(scenario(name)),
      scenarios_version: def.version,
    },
  };
  Object.keys(data || {}).forEach((k) => {
    result[k] = data[k];
  });
  const out = { stdout: textSummary(name, data, path) };
  out[path] = JSON.stringify(result, null, 2);
  return out;
}
