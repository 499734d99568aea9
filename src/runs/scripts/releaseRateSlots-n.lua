--[[
  A call answered (or failed, or was never sent): its slots now count until `per` from now.
  KEYS: the zsets takeRateSlots took the slots in
  ARGV: 1 the call's member, then for each key in order: window (ms)
  Returns: how many slots were re-dated (0 when they had already left their windows)
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = 0
for i = 1, #KEYS do
  n = n + redis.call('ZADD', KEYS[i], 'XX', 'CH', now, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[i + 1]), 'GT')
end
return n
