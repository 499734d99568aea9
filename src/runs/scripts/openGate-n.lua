--[[
  Pauses a run before a write: records the confirmation with the exact payload shown to a person.
  After this no job exists for the run; only these keys do.
  The confirmation enters the pending index in the same script on a single Redis; on a cluster the
  index is in another slot and the store writes its entry before the script (an entry without a
  confirmation is dropped when its deadline passes).
  KEYS: 1 run hash, 2 events stream, [3 ready index, 4 pending-confirmations index: single Redis only]
  ARGV: 1 stepId, 2 confirmationId, 3 what was shown (JSON), 4 argumentsHash, 5 expiresAt, 6 now,
        7 the confirmation's field name in the run hash (F.conf), 8 approvers a policy rule requires ('' = one person, no quorum)
  Returns: 'ok' | 'run:<status>' when the run cannot pause | 'step:<status>' when the step is not at its gate
  Events: confirmation.requested
]]
--@include ready
local runStatus = redis.call('HGET', KEYS[1], 'status')
if not runStatus then return 'missing' end
if runStatus ~= 'queued' and runStatus ~= 'running' then return 'run:' .. runStatus end
local sk = 's:' .. ARGV[1] .. ':'
local st = redis.call('HGET', KEYS[1], sk .. 'status') or 'pending'
if st ~= 'pending' and st ~= 'running' then return 'step:' .. st end
local ck = ARGV[7]
clearReady()
-- A paused run holds no job, so it keeps no job id either (the approval marks a new one).
redis.call('HDEL', KEYS[1], 'job')
if KEYS[4] then redis.call('ZADD', KEYS[4], ARGV[5], ARGV[2]) end
redis.call('HSET', KEYS[1],
  sk .. 'status', 'awaiting_confirmation', sk .. 'conf', ARGV[2],
  ck, ARGV[3], ck .. ':status', 'pending', ck .. ':hash', ARGV[4], ck .. ':expiresAt', ARGV[5], ck .. ':step', ARGV[1],
  'status', 'awaiting_confirmation', 'updatedAt', ARGV[6])
if ARGV[8] and ARGV[8] ~= '' then redis.call('HSET', KEYS[1], ck .. ':need', ARGV[8]) end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'confirmation.requested', 'at', ARGV[6], 'step', ARGV[1],
  'data', '{"confirmationId":"' .. ARGV[2] .. '","argumentsHash":"' .. ARGV[4] .. '"}')
return 'ok'
