-- GET a random item among the first N (wrk -s get_item.lua ... -- TOKEN N)
local token, count
function init(args)
  token = args[1]
  count = tonumber(args[2])
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
function request()
  local id = math.random(1, count)
  return wrk.format("GET", "/api/v1/items/" .. id, { ["Authorization"] = "Bearer " .. token })
end
