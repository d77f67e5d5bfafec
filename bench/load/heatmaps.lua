-- GET /v1/heatmaps: the public map's queries at several resolutions, groups and areas.
package.path = package.path .. ";" .. (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua"
require "common"

local queries = {
  "/v1/heatmaps?resolution=6",
  "/v1/heatmaps?resolution=7&group=harassment",
  "/v1/heatmaps?resolution=8&group=harassment&municipality=prishtina",
  "/v1/heatmaps?resolution=8&municipality=prizren",
  "/v1/heatmaps?resolution=7&from=2026-06-01&to=2026-11-30",
}

function request()
  return wrk.format("GET", queries[math.random(#queries)])
end
