--[[
  Releases a lock only if this holder still has it (one that expired may be another's now).
  KEYS: 1 lock
  ARGV: 1 the holder's token
  Returns: 1 released | 0 not held by this token
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
