--[[
  Takes a slot in every sliding window that applies to one call, or in none of them (a slot taken
  in one window while waiting for another would be dated before its call and let the next one
  through early). On Redis's own clock, so machines with skewed clocks agree.
  A slot counts from the moment its call leaves until `per` after its answer (releaseRateSlots
  re-dates it then): until it has answered, the call may still be on its way to the server, so
  counting it from departure alone would let calls that travel at different speeds arrive closer
  together than the limit. While in flight its score is departure + hold (the call's timeout), so a
  worker that dies mid-call frees its slot when the call would have timed out.
  KEYS: zsets of slots (member → the time the slot leaves the window, minus `per`), one hash tag
  ARGV: 1 unique member for this call, 2 hold (ms), then for each key in order: max slots per window, window (ms)
  Returns: 0 when a slot was taken in every window, else ms to wait before asking again
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local hold = tonumber(ARGV[2])
local wait = 0
for i = 1, #KEYS do
  local max = tonumber(ARGV[2 * i + 1])
  local per = tonumber(ARGV[2 * i + 2])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - per)
  local n = redis.call('ZCARD', KEYS[i])
  if n >= max then
    -- room again once the slot that is (max)th from the newest leaves the window; one still in
    -- flight leaves no sooner than `per` after an answer that has not come yet
    local slot = redis.call('ZRANGE', KEYS[i], n - max, n - max, 'WITHSCORES')
    local s = tonumber(slot[2])
    local w = per + 1
    if s <= now then w = s + per - now + 1 end
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i = 1, #KEYS do
  local per = tonumber(ARGV[2 * i + 2])
  redis.call('ZADD', KEYS[i], now + hold, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], hold + per, 'GT')
  if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], hold + per) end
end
return 0
