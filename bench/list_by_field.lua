-- GET one of the first 10 pages of 25 open items of a project whose severity is major, by the
-- date they were found on, newest first (wrk -s list_by_field.lua ... -- TOKEN)
local token
function init(args)
  token = args[1]
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
function request()
  local offset = math.random(0, 9) * 25
  return wrk.format("GET",
    "/api/v1/items?project=OPS&state=open&field.severity=major&sort=-field.found_on&limit=25&offset=" .. offset,
    { ["Authorization"] = "Bearer " .. token })
end
