--[[
  Commits a step's outcome (succeeded or skipped) and advances the run: to the next step, or to
  succeeded when it was the last. The output is recorded even when the run was cancelled meanwhile,
  because the call did happen.
  The next step is marked ready in the same script (see includes/ready.lua).
  In place (ARGV[8] names the job that commits): the job goes on to run the next step itself, so
  the marker names that job as its holder, and the script answers what the next step needs, as
  loadStep-3.lua reads it, so the next step costs no read of its own. Single Redis only (the
  session's grants and the toggles are in other slots on a cluster).
  KEYS: 1 run hash, 2 events stream, [3 ready index, single Redis only], [4 the session's grants,
        5 tool toggles: in place only]
  ARGV: 1 stepId, 2 step status ('succeeded' | 'skipped'), 3 step result (JSON), 4 next step id or '',
        5 now, 6 event data (JSON), 7 '' or the step.started event data (JSON) of a read that answered
        before startStep was sent: the step is started here, as startStep would have (attempts, event),
        8 '' or, in place, the id of the job that commits (the next step's holder),
        9 in place: `connector.tool` of the next step, 10 in place: 'partial' when the caller holds
        the records of the other steps and the run's fixed fields, then 11… the run's live fields
        (parse.ts LIVE_RUN_FIELDS): the answer holds those and the two steps' fields (not the
        result just written); no 'partial': the whole hash
  Returns: 'ok' | 'stale:<runStatus>' when the run ended meanwhile | 'dup:<stepStatus>' when already committed;
           in place, when the run goes on to a next step: {'ok', run hash (flat), grants hash (flat), toggle or false}
  Events: [step.started,] step.succeeded | step.skipped, then run.succeeded on the last step
]]
--@include ready
local runStatus = redis.call('HGET', KEYS[1], 'status')
if not runStatus then return 'missing' end
local sk = 's:' .. ARGV[1] .. ':'
local st = redis.call('HGET', KEYS[1], sk .. 'status') or 'pending'
if st == 'succeeded' or st == 'skipped' or st == 'failed' or st == 'denied' then return 'dup:' .. st end
if ARGV[7] ~= '' then
  if st ~= 'pending' and st ~= 'running' then return 'dup:' .. st end
  redis.call('HINCRBY', KEYS[1], sk .. 'attempts', 1)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'step.started', 'at', ARGV[5], 'step', ARGV[1], 'data', ARGV[7])
end
redis.call('HSET', KEYS[1], sk .. 'status', ARGV[2], sk .. 'result', ARGV[3], 'updatedAt', ARGV[5])
clearReady()
redis.call('HDEL', KEYS[1], sk .. 'intent')
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'step.' .. ARGV[2], 'at', ARGV[5], 'step', ARGV[1], 'data', ARGV[6])
if runStatus ~= 'queued' and runStatus ~= 'running' then return 'stale:' .. runStatus end
if ARGV[4] == '' then
  redis.call('HSET', KEYS[1], 'status', 'succeeded')
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'run.succeeded', 'at', ARGV[5], 'step', '', 'data', '{}')
else
  redis.call('HSET', KEYS[1], 'status', 'running')
  if ARGV[8] and ARGV[8] ~= '' then
    markReady(ARGV[4], '0', ARGV[5], ARGV[8])
    local run
    if ARGV[10] == 'partial' then
      -- The caller holds every other step's record and the run's fixed fields: the live run fields
      -- (ARGV[11…]) and the two steps at hand, but not the result just written, which it sent.
      local fields = {}
      for i = 11, #ARGV do fields[#fields + 1] = ARGV[i] end
      local nk = 's:' .. ARGV[4] .. ':'
      for _, f in ipairs({'status', 'attempts', 'approved', 'conf', 'intent'}) do
        fields[#fields + 1] = sk .. f
        fields[#fields + 1] = nk .. f
      end
      fields[#fields + 1] = nk .. 'result'
      local values = redis.call('HMGET', KEYS[1], unpack(fields))
      run = {}
      for i, f in ipairs(fields) do
        if values[i] then
          run[#run + 1] = f
          run[#run + 1] = values[i]
        end
      end
    else
      run = redis.call('HGETALL', KEYS[1])
    end
    return {'ok', run, redis.call('HGETALL', KEYS[4]), redis.call('HGET', KEYS[5], ARGV[9])}
  end
  markReady(ARGV[4], '0', ARGV[5])
end
return 'ok'
