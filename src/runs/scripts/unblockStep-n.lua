--[[
  Resumes a run blocked by blockStep once its tool was approved or its connector logged in. Only a
  run still blocked for that reason moves; one cancelled or resolved meanwhile is left alone.
  The step is marked ready in the same script, with the generation of the job the caller enqueues.
  KEYS: 1 run hash, 2 events stream, [3 ready index, single Redis only]
  ARGV: 1 stepId, 2 now, 3 event data (JSON), 4 the job's generation,
        5 the code the run was blocked with (TOOL_CHANGED | CONNECTOR_LOGIN_REQUIRED; default TOOL_CHANGED)
  Returns: 'ok' | 'skip'
  Events: step.unblocked
]]
--@include ready
local runStatus = redis.call('HGET', KEYS[1], 'status')
if runStatus ~= 'needs_attention' then return 'skip' end
local err = redis.call('HGET', KEYS[1], 'error') or ''
local code = ARGV[5] or 'TOOL_CHANGED'
if not string.find(err, '"' .. code .. '"', 1, true) then return 'skip' end
local st = redis.call('HGET', KEYS[1], 's:' .. ARGV[1] .. ':status') or 'pending'
if st ~= 'pending' and st ~= 'running' then return 'skip' end
redis.call('HSET', KEYS[1], 'status', 'running', 'updatedAt', ARGV[2])
redis.call('HDEL', KEYS[1], 'error')
markReady(ARGV[1], ARGV[4], ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'step.unblocked', 'at', ARGV[2], 'step', ARGV[1], 'data', ARGV[3])
return 'ok'
