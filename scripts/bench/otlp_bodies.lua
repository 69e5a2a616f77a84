-- wrk script: POST pre-encoded OTLP protobuf bodies to /v1/traces, cycling through them.
--
--   wrk -t2 -c8 -d10s --latency --timeout 10s -s scripts/bench/otlp_bodies.lua \
--       http://127.0.0.1:PORT -- DIR THREADS
--
-- DIR holds the bodies 00000.pb, 00001.pb, … (`store_bench --write-bodies`); THREADS
-- must equal wrk's -t. Thread k sends bodies k, k+THREADS, k+2·THREADS, … in turn and
-- starts over after its last, so no two threads send the same body and a run shorter
-- than one pass sends every span at most once. Each request carries
-- `Content-Type: application/x-protobuf`.
--
-- Every answer that is not 2xx is counted; at the end one line
-- `wrk-json {...}` on stdout gives requests, 2xx answers, non-2xx answers, socket
-- errors, bodies loaded, seconds and the latency percentiles (ms). Any non-2xx answer or socket error makes wrk exit with status 1 after
-- a message on stderr.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local dir, nthreads = args[1], tonumber(args[2])
  if not dir or not nthreads then
    error("usage: wrk ... -s otlp_bodies.lua URL -- DIR THREADS")
  end
  requests = {}
  local i = tid
  while true do
    local f = io.open(string.format("%s/%05d.pb", dir, i), "rb")
    if not f then
      break
    end
    local body = f:read("*a")
    f:close()
    requests[#requests + 1] =
      wrk.format("POST", "/v1/traces", { ["Content-Type"] = "application/x-protobuf" }, body)
    i = i + nthreads
  end
  if #requests == 0 then
    error(string.format("no bodies in %s for thread %d (is it %s/%05d.pb?)", dir, tid, dir, tid))
  end
  nbodies = #requests
  next_request = 1
  ok = 0
  bad = 0
  first_bad = ""
end

function request()
  local r = requests[next_request]
  next_request = next_request % nbodies + 1
  return r
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    bad = bad + 1
    if first_bad == "" then
      first_bad = string.format("%d %s", status, string.sub(body or "", 1, 200))
    end
  end
end

function done(summary, latency, _)
  local total_ok, total_bad, first, bodies = 0, 0, "", 0
  for _, t in ipairs(threads) do
    total_ok = total_ok + t:get("ok")
    total_bad = total_bad + t:get("bad")
    bodies = bodies + t:get("nbodies")
    if first == "" then
      first = t:get("first_bad")
    end
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'wrk-json {"requests": %d, "ok": %d, "non2xx": %d, "socket_errors": %d, "bodies": %d, '
      .. '"seconds": %.3f, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\n',
    summary.requests, total_ok, total_bad, socket_errors, bodies, seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000
  ))
  io.stdout:flush()
  if total_bad > 0 or socket_errors > 0 then
    io.stderr:write(string.format(
      "otlp_bodies.lua: FAILED: %d non-2xx answers (first: %s), socket errors: connect %d, read %d, write %d, timeout %d\n",
      total_bad, first, e.connect, e.read, e.write, e.timeout
    ))
    os.exit(1)
  end
end
