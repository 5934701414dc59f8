-- Paced reads for the failover drill (wrk -s drill_read.lua ... -- TOKEN FIRST_ID LAST_ID DELAY_MS):
-- a random item among FIRST_ID..LAST_ID, or every tenth request a page of the item list, each
-- connection waiting DELAY_MS between requests so the load is steady rather than saturating.
local token, first_id, last_id, delay_ms
local counter = 0
function init(args)
  token = args[1]
  first_id = tonumber(args[2])
  last_id = tonumber(args[3])
  delay_ms = tonumber(args[4])
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
function request()
  counter = counter + 1
  local headers = { ["Authorization"] = "Bearer " .. token }
  if counter % 10 == 0 then
    return wrk.format("GET", "/api/v1/items?project=DRILL&limit=25", headers)
  end
  return wrk.format("GET", "/api/v1/items/" .. math.random(first_id, last_id), headers)
end
function delay()
  return delay_ms
end
