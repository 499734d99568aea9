--[[
  Clears a ready marker that no longer stands for a runnable step (the run ended, or the step moved
  on), but only the marker that was read: a newer one stays.
  KEYS: 1 run hash, 2 events stream (unused; every run script takes both), [3 ready index, single Redis only]
  ARGV: 1 stepId, 2 generation
  Returns: 1 cleared | 0 the marker is another one now
]]
--@include ready
if redis.call('HGET', KEYS[1], 'ready') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'ready:gen') ~= ARGV[2] then return 0 end
clearReady()
return 1
