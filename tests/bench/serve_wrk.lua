-- The `wrk` driver of tests/bench/serve.ts (see there): one wrk thread per user and replica,
-- each with the user's share of connections to its replica, so `-t users*replicas -c
-- users*concurrency` keeps exactly `concurrency` calls in flight per user, spread evenly over the
-- replicas. wrk is written in C, so the load generator takes almost none of the CPU the replicas
-- and the emulator share.
--
-- Environment: MCS_WRK_REPLICAS (host:port,...; setup() runs before any argument is seen) and
-- MCS_WRK_OUT (the file the result goes to, one JSON line). Arguments after `--`: <file of user
-- tokens> <their first second> <path> <JSON body>.

local threads = {}
local next_id = 0
local replicas = nil

local function split(s, sep)
  local out = {}
  for part in string.gmatch(s, "([^" .. sep .. "]+)") do out[#out + 1] = part end
  return out
end

function setup(thread)
  replicas = replicas or split(os.getenv("MCS_WRK_REPLICAS"), ",")
  local r = replicas[(next_id % #replicas) + 1]
  local host, port = r:match("^(.*):(%d+)$")
  thread.addr = wrk.lookup(host, port)[1]
  thread:set("user", math.floor(next_id / #replicas))
  thread:set("hostport", r)
  next_id = next_id + 1
  threads[#threads + 1] = thread
end

function init(args)
  -- args[1]: a line per user holding that user's tokens, one per second from args[2] (Unix
  -- seconds), as Open WebUI mints a fresh one per request; a request sends the current second's.
  local line_no = 0
  local mine = nil
  for line in io.lines(args[1]) do
    if line_no == user then mine = line end
    line_no = line_no + 1
  end
  base = tonumber(args[2])
  errors = 0
  requests_by_second = {}
  for token in string.gmatch(mine, "%S+") do
    requests_by_second[#requests_by_second + 1] = wrk.format("POST", args[3], {
      ["Host"] = hostport,
      ["content-type"] = "application/json",
      ["x-openwebui-user-jwt"] = token,
    }, args[4])
  end
end

function request()
  local k = os.time() - base + 1
  if k > #requests_by_second then k = #requests_by_second end
  return requests_by_second[k]
end

-- A call counts when it is a 200 holding the search's messages (not a sign-in step, not an error).
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"messages":[', 1, true) then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("errors") end
  local e = summary.errors
  local out = assert(io.open(os.getenv("MCS_WRK_OUT"), "w"))
  out:write(string.format(
    '{"calls":%d,"durationUs":%d,"badBodies":%d,"socketErrors":%d,"statusErrors":%d,' ..
      '"timeouts":%d,"p50Us":%d,"p95Us":%d,"p99Us":%d,"maxUs":%d}\n',
    summary.requests, summary.duration, bad, e.connect + e.read + e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
  out:close()
end
