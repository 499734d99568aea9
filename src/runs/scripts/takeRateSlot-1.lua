--[[
  Takes one slot of a sliding-window rate limit shared by every worker on this Redis.
  Redis's own clock is used so machines with skewed clocks still agree.
  KEYS: 1 zset of taken slots (member → time taken, ms)
  ARGV: 1 max slots per window, 2 window (ms), 3 unique member for this slot
  Returns: 0 when a slot was taken, else ms until the oldest slot in the window frees up
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local per = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - per)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], per)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = tonumber(oldest[2]) + per - now + 1
if wait < 1 then wait = 1 end
return wait
