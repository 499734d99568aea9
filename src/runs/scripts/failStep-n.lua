--[[
  Ends a step without success and moves the run accordingly.
  KEYS: 1 run hash, 2 events stream, [3 ready index, single Redis only]
  ARGV: 1 stepId, 2 step status ('failed' | 'in_doubt' | 'denied'), 3 step result (JSON),
        4 run status ('failed' | 'needs_attention' | 'denied'), 5 now, 6 run error (JSON)
  Returns: 'ok' | 'stale:<runStatus>' when the run had already ended
  Events: step.failed | step.in_doubt | step.denied, then run.failed | run.needs_attention | run.denied
]]
--@include ready
local runStatus = redis.call('HGET', KEYS[1], 'status')
if not runStatus then return 'missing' end
if runStatus == 'succeeded' or runStatus == 'failed' or runStatus == 'denied' or runStatus == 'cancelled' then
  return 'stale:' .. runStatus
end
local sk = 's:' .. ARGV[1] .. ':'
redis.call('HSET', KEYS[1], sk .. 'status', ARGV[2], sk .. 'result', ARGV[3], 'status', ARGV[4], 'error', ARGV[6], 'updatedAt', ARGV[5])
clearReady()
if ARGV[2] ~= 'in_doubt' then redis.call('HDEL', KEYS[1], sk .. 'intent') end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'step.' .. ARGV[2], 'at', ARGV[5], 'step', ARGV[1], 'data', ARGV[6])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'run.' .. ARGV[4], 'at', ARGV[5], 'step', ARGV[1], 'data', ARGV[6])
return 'ok'
