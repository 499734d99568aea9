--[[
  Reads what a step job needs in one command: the run, the session's remembered decision for the
  tool and whether an admin turned the tool off. Read only. On a single Redis; a cluster keeps
  these keys in different slots, so there the store sends three reads instead.
  KEYS: 1 run hash, 2 the session's grants, 3 tool toggles
  ARGV: 1 `connector.tool`, or '' for a step without a tool (then only the run is read)
  Returns: {run hash as a flat field/value list, grant or false, toggle or false}
]]
local run = redis.call('HGETALL', KEYS[1])
if ARGV[1] == '' then return {run, false, false} end
return {run, redis.call('HGET', KEYS[2], ARGV[1]), redis.call('HGET', KEYS[3], ARGV[1])}
