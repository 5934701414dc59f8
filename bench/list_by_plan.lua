-- GET a page of 25 open items of a project that carry a label and are planned for a version,
-- both named, drawn from the demo's 30 labels and 20 versions (wrk -s list_by_plan.lua ... -- TOKEN)
local token
local labels = { "ui", "backend", "later", "regression", "security", "performance", "docs", "customer" }
function init(args)
  token = args[1]
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
function request()
  local place = math.random(0, 19)
  local version = (1 + math.floor(place / 5)) .. "." .. (place % 5)
  local label = labels[math.random(1, #labels)]
  return wrk.format("GET",
    "/api/v1/items?project=OPS&state=open&label=" .. label .. "&target_version=" .. version .. "&limit=25",
    { ["Authorization"] = "Bearer " .. token })
end
