-- wrk script of `make bench-edge`: a mixed request mix, one request per line of requests.txt
-- (method-less: "path<TAB>user-agent<TAB>cookie"), cycled in order by each connection.
local requests = {}
for line in io.lines(os.getenv("VITRINE_REQUESTS")) do
  local path, ua, cookie = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
  requests[#requests + 1] = { path = path, ua = ua, cookie = cookie }
end
local i = 0
request = function()
  i = i % #requests + 1
  local r = requests[i]
  local headers = { ["User-Agent"] = r.ua, ["Accept"] = "text/html" }
  if r.cookie ~= "" then headers["Cookie"] = r.cookie end
  return wrk.format("GET", r.path, headers)
end
done = function(summary, latency, _)
  io.write(string.format("RESULT requests=%d duration_us=%d non2xx=%d errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
