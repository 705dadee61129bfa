-- wrk script for bench/reserve.sh: POST /api/inventory/reserve?lock_type=$LOCK_TYPE {"product_id": <random hot id>, "quantity": 1}
-- and a per-status count of the responses (summed over threads in done()).
local ids = {}
for id in string.gmatch(os.getenv("HOT_IDS") or "", "%d+") do
  ids[#ids + 1] = id
end
local path = "/api/inventory/reserve?lock_type=" .. (os.getenv("LOCK_TYPE") or "optimistic")
local headers = { ["Content-Type"] = "application/json" }

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  codes = {}
  math.randomseed(os.time() * 100 + (tid or 0))
end

function request()
  local id = ids[math.random(#ids)]
  return wrk.format("POST", path, headers, '{"product_id":' .. id .. ',"quantity":1}')
end

function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("codes") or {}
    for status, n in pairs(c) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    parts[#parts + 1] = status .. "=" .. n
  end
  table.sort(parts)
  io.write(string.format("STATUS %s\n", table.concat(parts, " ")))
  io.write(string.format("LATENCY p50=%.2fms p99=%.2fms\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
