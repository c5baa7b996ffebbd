-- wrk script of deploy/bench/webhooks: replays pre-signed webhook requests at a fixed rate.
--   wrk -t T -c C -d D -s webhooks.lua URL -- REQDIR RATE T
-- Thread i sends the records of REQDIR/thread-i.req (written by webhook_payloads.py: `<length>\n<raw
-- HTTP request>` each) in order, so no two threads share a delivery id except by design.
--
-- Pacing (wrk itself does not pace): each thread owns a schedule of send slots RATE/T per second
-- apart, measured on CLOCK_MONOTONIC through LuaJIT's ffi. A connection that becomes free takes the
-- thread's next slot and waits for it (delay()); if the slot has already passed it sends at once.
-- wrk times a request from the moment it is written, so time spent waiting for a free connection
-- would be hidden (coordinated omission): every send that leaves more than 50 ms after its slot is
-- counted as `late`, and the caller treats late sends like latencies over 50 ms.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } slipway_bench_timespec;
int clock_gettime(int clock, slipway_bench_timespec *tp);
]]
local ts = ffi.new("slipway_bench_timespec")
local function now_ms()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}
function setup(thread)
    table.insert(threads, thread)
    thread:set("id", #threads)
end

-- per thread (each wrk thread has its own Lua state)
sent, late, max_lag_ms, exhausted, ok, non2xx, duplicates, first_bad = 0, 0, 0, 0, 0, 0, 0, ""
local file, interval, start, slot

function init(args)
    reqdir, rate, nthreads = args[1], tonumber(args[2]), tonumber(args[3])
    interval = 1000 * nthreads / rate
    slot = 0
end

local function open()
    if not file then file = assert(io.open(reqdir .. "/thread-" .. id .. ".req", "rb")) end
end

function delay()
    local now = now_ms()
    if not start then start = now end
    local due = start + slot * interval
    slot = slot + 1
    local wait = due - now
    if wait > 0 then return math.ceil(wait) end
    if -wait > max_lag_ms then max_lag_ms = -wait end
    if -wait > 50 then late = late + 1 end
    return 0
end

local fallback = "GET /health HTTP/1.1\r\nHost: bench\r\n\r\n"
function request()
    open()
    local length = file:read("*l")
    if not length then
        -- Never expected: the caller writes more records than the schedule has slots.
        exhausted = exhausted + 1
        wrk.thread:stop()
        return fallback
    end
    sent = sent + 1
    return file:read(tonumber(length))
end

function response(status, headers, body)
    if status >= 200 and status < 300 then
        ok = ok + 1
        if body and body:find('"duplicate"%s*:%s*true') then duplicates = duplicates + 1 end
    else
        non2xx = non2xx + 1
        if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
    end
end

local function quote(s)
    return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
    local t = { sent = 0, late = 0, max_lag_ms = 0, exhausted = 0, ok = 0, non2xx = 0, duplicates = 0 }
    local bad = ""
    for _, thread in ipairs(threads) do
        for k, _ in pairs(t) do
            local v = thread:get(k) or 0
            if k == "max_lag_ms" then t[k] = math.max(t[k], v) else t[k] = t[k] + v end
        end
        if bad == "" then bad = thread:get("first_bad") or "" end
    end
    local e = summary.errors
    io.write(string.format(
        'WRK_RESULT {"requests": %d, "duration_s": %.3f, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, ' ..
        '"max_ms": %.3f, "connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, ' ..
        '"status_errors": %d, "sent": %d, "late": %d, "max_lag_ms": %.1f, "exhausted": %d, "ok": %d, ' ..
        '"non2xx": %d, "duplicate_acks": %d, "first_bad": %s}\n',
        summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
        latency:percentile(99) / 1000, latency.max / 1000, e.connect, e.read, e.write, e.timeout, e.status,
        t.sent, t.late, t.max_lag_ms, t.exhausted, t.ok, t.non2xx, t.duplicates, quote(bad)))
end
