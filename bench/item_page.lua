-- GET the HTML page of a random item among the first N, as a signed-in browser
-- (wrk -s item_page.lua ... -- SESSION_COOKIE N)
local cookie, count
function init(args)
  cookie = args[1]
  count = tonumber(args[2])
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
function request()
  local id = math.random(1, count)
  return wrk.format("GET", "/items/" .. id, { ["Cookie"] = "baton_session=" .. cookie })
end
