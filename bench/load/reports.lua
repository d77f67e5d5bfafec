-- POST /v1/reports: random points in Prishtina, a mix of harassment and municipal
-- categories, a fresh Idempotency-Key each (what the apps send).
package.path = package.path .. ";" .. (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua"
require "common"

local categories = {"commenting", "whistling", "stalking", "touching", "waste", "illegal_dumping"}

local function uuid()
  local t = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
  return (t:gsub("[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%x", v)
  end))
end

function request()
  local body = string.format(
    '{"category": "%s", "location": {"lat": %.6f, "lon": %.6f}, "accuracy_m": 12,'
    .. ' "description": "Load test report.", "locale": "sq"}',
    categories[math.random(#categories)], 42.63 + math.random() * 0.05, 21.13 + math.random() * 0.06)
  return wrk.format("POST", "/v1/reports",
    {["Content-Type"] = "application/json", ["Idempotency-Key"] = uuid()}, body)
end
