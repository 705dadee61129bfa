-- wrk script: one request per call built from templates in the environment, with random numbers drawn per request.
--   WRK_PATH    path and query, e.g. "/api/products?page={1}&optimize=true" (default /api/health)
--   WRK_RANGES  comma-separated ranges "lo-hi" (or "hi" for 1-hi): {1} is drawn from the first, {2} from the second, ...
--   WRK_METHOD  GET (default) or POST; WRK_BODY  a JSON body template with the same placeholders (POST)
-- The sequence is deterministic (seed 42), so every server measured with the same templates gets the same requests.
local path = os.getenv("WRK_PATH") or "/api/health"
local method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body == "" then body = nil end
local ranges = {}
for token in string.gmatch(os.getenv("WRK_RANGES") or "", "[^,]+") do
  local lo, hi = string.match(token, "^%s*(%d+)-(%d+)%s*$")
  if not lo then lo, hi = 1, string.match(token, "^%s*(%d+)%s*$") end
  lo, hi = tonumber(lo), tonumber(hi)
  if not hi or lo > hi then error("WRK_RANGES: '" .. token .. "' is not lo-hi with lo <= hi") end
  ranges[#ranges + 1] = { lo, hi }
end
local headers = {}
if body then headers["Content-Type"] = "application/json" end
math.randomseed(42)

local function fill(template, values)
  return (string.gsub(template, "{(%d+)}", function(i) return values[tonumber(i)] end))
end

request = function()
  if #ranges == 0 then
    return wrk.format(method, path, headers, body)
  end
  local values = {}
  for i, r in ipairs(ranges) do values[i] = tostring(math.random(r[1], r[2])) end
  return wrk.format(method, fill(path, values), headers, body and fill(body, values) or nil)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d errors=%d non2xx=%d (connect %d, read %d, write %d, timeout %d)\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, e.connect + e.read + e.write + e.timeout, e.status, e.connect, e.read, e.write, e.timeout))
end
