-- GET the open items assigned to one of the demo's 25 people (user ids 2-26), latest first, ten
-- of them with their total: the home page's "assigned to me" (wrk -s list_assigned.lua ... -- TOKEN)
local token
function init(args)
  token = args[1]
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
function request()
  return wrk.format("GET", "/api/v1/items?assignee=" .. math.random(2, 26) .. "&state=open&limit=10",
    { ["Authorization"] = "Bearer " .. token })
end
