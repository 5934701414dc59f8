-- POST a new item (wrk -s create_item.lua ... -- TOKEN)
local token
local counter = 0
function init(args)
  token = args[1]
end
function request()
  counter = counter + 1
  local body = '{"project":"OPS","title":"Benchmark item ' .. counter .. '","description":"Created by wrk."}'
  return wrk.format("POST", "/api/v1/items",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end
