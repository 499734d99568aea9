--[[
  Takes a slot in every sliding window that applies to one call, or in none of them. A call that
  has to wait for one window therefore holds no slot in another meanwhile: taken before the wait,
  that slot would be dated earlier than the call it stands for, and let the next call through too
  soon. Same data as takeRateSlot (which this does for one key), on Redis's own clock.
  KEYS: zsets of taken slots (member → time taken, ms), all under one hash tag
  ARGV: 1 unique member for this call, then for each key in order: max slots per window, window (ms)
  Returns: 0 when a slot was taken in every window, else ms until every full window has room again
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i = 1, #KEYS do
  local max = tonumber(ARGV[2 * i])
  local per = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - per)
  local n = redis.call('ZCARD', KEYS[i])
  if n >= max then
    -- room again once the slot that is (max)th from the newest leaves the window
    local slot = redis.call('ZRANGE', KEYS[i], n - max, n - max, 'WITHSCORES')
    local w = tonumber(slot[2]) + per - now + 1
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2 * i + 1]))
end
return 0
