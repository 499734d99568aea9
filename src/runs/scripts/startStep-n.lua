--[[
  Marks a step running just before its tool is called.
  The step job has the step now: its ready marker clears.
  KEYS: 1 run hash, 2 events stream, [3 ready index, single Redis only]
  ARGV: 1 stepId, 2 now (ms), 3 event data (JSON), 4 write intent ('1' records one: the call may
        reach the server, so a crash from here on leaves the step in doubt unless the tool is idempotent),
        5 for a write: the attempts the caller saw when it decided to send ('' for none). Two jobs of one
        step (a stalled job BullMQ re-runs beside the one a decision enqueued) may both see it pending;
        only the first to start it may send, the other finds the count moved and stops.
  Returns: {'ok', attempts} | {'run', runStatus} if the run cannot run | {'step', stepStatus} if the step cannot start
  Events: step.started
]]
--@include ready
local runStatus = redis.call('HGET', KEYS[1], 'status')
if not runStatus then return {'missing', ''} end
if runStatus ~= 'queued' and runStatus ~= 'running' then return {'run', runStatus} end
local sk = 's:' .. ARGV[1] .. ':'
local st = redis.call('HGET', KEYS[1], sk .. 'status') or 'pending'
if st ~= 'pending' and st ~= 'running' then return {'step', st} end
if ARGV[4] == '1' and ARGV[5] and ARGV[5] ~= '' then
  local seen = tonumber(redis.call('HGET', KEYS[1], sk .. 'attempts') or '0')
  if seen ~= tonumber(ARGV[5]) then return {'step', 'running'} end
end
clearReady()
local attempts = redis.call('HINCRBY', KEYS[1], sk .. 'attempts', 1)
redis.call('HSET', KEYS[1], sk .. 'status', 'running', 'status', 'running', 'updatedAt', ARGV[2])
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], sk .. 'intent', attempts) end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'step.started', 'at', ARGV[2], 'step', ARGV[1], 'data', ARGV[3])
return {'ok', attempts}
