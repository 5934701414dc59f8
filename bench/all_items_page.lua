-- GET one of the first 10 pages of the HTML item list of open items across all projects (the
-- Items page), as a signed-in browser (wrk -s all_items_page.lua ... -- SESSION_COOKIE N; N is
-- unused, for item_page.sh)
local cookie
function init(args)
  cookie = args[1]
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
function request()
  local page = math.random(1, 10)
  return wrk.format("GET", "/items?page=" .. page, { ["Cookie"] = "baton_session=" .. cookie })
end
