--[[
  Cancels a run that has not ended. A pending confirmation is withdrawn; a step already calling
  its tool finishes its call, and its commit then finds the run cancelled.
  KEYS: 1 run hash, 2 events stream, [3 ready index, 4 pending-confirmations index: single Redis only]
  ARGV: 1 now, 2 run error (JSON), 3 prefix of confirmation field names ('c': F.conf is 'c' .. its number)
  Returns: {'cancelled', confirmationId or ''} | {'finished', status} | {'missing', ''}
  Events: run.cancelled
]]
--@include ready
local runStatus = redis.call('HGET', KEYS[1], 'status')
if not runStatus then return {'missing', ''} end
if runStatus == 'succeeded' or runStatus == 'failed' or runStatus == 'denied' or runStatus == 'cancelled' then
  return {'finished', runStatus}
end
local h = redis.call('HGETALL', KEYS[1])
local conf = ''
for i = 1, #h, 2 do
  local id = string.match(h[i], '^s:(.+):status$')
  if id and h[i + 1] == 'awaiting_confirmation' then
    conf = redis.call('HGET', KEYS[1], 's:' .. id .. ':conf') or ''
    local n = string.match(conf, '_(%d+)$')
    if n then redis.call('HSET', KEYS[1], ARGV[3] .. n .. ':status', 'cancelled') end
    if KEYS[4] and conf ~= '' then redis.call('ZREM', KEYS[4], conf) end
    redis.call('HSET', KEYS[1], 's:' .. id .. ':status', 'skipped')
  end
end
-- A read in flight is stopped by its worker (it polls the run's status) and never commits, so it
-- is shown as skipped; a write in flight (write intent recorded) stays running until its
-- outcome is committed, because the call may have happened.
for i = 1, #h, 2 do
  local id = string.match(h[i], '^s:(.+):status$')
  if id and h[i + 1] == 'running' and redis.call('HEXISTS', KEYS[1], 's:' .. id .. ':intent') == 0 then
    redis.call('HSET', KEYS[1], 's:' .. id .. ':status', 'skipped')
  end
end
clearReady()
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'error', ARGV[2], 'updatedAt', ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'run.cancelled', 'at', ARGV[1], 'step', '', 'data', ARGV[2])
return {'cancelled', conf}
