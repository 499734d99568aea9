--[[
  Records how one item of a loop (or one step of a parallel branch) ended. The run does not move:
  the loop or parallel step commits when every item has ended. The outcome is recorded even when
  the run was cancelled meanwhile, because the call did happen.
  KEYS: 1 run hash, 2 events stream, [3 ready index, single Redis only: unused]
  ARGV: 1 stepId, 2 item key, 3 status ('succeeded' | 'skipped' | 'failed' | 'denied' | 'in_doubt'),
        4 item result (JSON), 5 now, 6 event data (JSON)
  Returns: 'ok' | 'dup:<status>' when the item had already ended | 'missing'
  Events: step.item_succeeded | step.item_skipped | step.item_failed | step.item_denied | step.item_in_doubt
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
local ik = 's:' .. ARGV[1] .. '/' .. ARGV[2] .. ':'
local ist = redis.call('HGET', KEYS[1], ik .. 'status') or 'pending'
if ist == 'succeeded' or ist == 'skipped' or ist == 'failed' or ist == 'denied' then return 'dup:' .. ist end
redis.call('HSET', KEYS[1], ik .. 'status', ARGV[3], ik .. 'result', ARGV[4], 'updatedAt', ARGV[5])
if ARGV[3] ~= 'in_doubt' then redis.call('HDEL', KEYS[1], ik .. 'intent') end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'step.item_' .. ARGV[3], 'at', ARGV[5], 'step', ARGV[1], 'data', ARGV[6])
return 'ok'
