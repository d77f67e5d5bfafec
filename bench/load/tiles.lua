-- GET /v1/tiles/heatmap/{z}/{x}/{y}.mvt: tiles a map pans over Kosovo at zoom 8-13.
package.path = package.path .. ";" .. (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua"
require "common"

local function tile(lat, lon, z)
  local n = 2 ^ z
  local x = math.floor((lon + 180) / 360 * n)
  local r = math.rad(lat)
  local y = math.floor((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
  return x, y
end

function request()
  local z = math.random(8, 13)
  local x, y = tile(42.2 + math.random() * 0.9, 20.3 + math.random() * 1.2, z)
  return wrk.format("GET", string.format("/v1/tiles/heatmap/%d/%d/%d.mvt", z, x, y))
end
