--[[
  A step waits without a job: a sleep until its time, or a `workflow:` step until its child run
  ends. The step stays running and is marked ready with `ready:at` (and its ready-index score) at
  the time it is due, so the reconciler enqueues it then if its delayed job is lost; nothing in any
  process holds it meanwhile. A child that ends calls this again with now as the time, to wake
  the step at once (a marker already there is replaced).
  KEYS: 1 run hash, 2 events stream, [3 ready index, single Redis only]
  ARGV: 1 stepId, 2 now, 3 due (ms), 4 generation of the job that wakes it, 5 step result (JSON) or ''
        to keep it, 6 event type suffix ('waiting' | 'woken'), 7 event data (JSON)
  Returns: 'ok' | 'run:<status>' | 'step:<status>' | 'missing'
  Events: step.waiting | step.woken
]]
local runStatus = redis.call('HGET', KEYS[1], 'status')
if not runStatus then return 'missing' end
if runStatus ~= 'queued' and runStatus ~= 'running' then return 'run:' .. runStatus end
local sk = 's:' .. ARGV[1] .. ':'
local st = redis.call('HGET', KEYS[1], sk .. 'status') or 'pending'
if st ~= 'pending' and st ~= 'running' then return 'step:' .. st end
redis.call('HSET', KEYS[1], sk .. 'status', 'running', 'status', 'running', 'updatedAt', ARGV[2])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], sk .. 'result', ARGV[5]) end
local runId = redis.call('HGET', KEYS[1], 'id')
redis.call('HSET', KEYS[1], 'ready', ARGV[1], 'ready:gen', ARGV[4], 'ready:at', ARGV[3], 'job', runId .. '.' .. ARGV[1] .. '.' .. ARGV[4])
if KEYS[3] then redis.call('ZADD', KEYS[3], ARGV[3], runId) end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'step.' .. ARGV[6], 'at', ARGV[2], 'step', ARGV[1], 'data', ARGV[7])
return 'ok'
