--[[
  Cancels a run that has not ended. A pending confirmation is withdrawn; a step already calling
  its tool finishes its call, and its commit then finds the run cancelled.
  KEYS: 1 run hash, 2 events stream
  ARGV: 1 now, 2 run error (JSON)
  Returns: {'cancelled', confirmationId or ''} | {'finished', status} | {'missing', ''}
  Events: run.cancelled
]]
local runStatus = redis.call('HGET', KEYS[1], 'status')
if not runStatus then return {'missing', ''} end
if runStatus == 'succeeded' or runStatus == 'failed' or runStatus == 'denied' or runStatus == 'cancelled' then
  return {'finished', runStatus}
end
local conf = redis.call('HGET', KEYS[1], 'currentConf') or ''
if conf ~= '' then
  local step = redis.call('HGET', KEYS[1], 'c:' .. conf .. ':step')
  redis.call('HSET', KEYS[1], 'c:' .. conf .. ':status', 'cancelled', 's:' .. step .. ':status', 'skipped')
  redis.call('HDEL', KEYS[1], 'currentConf')
end
-- A read in flight is stopped by its worker (it polls the run's status) and never commits, so it
-- is shown as skipped; a write in flight (write intent recorded) stays running until its
-- outcome is committed, because the call may have happened.
local def = cjson.decode(redis.call('HGET', KEYS[1], 'definition') or '{"steps":[]}')
for _, s in ipairs(def.steps or {}) do
  local sk = 's:' .. s.id .. ':'
  if redis.call('HGET', KEYS[1], sk .. 'status') == 'running' and redis.call('HEXISTS', KEYS[1], sk .. 'intent') == 0 then
    redis.call('HSET', KEYS[1], sk .. 'status', 'skipped')
  end
end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'error', ARGV[2], 'updatedAt', ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'run.cancelled', 'at', ARGV[1], 'step', '', 'data', ARGV[2])
return {'cancelled', conf}
