--[[
  Pauses a run at a step whose tool changed since it was pinned, or whose connector needs a login:
  the run needs attention, the step keeps its status (it was not called), and nothing is queued
  until the tool is approved or the connector logged in.
  KEYS: 1 run hash, 2 events stream, [3 ready index, single Redis only]
  ARGV: 1 stepId, 2 now, 3 run error (JSON, code TOOL_CHANGED | CONNECTOR_LOGIN_REQUIRED), 4 event data (JSON),
        5 '1' when the call provably never reached the server: a write's intent is cleared, so the
          step is sent again after the pause instead of being in doubt
  Returns: 'ok' | 'run:<status>' | 'step:<status>'
  Events: step.blocked, run.needs_attention
]]
--@include ready
local runStatus = redis.call('HGET', KEYS[1], 'status')
if not runStatus then return 'missing' end
if runStatus ~= 'queued' and runStatus ~= 'running' then return 'run:' .. runStatus end
local st = redis.call('HGET', KEYS[1], 's:' .. ARGV[1] .. ':status') or 'pending'
if st ~= 'pending' and st ~= 'running' then return 'step:' .. st end
clearReady()
if ARGV[5] == '1' then redis.call('HDEL', KEYS[1], 's:' .. ARGV[1] .. ':intent') end
redis.call('HSET', KEYS[1], 'status', 'needs_attention', 'error', ARGV[3], 'updatedAt', ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'step.blocked', 'at', ARGV[2], 'step', ARGV[1], 'data', ARGV[4])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'type', 'run.needs_attention', 'at', ARGV[2], 'step', ARGV[1], 'data', ARGV[3])
return 'ok'
