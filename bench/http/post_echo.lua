-- wrk script: POST /api/health/<daemon>/echo with a small JSON body and a
-- bearer token, the authenticated gateway -> daemon -> gateway path without
-- a database query. The token comes from the environment (BENCH_TOKEN);
-- run.sh mints it from the stack's token.key.
local token = os.getenv("BENCH_TOKEN")
if token == nil or token == "" then
	error("BENCH_TOKEN is not set")
end

wrk.method = "POST"
wrk.body = '{"bench":"wrk","n":1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
