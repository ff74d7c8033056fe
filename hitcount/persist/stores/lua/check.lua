-- Before a batch is written: refuse the endpoint key KEYS[1] when it is damaged, so that no
-- part of the batch goes in (inside MULTI/EXEC a script's error undoes nothing else).
-- ARGV[1]: the type it holds ('hash' or 'zset'); ARGV[2]: a Lua pattern every field of a
-- hash matches (its values must be counts). Returns 0, or the HITCOUNT_DAMAGED error.
local function damaged(what)
  return redis.error_reply('HITCOUNT_DAMAGED ' .. KEYS[1] .. ': ' .. what)
end
local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= 'none' and kind ~= ARGV[1] then return damaged('it holds another type of value') end
if kind == 'hash' then
  local held = redis.call('HGETALL', KEYS[1])
  for i = 1, #held, 2 do
    if not string.match(held[i], ARGV[2]) then return damaged('bad field ' .. held[i]) end
    if not string.match(held[i + 1], '^%d+$') then
      return damaged('the count of ' .. held[i] .. ' is not a count: ' .. held[i + 1])
    end
  end
end
return 0
