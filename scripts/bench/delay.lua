-- wrk script: each connection waits WRK_DELAY_MS between its requests, so a
-- run offers roughly connections / (delay + latency) requests per second.
-- Used by run.py's span-accounting runs to find where span loss begins.
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0")

function delay()
  return delay_ms
end
