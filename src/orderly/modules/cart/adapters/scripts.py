"""The Lua scripts that change carts in Redis, one atomic step each.

Redis runs a script to the end before serving any other command, so each
rule that depends on the cart's current state (the line limit, the most a
line may hold, a version check) is decided and applied in one step, however
many clients change the same cart at once. The layout they work on is in
docs/cart/data-model.md.

Every script takes the key namespace as ``ARGV[1]``. Two of them derive a key
from a value they read (a customer's cart from their pointer, a pointer from a
cart's owner); that is fine on one Redis server (or a replicated primary) but
not in Redis Cluster, where every key a script touches must be declared.
"""

from __future__ import annotations

# Shared helpers, prepended to every script that needs them.
#   visible(key, caller): the cart exists and the caller may see it. caller is
#     '*' (the system), '' (anonymous) or a customer id.
#   touch(key, ns, cart_id, ttl): extend the cart's life, and its owner's
#     pointer if that still points at it.
_PRELUDE = """
local function visible(key, caller)
  if redis.call('EXISTS', key) == 0 then return false end
  if caller == '*' then return true end
  local own = redis.call('HGET', key, 'own')
  return (not own) or own == caller
end

local function touch(key, ns, cart_id, ttl)
  redis.call('PEXPIRE', key, ttl)
  local own = redis.call('HGET', key, 'own')
  if own then
    local pointer = ns .. 'own:' .. own
    if redis.call('GET', pointer) == cart_id then redis.call('PEXPIRE', pointer, ttl) end
  end
end
"""

# KEYS: cart. ARGV: ns, cart_id, caller, ttl_ms.
READ = (
    _PRELUDE
    + """
if not visible(KEYS[1], ARGV[3]) then return {'not-found'} end
touch(KEYS[1], ARGV[1], ARGV[2], ARGV[4])
return {'ok', redis.call('HGETALL', KEYS[1])}
"""
)

# KEYS: the customer's pointer. ARGV: ns, ttl_ms.
READ_CUSTOMER_CART = (
    _PRELUDE
    + """
local cart_id = redis.call('GET', KEYS[1])
if not cart_id then return {'none'} end
local key = ARGV[1] .. 'c:' .. cart_id
if redis.call('EXISTS', key) == 0 then return {'none'} end
touch(key, ARGV[1], cart_id, ARGV[2])
return {'ok', cart_id, redis.call('HGETALL', key)}
"""
)

# KEYS: the new cart. ARGV: currency, now_ms, ttl_ms.
CREATE_GUEST = """
if redis.call('EXISTS', KEYS[1]) == 1 then return {'id-taken'} end
redis.call('HSET', KEYS[1], 'cur', ARGV[1], 'ver', 1, 'n', 0, 'ca', ARGV[2], 'ua', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'ok', redis.call('HGETALL', KEYS[1])}
"""

# Get or create, in one step, so two first requests of one customer make one cart.
# KEYS: the customer's pointer, the cart to create if they have none.
# ARGV: ns, customer_id, new cart id, currency ('' keeps the cart's), default currency, now_ms, ttl_ms.
OPEN_CUSTOMER_CART = """
local existing = redis.call('GET', KEYS[1])
if existing then
  local key = ARGV[1] .. 'c:' .. existing
  if redis.call('EXISTS', key) == 1 then
    local currency = redis.call('HGET', key, 'cur')
    if ARGV[4] ~= '' and ARGV[4] ~= currency then
      if tonumber(redis.call('HGET', key, 'n')) > 0 then return {'currency-conflict', currency} end
      redis.call('HSET', key, 'cur', ARGV[4], 'ua', ARGV[6])
      redis.call('HINCRBY', key, 'ver', 1)
    end
    redis.call('PEXPIRE', key, ARGV[7])
    redis.call('PEXPIRE', KEYS[1], ARGV[7])
    return {'existing', existing, redis.call('HGETALL', key)}
  end
end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'id-taken'} end
local currency = ARGV[5]
if ARGV[4] ~= '' then currency = ARGV[4] end
redis.call('HSET', KEYS[2], 'cur', currency, 'own', ARGV[2], 'ver', 1, 'n', 0, 'ca', ARGV[6], 'ua', ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[7])
return {'created', ARGV[3], redis.call('HGETALL', KEYS[2])}
"""

