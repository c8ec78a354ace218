-- wrk script: requests at a fixed pace instead of back to back. Each
-- connection waits BENCH_DELAY_MS before each request, so that c
-- connections send about c * 1000 / BENCH_DELAY_MS requests a second and
-- the machine is not saturated: the latency measured is the service's,
-- not a queue's. wrk's latency excludes the delay.
local d = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if d == nil or d < 0 then
	error("BENCH_DELAY_MS is not set")
end

function delay()
	return d
end
