--[[
  An admin accepts a changed tool definition: the pending change becomes the pin. The approval is
  bound to the hash the admin reviewed, so a definition that changed again meanwhile is refused.
  KEYS: 1 pins hash, 2 pending changes hash
  ARGV: 1 field (`connector.tool`), 2 hash reviewed, 3 new pin (the pending change plus who approved it, JSON)
  Returns: {'approved'} | {'none'} nothing pending | {'mismatch', pending hash}
]]
local pending = redis.call('HGET', KEYS[2], ARGV[1])
if not pending then return {'none'} end
local h = cjson.decode(pending).hash
if h ~= ARGV[2] then return {'mismatch', h} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HDEL', KEYS[2], ARGV[1])
return {'approved'}
