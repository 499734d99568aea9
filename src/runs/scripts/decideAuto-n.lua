--[[
  Records a decision nobody had to be asked for: a remembered grant or an approved plan covers the
  write. It leaves the same record a person's approval does (a confirmation, approved, with who,
  which channel and the hash), so every write that is sent has a decision naming its hash. The
  step job that asked goes on to send; nothing is enqueued.
  With a grant, on a single Redis its use is counted in this same script (KEYS 3 and 4).
  KEYS: 1 run hash, 2 events stream, [3 the session's grants hash, 4 the grant's use log]
  ARGV: 1 stepId, 2 confirmationId, 3 what was shown (JSON), 4 argumentsHash, 5 now,
        6 decision record (JSON: by, channel, at, grantId | planHash), 7 the confirmation's field name,
        8 grant id to count a use of ('' for none), 9 the use (JSON)
  Returns: {'ok', uses} | {'already'} when the step was approved with this hash (a retried job) |
    {'run', status} | {'step', status} | {'missing' | 'revoked' | 'expired' | 'spent'} (the grant may not be used)
  Events: confirmation.approved
]]
--@include useGrant
local runStatus = redis.call('HGET', KEYS[1], 'status')
if not runStatus then return {'run', 'missing'} end
if runStatus ~= 'queued' and runStatus ~= 'running' then return {'run', runStatus} end
local sk = 's:' .. ARGV[1] .. ':'
local st = redis.call('HGET', KEYS[1], sk .. 'status') or 'pending'
if st ~= 'pending' and st ~= 'running' then return {'step', st} end
if redis.call('HGET', KEYS[1], sk .. 'approved') == ARGV[4] then return {'already'} end
local uses = ''
if ARGV[8] ~= '' and KEYS[3] then
  local refused, n = useGrant(KEYS[3], KEYS[4], ARGV[8], ARGV[5], ARGV[9])
  if refused then return {refused} end
  uses = n
end
local ck = ARGV[7]
redis.call('HSET', KEYS[1],
  sk .. 'conf', ARGV[2], sk .. 'approved', ARGV[4],
  ck, ARGV[3], ck .. ':status', 'approved', ck .. ':hash', ARGV[4], ck .. ':expiresAt', ARGV[5], ck .. ':step', ARGV[1],
  ck .. ':decision', ARGV[6], 'updatedAt', ARGV[5])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'confirmation.approved', 'at', ARGV[5], 'step', ARGV[1], 'data', ARGV[6])
return {'ok', uses}
