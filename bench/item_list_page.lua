-- GET one of the first 10 pages of an HTML item list, as a signed-in browser
-- (wrk -s item_list_page.lua ... -- SESSION_COOKIE QUERY; QUERY is the list's query string,
-- such as project=OPS&state=open)
local cookie, query
function init(args)
  cookie = args[1]
  query = args[2]
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
function request()
  local page = math.random(1, 10)
  return wrk.format("GET", "/items?" .. query .. "&page=" .. page, { ["Cookie"] = "baton_session=" .. cookie })
end
