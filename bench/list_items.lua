-- GET one page of 25 items of a project, at a random offset (wrk -s list_items.lua ... -- TOKEN)
local token
function init(args)
  token = args[1]
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
function request()
  local offset = math.random(0, 400) * 25
  return wrk.format("GET", "/api/v1/items?project=OPS&state=open&limit=25&offset=" .. offset,
    { ["Authorization"] = "Bearer " .. token })
end
