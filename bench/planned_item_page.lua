-- GET the HTML page of one item, as a signed-in browser (wrk -s planned_item_page.lua ... --
-- SESSION_COOKIE ID); item_page.sh PAGE=planned gives it 10 links and 20 sub-items first.
local cookie, path
function init(args)
  cookie = args[1]
  path = "/items/" .. args[2]
end
function request()
  return wrk.format("GET", path, { ["Cookie"] = "baton_session=" .. cookie })
end
