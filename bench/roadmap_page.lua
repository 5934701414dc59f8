-- GET the roadmap page of OPS (20 open versions in the demo data) as a signed-in browser
-- (wrk -s roadmap_page.lua ... -- SESSION_COOKIE N; N is unused, for item_page.sh)
local cookie
function init(args)
  cookie = args[1]
end
function request()
  return wrk.format("GET", "/projects/OPS/roadmap", { ["Cookie"] = "baton_session=" .. cookie })
end
