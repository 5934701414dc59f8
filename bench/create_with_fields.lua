-- POST a new item with a value of each of the six demo fields (wrk -s create_with_fields.lua ... -- TOKEN)
local token
local counter = 0
function init(args)
  token = args[1]
end
function request()
  counter = counter + 1
  local body = '{"project":"OPS","title":"Benchmark item ' .. counter .. '","description":"Created by wrk.",'
    .. '"fields":{"customer":"ACME","severity":"major","estimate":' .. (counter % 40 + 1) .. ','
    .. '"found_on":"2026-11-30","regression":false,"platforms":["linux","mac"]}}'
  return wrk.format("POST", "/api/v1/items",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end
