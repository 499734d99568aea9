--[[
  Counts one use of a remembered decision, if it may still be used: not revoked, not expired, not
  used up. The grant's JSON is fixed when it is made; its uses and revocation are fields beside it.
  gk: the session's grants hash; lk: the grant's use log (list, newest last)
  Returns nil and the use count, or the reason it may not be used: 'missing' | 'revoked' | 'expired' | 'spent'
]]
local function useGrant(gk, lk, id, now, use)
  local raw = redis.call('HGET', gk, 'g:' .. id)
  if not raw then return 'missing' end
  if redis.call('HEXISTS', gk, 'g:' .. id .. ':revoked') == 1 then return 'revoked' end
  local g = cjson.decode(raw)
  if g.expiresAt and tonumber(now) >= tonumber(g.expiresAt) then return 'expired' end
  local uses = tonumber(redis.call('HGET', gk, 'g:' .. id .. ':uses') or '0')
  if g.maxUses and uses >= tonumber(g.maxUses) then return 'spent' end
  uses = redis.call('HINCRBY', gk, 'g:' .. id .. ':uses', 1)
  redis.call('RPUSH', lk, use)
  redis.call('LTRIM', lk, -1000, -1)
  redis.call('PEXPIRE', lk, redis.call('PTTL', gk))
  return nil, uses
end
