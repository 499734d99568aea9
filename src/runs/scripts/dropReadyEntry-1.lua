--[[
  Removes a run's entry from the ready index when its run holds no marker, unless the entry was
  written again since it was read (same score): on a cluster a transition writes the entry before
  the script that sets the marker, and that newer entry must stay.
  KEYS: 1 ready index
  ARGV: 1 runId, 2 the score read
  Returns: 1 removed | 0 kept
]]
if redis.call('ZSCORE', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
return redis.call('ZREM', KEYS[1], ARGV[1])
