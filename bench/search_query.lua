-- GET /api/v1/search with a fixed query (wrk -s search_query.lua ... -- TOKEN ENCODED_QUERY)
local token, query
function init(args)
  token = args[1]
  query = args[2]
end
function request()
  return wrk.format("GET", "/api/v1/search?q=" .. query .. "&limit=25", { ["Authorization"] = "Bearer " .. token })
end
