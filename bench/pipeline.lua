-- pipeline.lua - wrk script: send N requests in one write (HTTP pipelining).
--   wrk -t1 -c64 -d5s --latency -s bench/pipeline.lua http://127.0.0.1:PORT/path -- 16
-- Every request is a plain GET of the URL's path, as wrk sends without a
-- script. wrk counts each response as a request, but records one latency per
-- batch: from the write of the N requests to the last of their N responses.
-- Adapted from wrk's examples/scripts/pipeline.lua.

local depth = 16
local batch

init = function(args)
    depth = tonumber(args[1]) or depth
    local r = {}
    for i = 1, depth do
        r[i] = wrk.format(nil, wrk.path)
    end
    batch = table.concat(r)
end

request = function()
    return batch
end
