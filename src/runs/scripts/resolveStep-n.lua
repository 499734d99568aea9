--[[
  An operator resolves a step left in doubt (a write that may or may not have happened):
    retry  the step goes back to pending and the run to running; the caller enqueues it again, and
           it is sent with the same idempotency key as before
    done   the operator checked that the write happened: the step succeeds with the output given,
           and the run moves on to the next step (or succeeds when it was the last)
    fail   the write is taken as not done and the run fails
  Only a step in doubt in a run that needs attention can be resolved, so two operators racing
  each other resolve it once.
  The step that runs next (retry: this one; done: the next) is marked ready in the same script.
  KEYS: 1 run hash, 2 events stream, [3 ready index, single Redis only]
  ARGV: 1 stepId, 2 action ('retry' | 'done' | 'fail'), 3 now, 4 step result (JSON, done/fail),
        5 next step id or '' (done), 6 event data (JSON: by, action), 7 run error (JSON, fail),
        8 the generation of the job the caller enqueues
  Returns: {'ok', runStatus} | {'state', runStatus, stepStatus} when there is nothing to resolve | {'missing'}
  Events: step.resolved, then step.succeeded + run.succeeded (done, last step) or step.failed + run.failed (fail)
]]
--@include ready
local runStatus = redis.call('HGET', KEYS[1], 'status')
if not runStatus then return {'missing'} end
local sk = 's:' .. ARGV[1] .. ':'
local st = redis.call('HGET', KEYS[1], sk .. 'status') or 'pending'
if runStatus ~= 'needs_attention' or st ~= 'in_doubt' then return {'state', runStatus, st} end
local now = ARGV[3]
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'step.resolved', 'at', now, 'step', ARGV[1], 'data', ARGV[6])
redis.call('HDEL', KEYS[1], sk .. 'intent', 'error')
local newStatus
if ARGV[2] == 'retry' then
  redis.call('HSET', KEYS[1], sk .. 'status', 'pending', 'status', 'running', 'updatedAt', now)
  markReady(ARGV[1], ARGV[8], now)
  newStatus = 'running'
elseif ARGV[2] == 'done' then
  redis.call('HSET', KEYS[1], sk .. 'status', 'succeeded', sk .. 'result', ARGV[4], 'updatedAt', now)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'step.succeeded', 'at', now, 'step', ARGV[1], 'data', ARGV[6])
  if ARGV[5] == '' then
    newStatus = 'succeeded'
    clearReady()
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'run.succeeded', 'at', now, 'step', '', 'data', '{}')
  else
    newStatus = 'running'
    markReady(ARGV[5], ARGV[8], now)
  end
  redis.call('HSET', KEYS[1], 'status', newStatus)
else
  newStatus = 'failed'
  clearReady()
  redis.call('HSET', KEYS[1], sk .. 'status', 'failed', sk .. 'result', ARGV[4], 'status', 'failed', 'error', ARGV[7], 'updatedAt', now)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'step.failed', 'at', now, 'step', ARGV[1], 'data', ARGV[7])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'run.failed', 'at', now, 'step', ARGV[1], 'data', ARGV[7])
end
return {'ok', newStatus}
