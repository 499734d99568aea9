--[[
  Counts one use of a grant on its own: on a cluster, where the session's grants and the run are in
  different slots, before decideAuto records the decision (a crash between the two spends a use
  and sends nothing, never the reverse). On a single Redis decideAuto does both in one script.
  KEYS: 1 the session's grants hash, 2 the grant's use log
  ARGV: 1 grant id, 2 now (ms), 3 the use (JSON: run, step, confirmation, argumentsHash, at)
  Returns: {'ok', uses} | {'missing' | 'revoked' | 'expired' | 'spent'}
]]
--@include useGrant
local refused, uses = useGrant(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
if refused then return {refused} end
return {'ok', uses}
