--[[
  Marks one item of a loop or one step of a parallel branch running, just before its tool is
  called. The loop or parallel step itself must be running: a cancelled or paused run starts nothing.
  Item fields live in the run hash under `s:<stepId>/<key>:` (key: item index, `index.innerId` or
  `branch.innerId`).
  KEYS: 1 run hash, 2 events stream, [3 ready index, single Redis only: unused]
  ARGV: 1 stepId, 2 item key, 3 now, 4 event data (JSON), 5 write intent ('1' records one),
        6 for a write: the item attempts the caller saw ('' for none); two jobs of one loop (a stalled
        job BullMQ re-runs beside another) may both see the item pending, only the first may send
  Returns: {'ok', attempts} | {'run', runStatus} | {'step', status} | {'item', status}
  Events: step.item_started
]]
local runStatus = redis.call('HGET', KEYS[1], 'status')
if not runStatus then return {'missing', ''} end
if runStatus ~= 'queued' and runStatus ~= 'running' then return {'run', runStatus} end
local st = redis.call('HGET', KEYS[1], 's:' .. ARGV[1] .. ':status') or 'pending'
if st ~= 'running' then return {'step', st} end
local ik = 's:' .. ARGV[1] .. '/' .. ARGV[2] .. ':'
local ist = redis.call('HGET', KEYS[1], ik .. 'status') or 'pending'
if ist ~= 'pending' and ist ~= 'running' then return {'item', ist} end
if ARGV[5] == '1' and ARGV[6] ~= '' then
  local seen = tonumber(redis.call('HGET', KEYS[1], ik .. 'attempts') or '0')
  if seen ~= tonumber(ARGV[6]) then return {'item', 'running'} end
end
local attempts = redis.call('HINCRBY', KEYS[1], ik .. 'attempts', 1)
redis.call('HSET', KEYS[1], ik .. 'status', 'running', 'updatedAt', ARGV[3])
if ARGV[5] == '1' then redis.call('HSET', KEYS[1], ik .. 'intent', attempts) end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'step.item_started', 'at', ARGV[3], 'step', ARGV[1], 'data', ARGV[4])
return {'ok', attempts}
