--[[
  Decides a pending confirmation. Only the first decision counts; an approval must carry the
  argumentsHash that was shown; a decision after the deadline expires the confirmation instead.
  An approval marks the step ready (generation: the confirmation id) in the same script; any
  decision takes the confirmation out of the pending index, in the script on a single Redis.
  KEYS: 1 run hash, 2 events stream, [3 ready index, 4 pending-confirmations index: single Redis only]
  ARGV: 1 confirmationId, 2 decision ('approve' | 'deny' | 'expire'), 3 argumentsHash (approve only),
        4 now, 5 decision record (JSON: by, remember), 6 run error for deny/expire (JSON), 7 step result for deny/expire (JSON),
        8 the confirmation's field name in the run hash (F.conf)
  Returns: {outcome, stepId, detail, session, workflow, version} (the run's, so an approval can be
    enqueued without reading the run back)
    outcome: 'approved' | 'denied' | 'expired' | 'decided' (detail = current status) |
             'mismatch' (detail = the hash shown) | 'missing'
  Events: confirmation.approved | confirmation.denied + run.denied | confirmation.expired + run.failed
]]
--@include ready
local ck = ARGV[8]
local cst = redis.call('HGET', KEYS[1], ck .. ':status')
if not cst then return {'missing', '', ''} end
local step = redis.call('HGET', KEYS[1], ck .. ':step')
if cst ~= 'pending' then return {'decided', step, cst} end
local now = tonumber(ARGV[4])
local decision = ARGV[2]
if decision ~= 'expire' and now > tonumber(redis.call('HGET', KEYS[1], ck .. ':expiresAt')) then decision = 'expire' end
local sk = 's:' .. step .. ':'
local function unindex() if KEYS[4] then redis.call('ZREM', KEYS[4], ARGV[1]) end end
if decision == 'approve' then
  local shown = redis.call('HGET', KEYS[1], ck .. ':hash')
  if shown ~= ARGV[3] then return {'mismatch', step, shown} end
  redis.call('HSET', KEYS[1], ck .. ':status', 'approved', ck .. ':decision', ARGV[5],
    sk .. 'status', 'pending', sk .. 'approved', shown, 'status', 'running', 'updatedAt', ARGV[4])
  markReady(step, ARGV[1], ARGV[4])
  unindex()
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'confirmation.approved', 'at', ARGV[4], 'step', step, 'data', ARGV[5])
  local run = redis.call('HMGET', KEYS[1], 'session', 'workflow', 'version')
  return {'approved', step, '', run[1], run[2], run[3]}
end
local cstatus, sstatus, rstatus = 'denied', 'denied', 'denied'
if decision == 'expire' then cstatus, sstatus, rstatus = 'expired', 'failed', 'failed' end
redis.call('HSET', KEYS[1], ck .. ':status', cstatus, ck .. ':decision', ARGV[5],
  sk .. 'status', sstatus, sk .. 'result', ARGV[7], 'status', rstatus, 'error', ARGV[6], 'updatedAt', ARGV[4])
clearReady()
unindex()
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'confirmation.' .. cstatus, 'at', ARGV[4], 'step', step, 'data', ARGV[5])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'run.' .. rstatus, 'at', ARGV[4], 'step', step, 'data', ARGV[6])
return {cstatus, step, ''}
