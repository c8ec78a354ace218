-- wrk script: POST /api/auth/login, cycling through the credentials of the
-- users run.sh registered (BENCH_CREDS: one "username password" a line),
-- each thread from its own starting point. Every login is a real argon2id
-- verification in authd, so every answer must be 200.
local path = os.getenv("BENCH_CREDS")
if path == nil or path == "" then
	error("BENCH_CREDS is not set")
end

local bodies = {}
for line in io.lines(path) do
	local user, pass = line:match("^(%S+) (%S+)$")
	if user ~= nil then
		bodies[#bodies + 1] = string.format('{"username":"%s","password":"%s"}', user, pass)
	end
end
if #bodies == 0 then
	error(path .. " holds no credentials")
end

local headers = { ["Content-Type"] = "application/json" }
local counter = 0

function setup(thread)
	counter = counter + 1
	thread:set("start", counter * 7)
end

function init(args)
	counter = (start or 0) % #bodies
end

function request()
	counter = counter % #bodies + 1
	return wrk.format("POST", "/api/auth/login", headers, bodies[counter])
end
