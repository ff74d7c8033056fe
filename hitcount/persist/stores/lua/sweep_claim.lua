-- replay --append: claim the next sweep of the endpoints no batch touched. KEYS[1]: the meta
-- hash; KEYS[2]: the pause key a whole read holds (no sweep meanwhile: the next batch's).
-- ARGV: the shared clock and the step (how far it must have moved since the last sweep,
-- the `swept` field; none: a state written before sweeps, swept once). Returns 1 when this
-- writer sweeps (`swept` is moved to the clock), else 0.
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local clock, step = tonumber(ARGV[1]), tonumber(ARGV[2])
local last = tonumber(redis.call('HGET', KEYS[1], 'swept') or '')
if last ~= nil and clock - last < step then return 0 end
redis.call('HSET', KEYS[1], 'swept', ARGV[1])
return 1
