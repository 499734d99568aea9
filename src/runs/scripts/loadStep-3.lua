--[[
  Reads what a step job needs in one command: the run, the session's remembered decisions (all of
  them: which cover the call is the planner's question) and whether an admin turned the tool off. Read only. On a single Redis; a cluster keeps
  these keys in different slots, so there the store sends three reads instead.
  KEYS: 1 run hash, 2 the session's grants, 3 tool toggles
  ARGV: 1 `connector.tool`, or '' for a step without a tool (then only the run is read)
  Returns: {run hash as a flat field/value list, grants hash as a flat list, toggle or false}
]]
local run = redis.call('HGETALL', KEYS[1])
if ARGV[1] == '' then return {run, {}, false} end
return {run, redis.call('HGETALL', KEYS[2]), redis.call('HGET', KEYS[3], ARGV[1])}
