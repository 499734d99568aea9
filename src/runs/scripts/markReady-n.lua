--[[
  Repair (interlock doctor --repair, the reconciler): marks the step a run is at ready again, with a
  new generation, when the run can move but holds neither a marker nor a job.
  KEYS: 1 run hash, 2 events stream, [3 ready index, single Redis only]
  ARGV: 1 stepId, 2 generation, 3 now, 4 event data (JSON: why)
  Returns: 'ok' | 'run:<status>' | 'step:<status>' | 'ready' (a marker is there already) | 'missing'
  Events: step.requeued
]]
--@include ready
local runStatus = redis.call('HGET', KEYS[1], 'status')
if not runStatus then return 'missing' end
if runStatus ~= 'queued' and runStatus ~= 'running' then return 'run:' .. runStatus end
local st = redis.call('HGET', KEYS[1], 's:' .. ARGV[1] .. ':status') or 'pending'
if st ~= 'pending' and st ~= 'running' then return 'step:' .. st end
if redis.call('HEXISTS', KEYS[1], 'ready') == 1 then return 'ready' end
markReady(ARGV[1], ARGV[2], ARGV[3])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'step.requeued', 'at', ARGV[3], 'step', ARGV[1], 'data', ARGV[4])
return 'ok'
