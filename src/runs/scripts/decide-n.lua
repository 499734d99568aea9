--[[
  Decides a pending confirmation. Only the first decision counts; an approval must carry the
  argumentsHash that was shown; a decision after the deadline expires the confirmation instead.
  A confirmation opened with a quorum (`:need`, from a policy `require` rule) counts distinct
  approvers, each bound to the same hash: the run's owner (who triggered it) is refused, an
  approver counts once, and only the approval that reaches the quorum approves; a deny by any
  approver ends it. Being one script, two approvals at once never both complete it.
  Every decision, and every approval toward a quorum, is appended to the audit stream in the same
  script on a single Redis (on a cluster the stream is in another slot and the store appends it).
  An approval marks the step ready (generation: the confirmation id) in the same script; any
  decision takes the confirmation out of the pending index, in the script on a single Redis.
  KEYS: 1 run hash, 2 events stream, [3 ready index, 4 pending-confirmations index, 5 audit stream: single Redis only]
  ARGV: 1 confirmationId, 2 decision ('approve' | 'deny' | 'expire'), 3 argumentsHash (approve only),
        4 now, 5 decision record (JSON: by, remember), 6 run error for deny/expire (JSON), 7 step result for deny/expire (JSON),
        8 the confirmation's field name in the run hash (F.conf), 9 the audit entry (JSON object without
        `decision`, which the script puts first), 10 the audit stream's MINID (older entries are trimmed),
        11 the decider (by)
  Returns: {outcome, stepId, detail, session, workflow, version} (the run's, so an approval can be
    enqueued without reading the run back)
    outcome: 'approved' | 'denied' | 'expired' | 'decided' (detail = current status) |
             'mismatch' (detail = the hash shown) | 'missing' |
             'partial' (detail = approvals so far) | 'self' (detail = the owner) | 'duplicate' (detail = the decider)
  Events: confirmation.approved | confirmation.approval_recorded | confirmation.denied + run.denied | confirmation.expired + run.failed
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
local function audit(d)
  if KEYS[5] then
    redis.call('XADD', KEYS[5], 'MINID', '~', ARGV[10], '*', 'e', '{"decision":"' .. d .. '",' .. string.sub(ARGV[9], 2))
  end
end
if decision == 'approve' then
  local shown = redis.call('HGET', KEYS[1], ck .. ':hash')
  if shown ~= ARGV[3] then return {'mismatch', step, shown} end
  local need = redis.call('HGET', KEYS[1], ck .. ':need')
  if need then
    local by = ARGV[11]
    local owner = redis.call('HGET', KEYS[1], 'owner')
    if owner and owner == by then return {'self', step, owner} end
    local list = redis.call('HGET', KEYS[1], ck .. ':approvers') or '\n'
    if string.find(list, '\n' .. by .. '\n', 1, true) then return {'duplicate', step, by} end
    local marks = redis.call('HGET', KEYS[1], ck .. ':approvals')
    marks = marks and (string.sub(marks, 1, -2) .. ',' .. ARGV[5] .. ']') or ('[' .. ARGV[5] .. ']')
    local _, count = string.gsub(list, '\n', '')
    redis.call('HSET', KEYS[1], ck .. ':approvers', list .. by .. '\n', ck .. ':approvals', marks)
    if count < tonumber(need) then
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'confirmation.approval_recorded', 'at', ARGV[4], 'step', step,
        'data', ARGV[5])
      audit('approval')
      return {'partial', step, tostring(count)}
    end
  end
  redis.call('HSET', KEYS[1], ck .. ':status', 'approved', ck .. ':decision', ARGV[5],
    sk .. 'status', 'pending', sk .. 'approved', shown, 'status', 'running', 'updatedAt', ARGV[4])
  markReady(step, ARGV[1], ARGV[4])
  unindex()
  audit('approve')
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
audit(decision)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'confirmation.' .. cstatus, 'at', ARGV[4], 'step', step, 'data', ARGV[5])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'run.' .. rstatus, 'at', ARGV[4], 'step', step, 'data', ARGV[6])
return {cstatus, step, ''}
