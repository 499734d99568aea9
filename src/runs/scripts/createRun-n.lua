--[[
  Writes a new run, ready at its first step, and on a single Redis its idempotency key, its place in
  the runs index and its ready-index entry, all at once: a crash leaves either all of it or none,
  so a key never names a run that was not written. On a cluster those three keys are in other
  slots; the store sets the key first (a replay then writes the run the key names, with this same
  script) and the index entries before the run.
  KEYS: 1 run hash, 2 events stream, [3 ready index, 4 runs index, [5 idempotency key]: single Redis only]
  ARGV: 1 runId, 2 now, 3 first step id, 4 run.created event data (JSON), 5 idempotency record
        (JSON: run id and request fingerprint) or '', 6 idempotency TTL (s), 7… run hash field/value pairs
  Returns: {'ok'} | {'exists'} the run was written already (a replay racing the first) |
           {'key', record} the idempotency key names another request's run
  Events: run.created
]]
--@include ready
if KEYS[5] then
  local prev = redis.call('GET', KEYS[5])
  if prev then return {'key', prev} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
markReady(ARGV[3], '0', ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'run.created', 'at', ARGV[2], 'step', '', 'data', ARGV[4])
if KEYS[4] then redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1]) end
if KEYS[5] then redis.call('SET', KEYS[5], ARGV[5], 'EX', tonumber(ARGV[6])) end
return {'ok'}
