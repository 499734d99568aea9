--[[
  Commits a step's outcome (succeeded or skipped) and advances the run: to the next step, or to
  succeeded when it was the last. The output is recorded even when the run was cancelled meanwhile,
  because the call did happen.
  The next step is marked ready in the same script (see includes/ready.lua).
  KEYS: 1 run hash, 2 events stream, [3 ready index, single Redis only]
  ARGV: 1 stepId, 2 step status ('succeeded' | 'skipped'), 3 step result (JSON), 4 next step id or '',
        5 now, 6 event data (JSON), 7 '' or the step.started event data (JSON) of a read that answered
        before startStep was sent: the step is started here, as startStep would have (attempts, event)
  Returns: 'ok' | 'stale:<runStatus>' when the run ended meanwhile | 'dup:<stepStatus>' when already committed
  Events: [step.started,] step.succeeded | step.skipped, then run.succeeded on the last step
]]
--@include ready
local runStatus = redis.call('HGET', KEYS[1], 'status')
if not runStatus then return 'missing' end
local sk = 's:' .. ARGV[1] .. ':'
local st = redis.call('HGET', KEYS[1], sk .. 'status') or 'pending'
if st == 'succeeded' or st == 'skipped' or st == 'failed' or st == 'denied' then return 'dup:' .. st end
if ARGV[7] ~= '' then
  if st ~= 'pending' and st ~= 'running' then return 'dup:' .. st end
  redis.call('HINCRBY', KEYS[1], sk .. 'attempts', 1)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'step.started', 'at', ARGV[5], 'step', ARGV[1], 'data', ARGV[7])
end
redis.call('HSET', KEYS[1], sk .. 'status', ARGV[2], sk .. 'result', ARGV[3], 'updatedAt', ARGV[5])
clearReady()
redis.call('HDEL', KEYS[1], sk .. 'intent')
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'step.' .. ARGV[2], 'at', ARGV[5], 'step', ARGV[1], 'data', ARGV[6])
if runStatus ~= 'queued' and runStatus ~= 'running' then return 'stale:' .. runStatus end
if ARGV[4] == '' then
  redis.call('HSET', KEYS[1], 'status', 'succeeded')
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'run.succeeded', 'at', ARGV[5], 'step', '', 'data', '{}')
else
  redis.call('HSET', KEYS[1], 'status', 'running')
  markReady(ARGV[4], '0', ARGV[5])
end
return 'ok'
