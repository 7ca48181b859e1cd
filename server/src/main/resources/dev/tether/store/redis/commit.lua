-- One conditional commit of the Redis store (RedisStreamStore): checks every precondition, then
-- applies every mutation, atomically (a script runs alone, and AOF logs its writes as one unit).
-- KEYS[1]: the key prefix. ARGV[1]: the plan (JSON, with the writer's node-lease token);
-- ARGV[2..]: message payloads the plan names by index.
-- Returns an empty array when committed, else the 1-based indexes of the preconditions that failed.
-- A commit that applied publishes what it changed on <prefix>changes, for the other nodes' readers.
local p = KEYS[1]
local plan = cjson.decode(ARGV[1])

-- Only a node whose lease is current writes: one that was paused past its lease (and may have been
-- taken for dead) is fenced off until it takes a new one.
if redis.call('GET', p .. 'node:' .. plan.nodeId) ~= plan.node then
  return redis.error_reply('TETHER_NOT_OWNER this node no longer holds its lease ' .. p .. 'node:' .. plan.nodeId)
end

-- A node that runs the sessions holds the owner lease: its commits are fenced by that lease too.
if plan.fence then
  local held = redis.call('GET', p .. 'lease:' .. plan.fence.name)
  if not held or string.sub(held, 1, #plan.fence.token + 1) ~= plan.fence.token .. ' ' then
    return redis.error_reply('TETHER_NOT_OWNER this node no longer holds the lease ' .. p .. 'lease:' .. plan.fence.name)
  end
end

local failed = {}
for i, e in ipairs(plan.expect) do
  local ok
  if e.t == 'stream' then
    ok = redis.call('HGET', p .. 'streams', e.id) == e.rec
  elseif e.t == 'path' then
    ok = redis.call('HEXISTS', p .. 'paths', e.path) == 0
  elseif e.t == 'renewed' then
    ok = tonumber(redis.call('HGET', p .. 'access', e.id) or '0') <= e.at
  else -- 'prod': e.v is "epoch:seq", or false for "no state"
    local now = redis.call('HGET', p .. 'prod:' .. e.id, e.p)
    if e.v == false then ok = (now == false) else ok = (now == e.v) end
  end
  if not ok then failed[#failed + 1] = i end
end
if #failed > 0 then return failed end

local function unpath(id, path)
  if path and redis.call('HGET', p .. 'paths', path) == id then redis.call('HDEL', p .. 'paths', path) end
end

local changed = {}
local function change(id, rec) changed[#changed + 1] = {id, rec} end

-- A fork holds its source while it reads from it: until retention trims it past its fork point.
local function readsSource(r)
  return r.forkSourceId ~= nil and r.forkSourceId ~= cjson.null and r.retainedFrom <= r.forkPosition
end

for _, m in ipairs(plan.apply) do
  if m.t == 'put' then
    local old = redis.call('HGET', p .. 'streams', m.id)
    if old then
      local o = cjson.decode(old)
      unpath(m.id, o.path)
      if m.src and readsSource(o) and not m.readsSrc then
        redis.call('HINCRBY', p .. 'forks', m.src, -1) -- trimmed past its fork point: lets its source go
      end
    elseif m.src and m.readsSrc then
      redis.call('HINCRBY', p .. 'forks', m.src, 1) -- a new fork holds its source
    end
    if m.holdsPath then redis.call('HSET', p .. 'paths', m.path, m.id) end
    redis.call('HSET', p .. 'streams', m.id, m.rec)
    redis.call('HSET', p .. 'tails', m.id, m.tail)
    local max = tonumber(redis.call('HGET', p .. 'meta', 'max_id') or '0')
    if tonumber(m.id) > max then redis.call('HSET', p .. 'meta', 'max_id', m.id) end
    change(m.id, m.rec)
  elseif m.t == 'append' then
    for k, pos in ipairs(m.pos) do
      redis.call('ZADD', p .. 'pos:' .. m.id, pos, pos)
      redis.call('HSET', p .. 'data:' .. m.id, pos, ARGV[m.d[k]])
    end
  elseif m.t == 'prod' then
    redis.call('HSET', p .. 'prod:' .. m.id, m.p, m.v)
  elseif m.t == 'trim' then
    local gone = redis.call('ZRANGEBYSCORE', p .. 'pos:' .. m.id, '-inf', '(' .. m.before)
    for i = 1, #gone, 500 do
      redis.call('HDEL', p .. 'data:' .. m.id, unpack(gone, i, math.min(i + 499, #gone)))
    end
    redis.call('ZREMRANGEBYSCORE', p .. 'pos:' .. m.id, '-inf', '(' .. m.before)
  else -- 'drop'
    local old = redis.call('HGET', p .. 'streams', m.id)
    if old then
      local r = cjson.decode(old)
      unpath(m.id, r.path)
      if readsSource(r) then
        redis.call('HINCRBY', p .. 'forks', string.format('%d', r.forkSourceId), -1)
      end
    end
    redis.call('HDEL', p .. 'streams', m.id)
    redis.call('HDEL', p .. 'tails', m.id)
    redis.call('HDEL', p .. 'forks', m.id)
    redis.call('HDEL', p .. 'access', m.id)
    redis.call('DEL', p .. 'pos:' .. m.id, p .. 'data:' .. m.id, p .. 'prod:' .. m.id)
    change(m.id, false)
  end
end
if #changed > 0 then redis.call('PUBLISH', p .. 'changes', cjson.encode(changed)) end
return {}
