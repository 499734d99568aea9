--[[
  Compares a tool's definition as listed now with its pin. The first definition seen becomes the
  pin; a different one is kept as a pending change (the latest seen) and the tool counts as changed
  until an admin approves it. A server that goes back to the pinned definition is trusted again.
  KEYS: 1 pins hash, 2 pending changes hash
  ARGV: 1 field (`connector.tool`), 2 hash of the definition now, 3 ToolPin of the definition now (JSON)
  Returns: {'pinned'} first sight | {'same'} | {'changed', pin JSON, pending change JSON}
]]
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return {'pinned'}
end
if cjson.decode(cur).hash == ARGV[2] then
  redis.call('HDEL', KEYS[2], ARGV[1])
  return {'same'}
end
local pending = redis.call('HGET', KEYS[2], ARGV[1])
if not pending or cjson.decode(pending).hash ~= ARGV[2] then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
  pending = ARGV[3]
end
return {'changed', cur, pending}
