-- wrk script: GET <path prefix><random id in 1..MAX_ID><suffix> (MAX_ID=0: no id), from the environment (deterministic sequence).
local prefix = os.getenv("WRK_PREFIX") or "/api/products/"
local suffix = os.getenv("WRK_SUFFIX") or ""
local max_id = tonumber(os.getenv("WRK_MAX_ID") or "1000")
local counter = 0
math.randomseed(42)
request = function()
  counter = counter + 1
  if max_id == 0 then
    return wrk.format("GET", prefix .. suffix)
  end
  return wrk.format("GET", prefix .. math.random(1, max_id) .. suffix)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d errors=%d non2xx=%d (connect %d, read %d, write %d, timeout %d)\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, e.connect + e.read + e.write + e.timeout, e.status, e.connect, e.read, e.write, e.timeout))
end
