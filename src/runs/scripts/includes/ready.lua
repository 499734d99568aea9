--[[
  The ready marker, the outbox of every hand-off: a transition that makes a step runnable records
  it in the run hash, in the same script, and a step job that takes the step clears it. A job is
  only the fast way to reach a ready step; the reconciler enqueues one for a marker left without.
  Fields of the run hash: `ready` (step id), `ready:gen` (the job's generation), `ready:at` (ms),
  and `job` (the last job id marked, kept after the marker clears, for `interlock doctor`). A step
  a job runs in place of its own (commitStep-n.lua, in place) names that job, its holder, instead.
  KEYS[3], given on a single Redis only, is the ready index (zset runId → ready:at). On a cluster
  it is in another slot, so the store writes the index entry before the script instead.
]]
local function markReady(step, gen, now, holder)
  local runId = redis.call('HGET', KEYS[1], 'id')
  redis.call('HSET', KEYS[1], 'ready', step, 'ready:gen', gen, 'ready:at', now, 'job', holder or (runId .. '.' .. step .. '.' .. gen))
  if KEYS[3] then redis.call('ZADD', KEYS[3], now, runId) end
end
local function clearReady()
  if redis.call('HDEL', KEYS[1], 'ready', 'ready:gen', 'ready:at') > 0 and KEYS[3] then
    redis.call('ZREM', KEYS[3], redis.call('HGET', KEYS[1], 'id'))
  end
end