# KEYS: cart. ARGV: ns, cart_id, caller, ttl_ms, now_ms, mode (add|set|remove), sku,
# quantity, price_seen, currency the price is in, most per line, most lines.
CHANGE_LINE = (
    _PRELUDE
    + """
if not visible(KEYS[1], ARGV[3]) then return {'not-found'} end
local mode = ARGV[6]
local field = 'l:' .. ARGV[7]
local raw = redis.call('HGET', KEYS[1], field)
local line = nil
local current = 0
if raw then
  line = cjson.decode(raw)
  current = tonumber(line.q)
end
if mode ~= 'remove' and redis.call('HGET', KEYS[1], 'cur') ~= ARGV[10] then return {'stale-currency'} end
local target = tonumber(ARGV[8])
if mode == 'add' then target = current + target end
if mode == 'remove' then target = 0 end
if target == 0 then
  if not line then return {'line-not-found'} end
  redis.call('HDEL', KEYS[1], field)
  redis.call('HINCRBY', KEYS[1], 'n', -1)
else
  if target > tonumber(ARGV[11]) then return {'quantity-limit', current} end
  if not line then
    if tonumber(redis.call('HGET', KEYS[1], 'n')) >= tonumber(ARGV[12]) then return {'line-limit'} end
    redis.call('HINCRBY', KEYS[1], 'n', 1)
  end
end
local version = redis.call('HINCRBY', KEYS[1], 'ver', 1)
if target > 0 then
  local added = version
  if line then added = line.a end
  redis.call('HSET', KEYS[1], field, cjson.encode({q = target, p = ARGV[9], a = added, v = version}))
end
redis.call('HSET', KEYS[1], 'ua', ARGV[5])
touch(KEYS[1], ARGV[1], ARGV[2], ARGV[4])
return {'ok', redis.call('HGETALL', KEYS[1])}
"""
)

# Remove the lines unchanged since the checkout's snapshot; a repeat finds
# nothing more to remove and changes nothing.
# KEYS: cart. ARGV: ns, cart_id, ttl_ms, now_ms, snapshot version.
CHECK_OUT = (
    _PRELUDE
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not-found'} end
local upto = tonumber(ARGV[5])
local fields = redis.call('HGETALL', KEYS[1])
local removed = 0
for i = 1, #fields, 2 do
  local name = fields[i]
  if string.sub(name, 1, 2) == 'l:' and tonumber(cjson.decode(fields[i + 1]).v) <= upto then
    redis.call('HDEL', KEYS[1], name)
    removed = removed + 1
  end
end
if removed > 0 then
  redis.call('HINCRBY', KEYS[1], 'n', -removed)
  redis.call('HINCRBY', KEYS[1], 'ver', 1)
  redis.call('HSET', KEYS[1], 'ua', ARGV[4])
end
touch(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
return {'ok', redis.call('HGETALL', KEYS[1])}
"""
)

# Apply a merge planned from both carts as they were read, only if neither
# changed since: the guest cart at its version, the customer's cart at its
# version (or still absent, target version '0').
# KEYS: guest cart, the customer's pointer, the customer's cart, the merge record.
# ARGV: ns, customer_id, guest version, customer cart id, its version or '0',
# currency, now_ms, ttl_ms, changes (JSON [{s, q, p}]), merge record (JSON).
MERGE = """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'own') == 1
   or redis.call('HGET', KEYS[1], 'ver') ~= ARGV[3] then
  return {'conflict'}
end
local pointer = redis.call('GET', KEYS[2])
if ARGV[5] == '0' then
  if pointer and redis.call('EXISTS', ARGV[1] .. 'c:' .. pointer) == 1 then return {'conflict'} end
  if redis.call('EXISTS', KEYS[3]) == 1 then return {'conflict'} end
  redis.call('HSET', KEYS[3], 'own', ARGV[2], 'ver', 0, 'n', 0, 'ca', ARGV[7])
elseif pointer ~= ARGV[4] or redis.call('HGET', KEYS[3], 'ver') ~= ARGV[5] then
  return {'conflict'}
end
redis.call('HSET', KEYS[3], 'cur', ARGV[6])
local version = redis.call('HINCRBY', KEYS[3], 'ver', 1)
for _, change in ipairs(cjson.decode(ARGV[9])) do
  local field = 'l:' .. change.s
  local raw = redis.call('HGET', KEYS[3], field)
  local added = version
  if raw then
    added = cjson.decode(raw).a
  else
    redis.call('HINCRBY', KEYS[3], 'n', 1)
  end
  redis.call('HSET', KEYS[3], field, cjson.encode({q = change.q, p = change.p, a = added, v = version}))
end
redis.call('HSET', KEYS[3], 'ua', ARGV[7])
redis.call('PEXPIRE', KEYS[3], ARGV[8])
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[8])
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[4], ARGV[10], 'PX', ARGV[8])
return {'ok', redis.call('HGETALL', KEYS[3])}
"""
